"""The referrals of the crisis guard (langcpt.safety) and the checks of its settings: phone-number runs, `Referral`,
`guard_settings`. Standard library only, so that params_schema checks `safety.*` without importing the guard."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .fileio import InputError


def has_number(text: str, number: str) -> bool:
    """`number` (e.g. "112", "0800 111 0 111") appears in `text` as a whole digit run (any whitespace inside)."""
    digits = [re.escape(part) for part in number.split()]
    return re.search(r"(?<!\d)" + r"\s*".join(digits) + r"(?!\d)", text) is not None


_UNIT = re.compile(r"\s*(?:mg|g|kg|ml|l|km|m|cm|euro|eur|€|%|prozent|jahre|tage|stunden|minuten)\b", re.IGNORECASE)
_RUN = re.compile(r"(?<![\w.,])\+?\d(?:[\s\-]?\d)*(?![\w])")


def number_runs(text: str) -> list[tuple[int, int, str]]:
    """(start, end, run) of every phone-number-like digit run of `text`: digits with single whitespaces or hyphens
    inside, at least 3 digits; a 4-digit year (1900-2099) and an amount with a unit (500 mg, 2000 Euro) are not."""
    out = []
    for m in _RUN.finditer(text):
        run = m.group()
        if _UNIT.match(text, m.end()):
            continue
        digits = re.sub(r"\D", "", run)
        if len(digits) < 3 or (len(digits) == 4 and run.isdigit() and 1900 <= int(run) <= 2099):
            continue
        out.append((m.start(), m.start() + len(run), run))
    return out


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


@dataclass
class Referral:
    """What the guard appends for one referral group, and the numbers a reply must give to count as referring."""
    text: str
    numbers: list[str]


def _checked_check_in(value, key: str) -> Referral:
    """A check-in ({text, numbers} or a Referral) whose text is not empty and gives each of its numbers."""
    if isinstance(value, dict) and set(value) == {"text", "numbers"}:
        value = Referral(**value)
    if not isinstance(value, Referral):
        raise InputError(f"{key}: expected {{text: ..., numbers: [...]}}, got {value!r}")
    if not isinstance(value.text, str) or not value.text.strip():
        raise InputError(f"{key}.text: expected a non-empty string")
    if not value.numbers:
        raise InputError(f"{key}.numbers: expected a non-empty list (the numbers a check-in gives)")
    _require_numbers_in_text(value, f"{key}.text")
    return value


def _require_numbers_in_text(ref: Referral, key: str) -> None:
    """InputError naming `key` unless `ref.text` gives each of `ref.numbers` (a reply is checked for all of them)."""
    missing = [n for n in ref.numbers if not has_number(ref.text, n)]
    if missing:
        raise InputError(f"{key}: does not contain {missing} of its numbers; the appended text must give every "
                         "number the guard checks for")


def guard_settings(patterns: list[str], referral: str, referral_numbers: list[str], referrals: dict,
                   check_in: Referral | dict | None, removed_number: str):
    """CrisisGuard's settings checked (InputError naming the `safety.*` key otherwise) and completed: (compiled
    patterns, group -> Referral with suicide, the check-in Referral or None, group -> check-in Referral, the
    digits of every number the guard itself appends)."""
    if not patterns:
        raise InputError("safety.crisis_patterns: expected a non-empty list of regular expressions")
    compiled = []
    for i, pattern in enumerate(patterns):
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as e:
            raise InputError(f"safety.crisis_patterns[{i}]: not a valid regular expression ({e}): {pattern!r}") \
                from None
    if not referral_numbers:
        raise InputError("safety.referral_numbers: expected a non-empty list (the numbers a crisis reply must give)")
    referrals = {"suicide": Referral(referral, list(referral_numbers)),
                 **{g: r if isinstance(r, Referral) else Referral(**r) for g, r in referrals.items()
                    if g != "suicide"}}
    for group, ref in referrals.items():
        key = "safety.referral" if group == "suicide" else f"safety.referrals.{group}.text"
        if not ref.numbers:
            raise InputError(f"{key}: its numbers list is empty (the numbers a crisis reply must give)")
        _require_numbers_in_text(ref, key)
    check_in_groups = {}
    if check_in is not None:
        tier, groups = check_in, {}
        if isinstance(tier, dict):
            groups = tier.get("groups") or {}
            tier = {k: v for k, v in tier.items() if k != "groups"}
        if not isinstance(tier, Referral) and not (isinstance(tier, dict) and set(tier) == {"text", "numbers"}):
            raise InputError("safety.check_in: expected {text: ..., numbers: [...]} or null (no check-in tier; "
                             f"optional: groups), got {check_in!r}")
        check_in = _checked_check_in(tier, "safety.check_in")
        if not isinstance(groups, dict):
            raise InputError(f"safety.check_in.groups: expected {{group: {{text, numbers}}}}, got {groups!r}")
        for group, ref in groups.items():
            if group == "suicide" or group not in referrals:
                raise InputError(f"safety.check_in.groups.{group}: not a group of safety.referrals "
                                 f"{sorted(set(referrals) - {'suicide'})} (suicide: safety.check_in.text)")
            check_in_groups[group] = _checked_check_in(ref, f"safety.check_in.groups.{group}")
    if removed_number and number_runs(removed_number):
        raise InputError("safety.removed_number: must not itself contain a phone number")
    # every number the guard itself appends (referrals, check-ins) is allowed in a reply
    given = [*referrals.values(), *([check_in] if check_in else []), *check_in_groups.values()]
    allowed = {_digits(r) for ref in given for _, _, r in number_runs(ref.text)}
    allowed |= {_digits(n) for ref in given for n in ref.numbers}
    return compiled, referrals, check_in, check_in_groups, allowed
