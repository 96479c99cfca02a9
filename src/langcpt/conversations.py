"""Load, validate and split chat conversations (JSONL) for the SFT stage.

One conversation per line: {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...], ...}.
ShareGPT rows ({"conversations": [{"from": "human"|"gpt"|"system", "value": "..."}, ...]}) are accepted and
normalised to `messages`. Any problem raises InputError naming the file and line.
"""
from __future__ import annotations

import os
import random

from langcpt.fileio import InputError, iter_jsonl

ROLES = ("system", "user", "assistant")
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}


def load_conversations(path: str | os.PathLike) -> list[dict]:
    """Read and validate every conversation in a JSONL file; rows keep their other keys (id, category, ...)."""
    convs = [_validate(row, f"{path}:{lineno}") for lineno, row in iter_jsonl(path)]
    if not convs:
        raise InputError(f"{path}: no conversations found (empty file or only blank lines)")
    return convs


def _from_sharegpt(turns, where: str) -> list[dict]:
    if not isinstance(turns, list):
        raise InputError(f"{where}: 'conversations' must be a list, got {type(turns).__name__}")
    messages = []
    for i, turn in enumerate(turns):
        if not (isinstance(turn, dict) and isinstance(turn.get("from"), str) and isinstance(turn.get("value"), str)):
            raise InputError(f"{where}: conversations[{i}] needs string 'from' and 'value'")
        role = SHAREGPT_ROLES.get(turn["from"].lower())
        if role is None:
            raise InputError(f"{where}: conversations[{i}] has unknown 'from' {turn['from']!r} "
                             f"(allowed: human, gpt, system)")
        messages.append({"role": role, "content": turn["value"]})
    return messages


def _validate(row: dict, where: str) -> dict:
    """Check one row and return it with clean `messages` (ShareGPT `conversations` converted)."""
    row = dict(row)
    if "messages" in row:
        messages = row["messages"]
        if not isinstance(messages, list):
            raise InputError(f"{where}: 'messages' must be a list, got {type(messages).__name__}")
    elif "conversations" in row:
        messages = _from_sharegpt(row.pop("conversations"), where)
    else:
        raise InputError(f"{where}: missing 'messages' (or ShareGPT 'conversations')")
    clean = []
    for i, m in enumerate(messages):
        if not (isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)):
            raise InputError(f"{where}: messages[{i}] needs string 'role' and 'content'")
        role = m["role"]
        if role not in ROLES:
            raise InputError(f"{where}: messages[{i}] has unknown role {role!r} (allowed: {', '.join(ROLES)})")
        if role == "system" and i != 0:
            raise InputError(f"{where}: messages[{i}] is a system message; only the first message may be one")
        if role == "assistant" and not m["content"].strip():
            raise InputError(f"{where}: messages[{i}] is an empty assistant turn")
        clean.append({"role": role, "content": m["content"]})
    if not any(m["role"] == "assistant" for m in clean):
        raise InputError(f"{where}: conversation has no assistant turn")
    row["messages"] = clean
    return row


def split_conversations(convs: list[dict], holdout_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Deterministic train/holdout split, stratified by `category` (rows without one form their own group).

    Each group sends round(n * holdout_fraction) rows to holdout, but at least 1 and at most n - 1 when it has
    n >= 2 rows (a single row stays in train). Both parts keep the input order.
    """
    ok = isinstance(holdout_fraction, (int, float)) and not isinstance(holdout_fraction, bool)
    if not ok or not 0 < holdout_fraction < 1:
        raise InputError(f"holdout_fraction must be a number strictly between 0 and 1, got {holdout_fraction!r}")
    groups: dict = {}
    for i, conv in enumerate(convs):
        category = conv.get("category")
        groups.setdefault(None if category is None else str(category), []).append(i)
    rng = random.Random(seed)
    held = set()
    for category in sorted(groups, key=lambda c: (c is None, c or "")):
        idx = groups[category]
        n = min(max(round(len(idx) * holdout_fraction), 1), len(idx) - 1) if len(idx) >= 2 else 0
        held.update(rng.sample(idx, n))
    train = [c for i, c in enumerate(convs) if i not in held]
    holdout = [c for i, c in enumerate(convs) if i in held]
    return train, holdout
