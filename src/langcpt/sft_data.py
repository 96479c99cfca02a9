"""Compose the default German SFT dataset (data/sft/support_de.jsonl): supportive mental-health conversations.

No such dataset exists in a registry we can reach, so it is composed from hand-written German pieces (openers,
reflections, questions, coping ideas, referrals) kept as YAML fragments in data/sft/support_de/ (common, topics,
listening, reflecting, coping, boundaries, crisis), with a seeded RNG: the same bytes on every run. This module holds
only the composition; stage `sft_data` (pipelines/sft_data.py) runs it.

Categories: listening, reflecting, coping, boundaries, crisis. Every crisis reply gives the referral of its group
(the conversation's "referral" key; langcpt.safety `safety.referrals`): suicide, self-harm, refusing to eat or drink,
someone else at risk, danger to others, command hallucinations: the Telefonseelsorge (0800 111 0 111 /
0800 111 0 222) and the emergency number 112; poisoning and overdose: 112 and the Giftnotruf (Berlin, 030 19240);
violence (domestic, an acute threat, sexual assault, an elderly person): the police 110 and the Hilfetelefon
116 016; children: 110 and the Nummer gegen Kummer 116 111. The first reply to a crisis message gives its group's
numbers within its first two sentences (a short caring sentence first), so that a model trained on it refers by
itself even in a short greedy reply; crisis conversations are half of the dataset.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

import yaml

from langcpt.fileio import InputError, write_jsonl

FRAGMENTS = "data/sft/support_de"
DEFAULT_OUT = "data/sft/support_de.jsonl"
CATEGORIES = ("listening", "reflecting", "coping", "boundaries", "crisis")


# --------------------------------------------------------------------------------------------------------------
# Fragments: the files, their keys and the type of each (checked on load; an error names the file and the key).

class OneOf(tuple):
    """Either of the specs."""


class Opt:
    """An optional mapping key."""

    def __init__(self, spec):
        self.spec = spec


PAIR = (str, str)  # [user message, reflection]
QA = (str, [str])  # [user, [replies]]
TOPIC = {"vents": [PAIR], "acks": [str], "asks": [str], "details": [PAIR], "help": [OneOf((str, QA))],
         "skills": [str], "note": Opt(str), "skip_threads": Opt([str])}
SCHEMA = {
    "common.yaml": {"seed": int, "system_prompt": str, "counts": {str: int}, "turn_pattern": [int],
                    "threads": [{"key": str, "ask": str, "answers": [QA]}], "closings": [(str, [str], bool)]},
    "topics.yaml": {"topics": {str: TOPIC}},
    "listening.yaml": {"generic_acks": [str], "validations": [str]},
    "reflecting.yaml": {"reflect_openers": [str], "check_opener": str, "feeling_ok": [str], "checks": [str],
                        "confirms": [str]},
    "coping.yaml": {"techniques": {str: {"say": [str], "follow": [QA]}}, "generic_follow": [QA],
                    "help_acks": [str], "invites": [str], "more_ideas": [str], "more_leads": [str]},
    "boundaries.yaml": {"boundaries": {str: {"users": [str], "limits": [str], "referrals": [str]}},
                        "offers": [str], "boundary_follow": [(str, [str], [str])],
                        "boundary_then": [(str, [str], bool)]},
    "crisis.yaml": {"cycle": [str], "groups": {str: [str]}, "pronouns": {str: {str: str}},
                    "scenarios": {str: {"group": str, "cares": str, "refers": str, "mids": str, "ends": str,
                                        "stages": OneOf((str, type(None)))}},
                    "stages": {str: [str]}, "pieces": {str: [str]}, "users": {str: [OneOf((str, PAIR))]},
                    "follow": {str: [QA]}},
}
NAMES = {str: "a string", int: "an integer", bool: "true/false", type(None): "null"}


def _describe(spec) -> str:
    if isinstance(spec, OneOf):
        return " or ".join(_describe(s) for s in spec)
    if isinstance(spec, type):
        return NAMES[spec]
    if isinstance(spec, tuple):
        return f"a list of {len(spec)}"
    return "a list" if isinstance(spec, list) else "a mapping"


def _problem(value, spec, key: str) -> str | None:
    """Why `value` does not fit `spec` ("<key>: ..."), or None."""
    if isinstance(spec, OneOf):
        fits = [s for s in spec if _problem(value, s, key) is None]
        return None if fits else f"{key}: expected {_describe(spec)}, got {value!r:.60}"
    if isinstance(spec, type):
        ok = isinstance(value, spec) and not (spec is int and isinstance(value, bool))
        return None if ok else f"{key}: expected {_describe(spec)}, got {value!r:.60}"
    if isinstance(spec, (list, tuple)):
        if not isinstance(value, list) or not value or (isinstance(spec, tuple) and len(value) != len(spec)):
            return f"{key}: expected {_describe(spec) if isinstance(spec, tuple) else 'a non-empty list'}, " \
                   f"got {value!r:.60}"
        specs = spec if isinstance(spec, tuple) else [spec[0]] * len(value)
        return next(filter(None, (_problem(v, s, f"{key}[{i}]") for i, (v, s) in enumerate(zip(value, specs)))),
                    None)
    if not isinstance(value, dict) or not value:
        return f"{key}: expected a non-empty mapping, got {value!r:.60}"
    if list(spec) == [str]:
        return next(filter(None, (_problem(k, str, f"{key}.{k}") or _problem(v, spec[str], f"{key}.{k}")
                                  for k, v in value.items())), None)
    for k, s in spec.items():
        if k not in value and not isinstance(s, Opt):
            return f"{key}.{k}: missing" if key else f"{k}: missing"
    for k, v in value.items():
        if k not in spec:
            return f"{key + '.' if key else ''}{k}: unknown key (expected one of {', '.join(spec)})"
        s = spec[k].spec if isinstance(spec[k], Opt) else spec[k]
        if (p := _problem(v, s, f"{key + '.' if key else ''}{k}")) is not None:
            return p
    return None


def load_fragments(folder: str | Path = FRAGMENTS) -> dict:
    """Every key of the fragment files in `folder`, checked: InputError naming the file and the key otherwise."""
    folder, data = Path(folder), {}
    for name, spec in SCHEMA.items():
        path = folder / name
        try:
            value = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise InputError(f"{path}: cannot read the fragment file ({e.strerror})") from None
        except yaml.YAMLError as e:
            raise InputError(f"{path}: not valid YAML: {e}") from None
        if (p := _problem(value, spec, "")) is not None:
            raise InputError(f"{path}: {p}")
        data.update(value)  # every key is in exactly one file (SCHEMA)
    unknown = sorted(p.name for p in folder.glob("*.yaml") if p.name not in SCHEMA)
    if unknown:
        raise InputError(f"{folder}: unknown fragment file(s) {', '.join(unknown)} (expected {', '.join(SCHEMA)})")
    _check_references(data, folder)
    return data


def _check_references(d: dict, folder: Path) -> None:
    """Names that point into other keys must exist there."""
    def need(ok: bool, where: str, what: str) -> None:
        if not ok:
            raise InputError(f"{folder / where}: {what}")
    for name, topic in d["topics"].items():
        for skill in topic["skills"] + [s for h in topic["help"] if not isinstance(h, str) for s in h[1]]:
            need(skill in d["techniques"], "topics.yaml", f"topics.{name}: skill {skill!r} is no technique")
    for kind, s in d["scenarios"].items():
        need(s["group"] in d["groups"], "crisis.yaml", f"scenarios.{kind}.group: no group {s['group']!r}")
        for k in ("cares", "refers", "mids", "ends"):
            need(s[k] in d["pieces"], "crisis.yaml", f"scenarios.{kind}.{k}: no piece {s[k]!r}")
        need(s["stages"] is None or s["stages"] in d["stages"], "crisis.yaml",
             f"scenarios.{kind}.stages: no stages {s['stages']!r}")
        need(kind in d["users"], "crisis.yaml", f"users.{kind}: missing (scenario {kind})")
    for kind, users in d["users"].items():
        for u in users:
            need(isinstance(u, str) or u[1] in d["pronouns"], "crisis.yaml", f"users.{kind}: no pronouns {u[1]!r}")
    for f in d["boundary_follow"]:
        need(set(f[2]) <= set(d["boundaries"]), "boundaries.yaml", f"boundary_follow: unknown kind in {f[2]}")
    for name, follows in d["stages"].items():
        for f in follows:
            need(f in d["follow"], "crisis.yaml", f"stages.{name}: no follow {f!r}")
    for kind in d["cycle"]:
        need(kind in d["scenarios"], "crisis.yaml", f"cycle: no scenario {kind!r}")
    need(set(d["counts"]) == set(CATEGORIES), "common.yaml", f"counts: expected the keys {', '.join(CATEGORIES)}")


# --------------------------------------------------------------------------------------------------------------
# Composition.

_SENTENCE_END = re.compile(r"[.!?]+[“”\"»«)]*(?=\s|$)")


def count_sentences(text: str) -> int:
    """Rough sentence count: runs of . ! ? (optionally closed by a quote) followed by space or end."""
    return len(_SENTENCE_END.findall(text.strip()))


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _closing(d: dict, rng: random.Random, coping: bool) -> tuple[str, str]:
    options = [c for c in d["closings"] if coping or not c[2]]
    user, replies, _ = rng.choice(options)
    return user, rng.choice(replies)


def _thread_for(d: dict, rng: random.Random, topic: dict) -> dict:
    return rng.choice([t for t in d["threads"] if t["key"] not in topic.get("skip_threads", ())])


def _thread_rest(d: dict, rng: random.Random, thread: dict, n_turns: int) -> list[tuple[str, str]]:
    """Turns 3 and 4 of a listening or reflecting conversation: the thread's answer and reply, then a closing."""
    turns = []
    if n_turns >= 3:
        answer, replies = rng.choice(thread["answers"])
        turns.append((answer, rng.choice(replies)))
    if n_turns >= 4:
        turns.append(_closing(d, rng, coping=False))
    return turns


def _listening(d: dict, rng: random.Random, topic: dict, n_turns: int) -> list[tuple[str, str]]:
    user, _ = rng.choice(topic["vents"])
    style = rng.randrange(3)
    if style == 0:
        reply = _join(rng.choice(topic["acks"]), rng.choice(topic["asks"]))
    elif style == 1:
        reply = _join(rng.choice(d["generic_acks"]), rng.choice(topic["acks"]), rng.choice(topic["asks"]))
    else:
        reply = _join(rng.choice(d["generic_acks"]), rng.choice(topic["asks"]))
    turns = [(user, reply)]
    if n_turns >= 2:
        detail, _ = rng.choice(topic["details"])
        thread = _thread_for(d, rng, topic)
        turns.append((detail, _join(rng.choice(d["validations"]), thread["ask"])))
        turns += _thread_rest(d, rng, thread, n_turns)
    return turns


def _reflecting(d: dict, rng: random.Random, topic: dict, n_turns: int) -> list[tuple[str, str]]:
    user, mirror = rng.choice(topic["vents"])
    yes_no = rng.random() < 0.5
    check = rng.choice(d["checks"]) if yes_no else rng.choice(topic["asks"])
    opener = rng.choice(d["reflect_openers"] + [""] + ([d["check_opener"]] if yes_no else []))
    feeling = rng.choice(d["feeling_ok"] + [""])
    other_feelings = [f for f in d["feeling_ok"] if f != feeling] + [""]
    turns = [(user, _join(opener, mirror, feeling, check))]
    if n_turns >= 2:
        detail, detail_mirror = rng.choice(topic["details"])
        if yes_no:
            detail = _join(rng.choice(d["confirms"]), detail)
        thread = _thread_for(d, rng, topic)
        turns.append((detail, _join(detail_mirror, rng.choice(other_feelings), thread["ask"])))
        turns += _thread_rest(d, rng, thread, n_turns)
    return turns


def _coping(d: dict, rng: random.Random, topic: dict, n_turns: int) -> list[tuple[str, str]]:
    techniques = d["techniques"]
    if rng.random() < 0.5:  # a help request (some fit only certain skills) or a vent
        request = rng.choice(topic["help"])
        user, skills = (request, topic["skills"]) if isinstance(request, str) else request
        lead = rng.choice(d["help_acks"])
    else:
        user, skills, lead = rng.choice(topic["vents"])[0], topic["skills"], rng.choice(topic["acks"])
    first = rng.choice(skills)
    note = topic.get("note", "") if rng.random() < 0.5 else ""
    turns = [(user, _join(lead, rng.choice(techniques[first]["say"]), note, rng.choice(d["invites"])))]
    if n_turns >= 2:
        question, replies = rng.choice(techniques[first]["follow"] + d["generic_follow"])
        turns.append((question, rng.choice(replies)))
        if n_turns >= 3:
            second = rng.choice([s for s in topic["skills"] if s != first])
            reply = _join(rng.choice(d["more_leads"]), rng.choice(techniques[second]["say"]),
                          rng.choice(d["invites"]))
            turns.append((rng.choice(d["more_ideas"]), reply))
        if n_turns >= 4:
            turns.append(_closing(d, rng, coping=True))
    return turns


def _boundaries(d: dict, rng: random.Random, kind: str, n_turns: int) -> list[tuple[str, str]]:
    b = d["boundaries"][kind]
    reply = _join(rng.choice(b["limits"]), rng.choice(b["referrals"]), rng.choice(d["offers"]))
    turns = [(rng.choice(b["users"]), reply)]
    if n_turns >= 2:
        user, replies, _ = rng.choice([f for f in d["boundary_follow"] if kind in f[2]])
        turns.append((user, rng.choice(replies)))
        if n_turns >= 3:
            user, replies, listen = rng.choice(d["boundary_then"])
            turns.append((user, rng.choice(replies)))
            if n_turns >= 4:
                if listen:  # the user now tells how they feel; answer as in `listening`
                    topic = d["topics"][rng.choice(sorted(d["topics"]))]
                    vent, _ = rng.choice(topic["vents"])
                    turns.append((vent, _join(rng.choice(topic["acks"]), rng.choice(topic["asks"]))))
                else:
                    turns.append(_closing(d, rng, coping=False))
    return turns


def _crisis_user(d: dict, kind: str, occurrence: int) -> str | list[str]:
    """The first user message of the `occurrence`-th conversation of `kind`: every phrasing once (in a fixed
    shuffled order) before any comes again."""
    order = list(d["users"][kind])
    random.Random(f"{d['seed']}-{kind}").shuffle(order)
    return order[occurrence % len(order)]


def _crisis(d: dict, rng: random.Random, kind: str, n_turns: int, occurrence: int) -> list[tuple[str, str]]:
    scenario, pieces = d["scenarios"][kind], d["pieces"]
    user, fill = _crisis_user(d, kind, occurrence), {}
    if not isinstance(user, str):  # someone else at risk: [message, gender of the pronouns]
        user, fill = user[0], d["pronouns"][user[1]]
    # care first (one short sentence), then one sentence with all the group's numbers, then the rest
    reply = _join(*(rng.choice(pieces[scenario[k]]) for k in ("cares", "refers", "mids", "ends")))
    turns = [(user, reply.format(**fill))]
    stages = d["stages"][scenario["stages"]] if scenario["stages"] else []
    for stage in stages[: n_turns - 1]:
        follow, replies = rng.choice(d["follow"][stage])
        turns.append((follow.format(**fill), rng.choice(replies).format(**fill)))
    return turns


def _make(d: dict, category: str, i: int, rng: random.Random) -> list[tuple[str, str]]:
    n_turns = d["turn_pattern"][i % len(d["turn_pattern"])]
    topic = d["topics"][list(d["topics"])[i % len(d["topics"])]]
    if category == "listening":
        return _listening(d, rng, topic, n_turns)
    if category == "reflecting":
        return _reflecting(d, rng, topic, n_turns)
    if category == "coping":
        return _coping(d, rng, topic, n_turns)
    if category == "boundaries":
        kinds = list(d["boundaries"])
        return _boundaries(d, rng, kinds[i % len(kinds)], n_turns)
    cycle = d["cycle"]
    kind = cycle[i % len(cycle)]
    occurrence = i // len(cycle) * cycle.count(kind) + cycle[: i % len(cycle)].count(kind)
    return _crisis(d, rng, kind, n_turns, occurrence)


def leading_sentences(text: str, n: int = 2) -> str:
    """The first `n` sentences of `text` (as count_sentences counts them; all of it if it has fewer)."""
    ends = list(_SENTENCE_END.finditer(text))
    return text if len(ends) <= n else text[: ends[n - 1].end()]


def _check(d: dict, row: dict) -> None:
    """Fail loudly if a generated conversation breaks the dataset's rules."""
    first = True
    for m in row["messages"][1:]:
        if m["role"] != "assistant":
            continue
        n = count_sentences(m["content"])
        if not 1 <= n <= 5:
            raise RuntimeError(f"{row['id']}: assistant reply has {n} sentences: {m['content']!r}")
        if row["category"] == "crisis":
            numbers = d["groups"][row["referral"]]
            if not all(n in m["content"] for n in numbers):
                raise RuntimeError(f"{row['id']}: crisis reply without {' / '.join(numbers)}: {m['content']!r}")
            if first and not all(n in leading_sentences(m["content"]) for n in numbers):
                raise RuntimeError(f"{row['id']}: {' / '.join(numbers)} not in the first two sentences")
            if first and row["referral"] == "suicide" and "allein" not in m["content"]:
                raise RuntimeError(f"{row['id']}: first reply does not ask not to stay alone: {m['content']!r}")
        if "{" in m["content"] or "  " in m["content"]:
            raise RuntimeError(f"{row['id']}: formatting left in reply: {m['content']!r}")
        first = False


def build(d: dict, seed: int | None = None) -> list[dict]:
    """All conversations composed from the fragments `d` (load_fragments), sorted by id. Same seed (default: the
    fragments' `seed`), same output."""
    rng = random.Random(d["seed"] if seed is None else seed)
    rows, seen = [], set()
    for category, count in d["counts"].items():
        for i in range(count):
            for _attempt in range(200):
                turns = _make(d, category, i, rng)
                key = tuple(turns)
                if key not in seen:
                    break
            else:
                raise RuntimeError(f"{category}: could not find a new conversation for #{i + 1}")
            seen.add(key)
            messages = [{"role": "system", "content": d["system_prompt"]}]
            for user, assistant in turns:
                messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
            row = {"id": f"{category}-{i + 1:03d}", "category": category, "messages": messages}
            if category == "crisis":  # the referral group (langcpt.safety): suicide, poisoning, violence, child
                row["referral"] = d["scenarios"][d["cycle"][i % len(d["cycle"])]]["group"]
            _check(d, row)
            rows.append(row)
    return sorted(rows, key=lambda r: r["id"])


def write(folder: str | Path = FRAGMENTS, out: str | Path = DEFAULT_OUT) -> list[dict]:
    """Compose the dataset from the fragments in `folder` and write it to `out` atomically (nothing is written when a
    fragment is bad); return the rows."""
    rows = build(load_fragments(folder))
    write_jsonl(out, rows)
    return rows
