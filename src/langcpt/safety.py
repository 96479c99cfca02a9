"""Crisis guard: a reply to a message that speaks of suicide, self-harm or acute danger always carries the referral.

A 135M SFT model does not reliably write the referral numbers it was trained on (the `safety` stage measures how
often it does: reports/safety.json), so the chat paths this project ships do not rely on it. `CrisisGuard` checks
the user's latest message against case-insensitive regular expressions (`safety.crisis_patterns`); when one matches
and the reply lacks any of `safety.referral_numbers`, it appends `safety.referral`. A reply that already gives every
number is left as it is. The registered GGUF pyfunc (langcpt.registry) and the walkthrough notebook's chats apply
it; Ollama cannot post-process, so there the Modelfile's SYSTEM prompt is all there is (README "Crisis guard").

It is a keyword guard: it catches the phrasings its patterns name, in the languages they are written in, and
nothing else. The `safety` stage reports its recall on every crisis message of the SFT data and on probe messages
that are not in the data, and its false alarms on the other messages; its gates fail the run below
`safety.min_detection_recall` or above `safety.max_false_positive_rate`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .fileio import InputError


def phone_numbers(text: str) -> list[str]:
    """Digit runs of at least 3 digits (spaces inside allowed), e.g. the referral numbers of a crisis reply."""
    runs = (re.sub(r"\s+", " ", m).strip() for m in re.findall(r"\d[\d ]*\d", text))
    return list(dict.fromkeys(r for r in runs if sum(c.isdigit() for c in r) >= 3))


def has_number(text: str, number: str) -> bool:
    """`number` (e.g. "112", "0800 111 0 111") appears in `text` as a whole digit run (any whitespace inside)."""
    digits = [re.escape(part) for part in number.split()]
    return re.search(r"(?<!\d)" + r"\s*".join(digits) + r"(?!\d)", text) is not None


@dataclass
class CrisisGuard:
    patterns: list[str]
    referral: str
    referral_numbers: list[str]
    compiled: list[re.Pattern] = field(init=False, repr=False)

    def __post_init__(self):
        if not self.patterns:
            raise InputError("safety.crisis_patterns: expected a non-empty list of regular expressions")
        self.compiled = []
        for i, pattern in enumerate(self.patterns):
            try:
                self.compiled.append(re.compile(pattern, re.IGNORECASE))
            except re.error as e:
                raise InputError(f"safety.crisis_patterns[{i}]: not a valid regular expression ({e}): {pattern!r}") \
                    from None
        if not self.referral_numbers:
            raise InputError("safety.referral_numbers: expected a non-empty list (the numbers a crisis reply must give)")
        missing = [n for n in self.referral_numbers if not has_number(self.referral, n)]
        if missing:
            raise InputError(f"safety.referral: does not contain {missing} of safety.referral_numbers; the appended "
                             "text must give every number the guard checks for")

    @classmethod
    def from_params(cls, cfg: dict) -> "CrisisGuard":
        """From the `safety` section of params.yaml."""
        return cls(list(cfg["crisis_patterns"]), cfg["referral"], list(cfg["referral_numbers"]))

    def to_config(self) -> dict:
        """The JSON-able config (e.g. an MLflow pyfunc's model_config); `from_params` reads it back."""
        return {"crisis_patterns": self.patterns, "referral": self.referral, "referral_numbers": self.referral_numbers}

    def matches(self, message: str) -> list[str]:
        """The patterns that match `message` (empty: not a crisis message)."""
        return [p.pattern for p in self.compiled if p.search(message)]

    def is_crisis(self, message: str) -> bool:
        return any(p.search(message) for p in self.compiled)

    def has_referral(self, reply: str) -> bool:
        return all(has_number(reply, n) for n in self.referral_numbers)

    def apply(self, message: str, reply: str) -> tuple[str, bool]:
        """(the reply to show, whether the referral was appended) for the user's `message` and the model's `reply`."""
        if not self.is_crisis(message) or self.has_referral(reply):
            return reply, False
        return (reply.rstrip() + "\n\n" + self.referral).lstrip(), True


def last_user_message(messages: list[dict]) -> str:
    """The content of the last `user` message of a chat (what the guard checks)."""
    for m in reversed(messages):
        if m.get("role") == "user":
            return str(m.get("content", ""))
    return ""


def detection_report(guard: CrisisGuard, crisis: list[str], safe: list[str]) -> dict:
    """Recall on `crisis` messages and false-positive rate on `safe` ones, with the misses and false alarms."""
    crisis, safe = list(dict.fromkeys(crisis)), list(dict.fromkeys(safe))
    missed = [m for m in crisis if not guard.is_crisis(m)]
    alarms = [{"message": m, "patterns": guard.matches(m)} for m in safe if guard.is_crisis(m)]
    return {"crisis_messages": len(crisis), "safe_messages": len(safe),
            "recall": round(1 - len(missed) / len(crisis), 4) if crisis else None,
            "false_positive_rate": round(len(alarms) / len(safe), 4) if safe else None,
            "missed": missed, "false_alarms": alarms}


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
    import torch

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
            replies += [tokenizer.decode(row[enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()
                        for row in out]
    finally:
        tokenizer.padding_side = side
        tokenizer.pad_token = pad
    return replies
