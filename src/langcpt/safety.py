"""Crisis guard: a reply to a crisis message always carries the referral that fits it (README "Crisis safety").

A 135M SFT model does not reliably write the referral numbers it was trained on (the `safety` stage measures how
often it does), so the chat paths this project ships do not rely on it. `CrisisGuard` flags the user's latest message
in two layers: case-insensitive regular expressions (`safety.crisis_patterns`), then the learned detector of the
`detector` stage (langcpt.crisis_detector, `safety.detector`), which also names the referral group (suicide,
poisoning, violence, child). Its answer has two tiers:
- emergency: a pattern matches, or the detector's score reaches its high threshold (`emergency_threshold` of
  detector.json, calibrated on dev for at most `safety.detector.emergency_max_false_positive_rate` false emergency
  referrals). When the reply lacks that group's numbers, the guard appends `safety.referral` (suicide) or
  `safety.referrals.<group>.text` (112, police, ...);
- check-in: no pattern, a score between the lower threshold (`threshold`, calibrated on dev for recall) and the high
  one. When the reply lacks its numbers, the guard appends `safety.check_in.text`: it asks how the person is and
  names the TelefonSeelsorge, without 112 or the police; a detected group with a check-in of its own
  (`safety.check_in.groups.<group>`: poisoning, the Giftnotruf; violence, the Hilfetelefon; child, the Nummer gegen
  Kummer) gets that one instead. `safety.check_in: null` turns this tier off: one tier,
  every message over the lower threshold gets the emergency referral (as before the two tiers).
Every phone number of a reply that no referral (nor the check-in) gives (an invented number) is replaced by
`safety.removed_number`. The registered GGUF pyfunc (langcpt.registry), the walkthrough notebook's chats
and a server (`load_guard(params)`, then `guard.apply(user_message, reply)`) apply it; Ollama cannot post-process.

The `safety` stage reports on the frozen test set (data/safety/test_de.jsonl) its recall (crisis messages that got
either tier), its false emergency referrals (non-crisis messages that got the emergency tier), and beside them the
emergency recall and the check-in rate on non-crisis messages; it gates on the first two:
`safety.min_detection_recall`, `safety.max_false_positive_rate`. A demonstration, not a clinical tool.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .fileio import InputError
from .referrals import Referral, _digits, guard_settings, has_number, number_runs


def phone_numbers(text: str) -> list[str]:
    """Digit runs of at least 3 digits (spaces inside allowed), e.g. the referral numbers of a crisis reply."""
    runs = (re.sub(r"\s+", " ", m).strip() for m in re.findall(r"\d[\d ]*\d", text))
    return list(dict.fromkeys(r for r in runs if sum(c.isdigit() for c in r) >= 3))


@dataclass
class CrisisGuard:
    """Layered crisis detection and the answer that fits: an emergency referral or a check-in.

    Layer 1: case-insensitive regular expressions (`patterns`). Layer 2 (optional): the learned detector
    (langcpt.crisis_detector; its probability against its two dev-calibrated thresholds). A message either layer
    flags is a crisis message (`is_crisis`, `detect(...)["crisis"]`: either tier). Tier "emergency": a pattern
    matches or the score >= the detector's `emergency_threshold`; its referral group comes from the detector
    (suicide when there is none). Tier "check_in": no pattern, the score >= `threshold` but below the emergency
    threshold; `check_in` is appended instead, or the check-in of its group (`check_in["groups"]`, optional: the
    group's service, without 112; None: no check-in tier, such a message gets the emergency referral).
    `apply` also replaces every phone number of a reply that no referral or check-in gives (an invented number) by
    `removed_number`."""
    patterns: list[str]
    referral: str
    referral_numbers: list[str]
    referrals: dict = field(default_factory=dict)  # group -> Referral (suicide: referral / referral_numbers)
    detector: object = None  # a langcpt.crisis_detector.CrisisDetector, or None (patterns only)
    removed_number: str = "[Nummer entfernt]"
    detector_config: dict | None = None
    check_in: Referral | dict | None = None  # the check-in tier's text and numbers (safety.check_in); None: one tier
    check_in_groups: dict = field(init=False)  # group -> Referral: the check-in of a group (safety.check_in.groups)
    compiled: list[re.Pattern] = field(init=False, repr=False)

    def __post_init__(self):
        self.compiled, self.referrals, self.check_in, self.check_in_groups, self.allowed = guard_settings(
            self.patterns, self.referral, self.referral_numbers, self.referrals, self.check_in, self.removed_number)

    @classmethod
    def from_params(cls, cfg: dict, detector: bool = True, root=None) -> "CrisisGuard":
        """From the `safety` section of params.yaml (or `to_config`'s dict). `detector`: load the learned layer
        named by `safety.detector.path` (an InputError naming the file when it is missing; a relative path is
        relative to `root`, default the working directory: the repository root of a stage); False: patterns only."""
        det, det_cfg = None, cfg.get("detector") or None
        if detector and det_cfg and det_cfg.get("enabled", True) and det_cfg.get("path"):
            from pathlib import Path

            from .crisis_detector import CrisisDetector

            path = Path(det_cfg["path"])
            det = CrisisDetector.load(Path(root) / path if root is not None and not path.is_absolute() else path)
        return cls(list(cfg["crisis_patterns"]), cfg["referral"], list(cfg["referral_numbers"]),
                   referrals=dict(cfg.get("referrals") or {}), detector=det,
                   removed_number=cfg.get("removed_number", "[Nummer entfernt]"), detector_config=det_cfg,
                   check_in=cfg.get("check_in"))

    def to_config(self) -> dict:
        """The JSON-able config (e.g. an MLflow pyfunc's model_config); `from_params` reads it back. The detector
        is named by its path (the pyfunc logs the file as an artifact and points the path at it)."""
        out = {"crisis_patterns": self.patterns, "referral": self.referral, "referral_numbers": self.referral_numbers,
               "referrals": {g: {"text": r.text, "numbers": r.numbers} for g, r in self.referrals.items()
                             if g != "suicide"},
               "removed_number": self.removed_number,
               "check_in": None if self.check_in is None else {
                   "text": self.check_in.text, "numbers": self.check_in.numbers,
                   "groups": {g: {"text": r.text, "numbers": r.numbers} for g, r in self.check_in_groups.items()}}}
        if self.detector is not None:
            out["detector"] = {"path": str(self.detector.source)}
        return out

    def matches(self, message: str) -> list[str]:
        """The patterns that match `message` (empty: the first layer does not flag it)."""
        return [p.pattern for p in self.compiled if p.search(message)]

    def detect(self, message: str) -> dict:
        """{"crisis": either tier, "tier": "emergency" | "check_in" | None, "group": the referral group of its answer
        (the detector's, suicide when there is none or it has no referral; None when no tier), "patterns": [...],
        "score": detector P or None}."""
        patterns = self.matches(message)
        score, group, tier = None, None, None
        if self.detector is not None:
            score, groups = self.detector.scores(message)
            group = max(groups, key=groups.get)
            tier = self.detector.tier(score)
        if patterns or (tier == "check_in" and self.check_in is None):
            tier = "emergency"
        if group is None or group not in self.referrals:
            group = "suicide"
        return {"crisis": tier is not None, "tier": tier, "group": group if tier else None,
                "patterns": patterns, "score": None if score is None else round(score, 4)}

    def answer(self, found: dict) -> Referral | None:
        """What the guard appends for a `detect` result: its group's referral (emergency), its group's check-in or
        the check-in (check-in tier), or None."""
        if found["tier"] == "emergency":
            return self.referrals[found["group"]]
        return self.check_in_groups.get(found["group"], self.check_in) if found["tier"] == "check_in" else None

    def gives_answer(self, reply: str, found: dict) -> bool:
        """`reply` gives every number of what its `detect` result needs (True when it needs nothing)."""
        ref = self.answer(found)
        return ref is None or all(has_number(reply, n) for n in ref.numbers)

    def is_crisis(self, message: str) -> bool:
        """Either tier (emergency or check-in): a pattern matches or the score reaches the lower threshold."""
        if any(p.search(message) for p in self.compiled):
            return True
        return self.detector is not None and self.detector.is_crisis(message)

    def has_referral(self, reply: str, group: str = "suicide") -> bool:
        return all(has_number(reply, n) for n in self.referrals[group].numbers)

    def invented_numbers(self, reply: str) -> list[str]:
        """The phone-number-like runs of `reply` that no referral gives (a run of several allowed numbers side by
        side, e.g. "112 0800 111 0 111", is allowed)."""
        return [run for _, _, run in number_runs(reply) if not self._allowed_run(run)]

    def _allowed_run(self, run: str) -> bool:
        parts = [_digits(p) for p in run.split() if _digits(p)]
        ok = [True] + [False] * len(parts)  # ok[i]: parts[:i] split into allowed numbers
        for i in range(len(parts)):
            if ok[i]:
                for j in range(i + 1, len(parts) + 1):
                    if "".join(parts[i:j]) in self.allowed:
                        ok[j] = True
        return ok[-1]

    def strip_invented(self, reply: str) -> tuple[str, int]:
        """(`reply` with every invented number replaced by `removed_number`, how many were replaced)."""
        runs = [(s, e) for s, e, run in number_runs(reply) if not self._allowed_run(run)]
        for s, e in reversed(runs):
            reply = reply[:s] + self.removed_number + reply[e:]
        return reply, len(runs)

    def apply(self, message: str, reply: str, found: dict | None = None) -> tuple[str, bool]:
        """(the reply to show, whether a referral or check-in was appended) for the user's `message` and the model's
        `reply`: invented numbers replaced; for a message of the emergency tier, the referral of its group appended
        unless the reply already gives all of that referral's numbers; for one of the check-in tier, the check-in
        text appended unless the reply already gives all of its numbers (`detect(message)["tier"]` says which).
        `found`: `detect(message)` when the caller already has it (it is not detected again)."""
        shown, _ = self.strip_invented(reply)
        found = self.detect(message) if found is None else found
        if self.gives_answer(shown, found):
            return shown, False
        return (shown.rstrip() + "\n\n" + self.answer(found).text).lstrip(), True


def last_user_message(messages: list[dict]) -> str:
    """The content of the last `user` message of a chat (what the guard checks)."""
    for m in reversed(messages):
        if m.get("role") == "user":
            return str(m.get("content", ""))
    return ""


def detection_report(guard: CrisisGuard, crisis: list[str], safe: list[str]) -> dict:
    """Recall (either tier) on `crisis` messages and the false emergency referral rate on `safe` ones (with the
    share of them that got the check-in), with the misses, the false alarms (emergency) and the check-ins."""
    crisis, safe = list(dict.fromkeys(crisis)), list(dict.fromkeys(safe))
    missed = [m for m in crisis if not guard.is_crisis(m)]
    tiers = {m: guard.detect(m)["tier"] for m in safe}
    alarms = [{"message": m, "patterns": guard.matches(m)} for m in safe if tiers[m] == "emergency"]
    check_ins = [m for m in safe if tiers[m] == "check_in"]
    return {"crisis_messages": len(crisis), "safe_messages": len(safe),
            "recall": round(1 - len(missed) / len(crisis), 4) if crisis else None,
            "false_positive_rate": round(len(alarms) / len(safe), 4) if safe else None,
            "safe_check_in_rate": round(len(check_ins) / len(safe), 4) if safe else None,
            "missed": missed, "false_alarms": alarms, "safe_check_ins": check_ins}


def evaluate_guard(guard: CrisisGuard, rows: list[dict]) -> dict:
    """The guard on labelled messages (langcpt.crisis_detector.load_labelled), nothing hidden:
    - `recall`: the share of the crisis messages that got either tier (emergency referral or check-in);
      `emergency_recall`: the share that got the emergency referral;
    - `false_positive_rate`: the share of the other messages that got an emergency referral (false alarms, what
      `safety.max_false_positive_rate` gates); `safe_check_in_rate`: the share of them that got the check-in;
    - per fine category: `flagged` (either tier), `emergency`, `check_in`, `rate` (flagged / messages);
    - `group_accuracy`: how often the referral group of an emergency-tier crisis message is the one its category
      needs; every miss (`missed`), false alarm (`false_alarms`), crisis message that got only the check-in
      (`crisis_check_ins`) and non-crisis message that got the check-in (`safe_check_ins`; both with the group whose
      check-in it got)."""
    from .crisis_detector import CATEGORY_GROUPS

    per, missed, alarms, group_right, emergency_crisis = {}, [], [], 0, 0
    crisis_check_ins, safe_check_ins = [], []
    for r in rows:
        found = guard.detect(r["text"])
        tier = found["tier"]
        c = per.setdefault(r["category"], {"crisis": r["crisis"], "messages": 0, "flagged": 0, "emergency": 0,
                                           "check_in": 0})
        c["messages"] += 1
        c["flagged"] += found["crisis"]
        c["emergency"] += tier == "emergency"
        c["check_in"] += tier == "check_in"
        seen = {"category": r["category"], "message": r["text"], "score": found["score"]}
        if r["crisis"] and tier is None:
            missed.append(seen)
        elif r["crisis"] and tier == "check_in":
            crisis_check_ins.append({**seen, "group": found["group"]})  # the group whose check-in it got
        elif r["crisis"]:
            emergency_crisis += 1
            group_right += found["group"] == CATEGORY_GROUPS.get(r["category"], "suicide")
        elif tier == "emergency":
            alarms.append({**seen, "patterns": found["patterns"], "group": found["group"]})
        elif tier == "check_in":
            safe_check_ins.append({**seen, "group": found["group"]})
    n_crisis = sum(r["crisis"] for r in rows)
    n_safe = len(rows) - n_crisis
    for c in per.values():
        c["rate"] = round(c["flagged"] / c["messages"], 4)
    return {"crisis_messages": n_crisis, "safe_messages": n_safe,
            "recall": round(1 - len(missed) / n_crisis, 4) if n_crisis else None,
            "emergency_recall": round(emergency_crisis / n_crisis, 4) if n_crisis else None,
            "false_positive_rate": round(len(alarms) / n_safe, 4) if n_safe else None,
            "safe_check_in_rate": round(len(safe_check_ins) / n_safe, 4) if n_safe else None,
            "group_accuracy": round(group_right / emergency_crisis, 4) if emergency_crisis else None,
            "per_category": dict(sorted(per.items(), key=lambda kv: (not kv[1]["crisis"], kv[0]))),
            "missed": missed, "false_alarms": alarms, "crisis_check_ins": crisis_check_ins,
            "safe_check_ins": safe_check_ins}


def conversation_messages(conversations: list[dict]) -> tuple[list[str], list[str]]:
    """(crisis, safe) user messages of SFT conversations: the first user message of each `crisis` conversation (its
    follow-ups, e.g. "Ich habe Angst, da anzurufen.", are not crisis messages by themselves), and every user message
    of the other categories. Distinct, in file order."""
    crisis, safe = [], []
    for conv in conversations:
        users = [m["content"] for m in conv["messages"] if m.get("role") == "user"]
        if conv.get("category") == "crisis":
            crisis += users[:1]
        else:
            safe += users
    return list(dict.fromkeys(crisis)), list(dict.fromkeys(safe))


def load_probes(path) -> dict[str, list[str]]:
    """{"crisis": [...], "safe": [...]} from a JSON file; a wrong shape is an InputError naming the file and key."""
    import json
    from pathlib import Path

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: not found (safety.probes)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    out = {}
    for key in ("crisis", "safe"):
        value = data.get(key) if isinstance(data, dict) else None
        if not isinstance(value, list) or not all(isinstance(m, str) and m.strip() for m in value):
            raise InputError(f"{path}: key {key!r}: expected a list of non-empty strings")
        out[key] = value
    return out


def chat_replies(model, tokenizer, messages: list[str], system: str | None, max_new_tokens: int,
                 batch_size: int = 16) -> list[str]:
    """Greedy replies of a chat model to single user `messages` (with the `system` prompt), batched with left
    padding; the same prompt text as langcpt.evaluation.generate(chat=True)."""
    return [text for text, _ in chat_generate(model, tokenizer, messages, system, max_new_tokens, batch_size)]


def chat_generate(model, tokenizer, messages: list[str], system: str | None, max_new_tokens: int,
                  batch_size: int = 16) -> list[tuple[str, bool]]:
    """chat_replies' replies with, for each, whether the model ended it with an end token (the generation config's
    EOS ids or the tokenizer's) before `max_new_tokens` ran out."""
    import torch

    eos = model.generation_config.eos_token_id
    stop_ids = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id}
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    pad = tokenizer.pad_token
    if pad is None:  # Llama 3 tokenizers name no pad token: pad with EOS (left padding is masked out)
        tokenizer.pad_token = tokenizer.eos_token
    replies = []
    try:
        for i in range(0, len(messages), batch_size):
            texts = [tokenizer.apply_chat_template(
                ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": m}],
                tokenize=False, add_generation_prompt=True) for m in messages[i:i + batch_size]]
            enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.no_grad():
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     repetition_penalty=1.2, pad_token_id=tokenizer.pad_token_id)
            replies += [(tokenizer.decode(row, skip_special_tokens=True).strip(), any(t in stop_ids for t in row))
                        for row in out[:, enc["input_ids"].shape[1]:].tolist()]
    finally:
        tokenizer.padding_side = side
        tokenizer.pad_token = pad
    return replies


def load_guard(params: dict, root=None) -> CrisisGuard:
    """The crisis guard of a whole params dict (params.yaml) or of its `safety` section: what a chat server calls
    once at start; then `shown, appended = guard.apply(user_message, reply)` for every reply (`appended`: the
    emergency referral or the check-in; `guard.detect(user_message)["tier"]` says which). `root`: the
    repository the detector path is relative to (default: the working directory)."""
    cfg = params.get("safety", params) if isinstance(params, dict) else None
    if not isinstance(cfg, dict):
        raise InputError("safety: expected a mapping (the `safety` section of params.yaml)")
    return CrisisGuard.from_params(cfg, root=root)
