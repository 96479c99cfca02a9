"""The learned layer of the crisis guard: logistic regression on character and word n-gram TF-IDF of a message.

Two linear models share one feature space: `crisis` (is this a crisis message; a probability, compared with the
two thresholds calibrated on the dev set: `threshold`, the lower one, where the check-in tier starts, and
`emergency_threshold`, where the emergency referral starts; langcpt.safety) and `group` (which referral fits:
suicide, poisoning, violence, child; softmax). They are fitted with scikit-learn (`fit`, stage `detector`) and
stored as plain JSON (feature -> idf and weights, intercepts, thresholds), never as a pickle: `CrisisDetector.load`
reads it back with the standard library only, and scores a message in pure Python, so the registered GGUF pyfunc, a
chat server and the HF path run the same detector without scikit-learn. `tests/test_crisis_detector.py` checks that
its scores equal scikit-learn's.

Labelled messages (data/safety/*.jsonl): one JSON object a line, {"id", "text", "crisis": bool, "category"}; the
category is a fine label (suicide_plan, domestic_violence, idiom, grief, ...); CATEGORY_GROUPS maps each crisis
category to the referral group it needs.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

from .fileio import InputError

FORMAT = "langcpt-crisis-detector/1"
GROUPS = ("suicide", "poisoning", "violence", "child")
# fine crisis category -> referral group (safety.referrals.<group>)
CATEGORY_GROUPS = {
    "suicide_direct": "suicide", "suicide_plan": "suicide", "farewell": "suicide", "giving_away": "suicide",
    "passive_wish": "suicide", "method": "suicide", "dangerous_place": "suicide", "self_harm": "suicide",
    "refusing_food": "suicide", "other_in_danger": "suicide", "danger_to_others": "suicide",
    "command_hallucination": "suicide", "crisis": "suicide",
    "overdose_poisoning": "poisoning",
    "domestic_violence": "violence", "acute_threat": "violence", "sexual_assault": "violence",
    "elder_abuse": "violence",
    "child_abuse": "child", "child_sexual_abuse": "child",
}
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "’": "'", "`": "'"})
_NON_WORD = re.compile(r"[^0-9a-z']+")


def normalize(text: str) -> str:
    """Lower case, umlauts folded (ä -> ae, so "moechte" and "möchte" share n-grams), punctuation -> space."""
    return " ".join(_NON_WORD.sub(" ", text.lower().translate(_FOLD)).split())


def features(text: str, char_ngrams: tuple[int, int] = (2, 5), word_ngrams: tuple[int, int] = (1, 2)) -> list[str]:
    """The n-grams of a message: character n-grams inside each word padded with spaces (" ich ", "ich", ...) and
    word n-grams prefixed "w:" ("w:nicht mehr")."""
    words = normalize(text).split()
    out = []
    lo, hi = char_ngrams
    for w in words:
        w = f" {w} "
        for n in range(lo, hi + 1):
            if len(w) < n:
                break
            out += [w[i:i + n] for i in range(len(w) - n + 1)]
    lo, hi = word_ngrams
    for n in range(lo, hi + 1):
        out += ["w:" + " ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    return out


def load_labelled(path) -> list[dict]:
    """Labelled messages of a .jsonl file ({"text", "crisis", "category"} a line) or of a probes .json file
    ({"crisis": [...], "safe": [...]}, category "crisis"/"safe"). Bad input: InputError naming the file and line."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: not found (labelled crisis messages)") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 ({e})") from None
    if path.suffix == ".json":
        from .safety import load_probes

        probes = load_probes(path)
        return [{"id": f"{k}-{i + 1}", "text": t, "crisis": k == "crisis", "category": k}
                for k in ("crisis", "safe") for i, t in enumerate(probes[k])]
    rows = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{n}: not valid JSON ({e})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
            raise InputError(f"{path}:{n}: expected an object with a non-empty string 'text'")
        if not isinstance(row.get("crisis"), bool):
            raise InputError(f"{path}:{n}: key 'crisis': expected true or false")
        if not isinstance(row.get("category"), str):
            raise InputError(f"{path}:{n}: key 'category': expected a string")
        if row["crisis"] and row["category"] not in CATEGORY_GROUPS:
            raise InputError(f"{path}:{n}: crisis category {row['category']!r} is not one of "
                             f"{sorted(CATEGORY_GROUPS)}")
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no labelled message")
    return rows


def file_sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


class CrisisDetector:
    """A fitted detector (the JSON of `to_json`): `score(text)` is P(crisis), `group(text)` the referral group."""

    def __init__(self, data: dict, source: str = "detector"):
        self.source = source
        need = {"format": str, "char_ngrams": list, "word_ngrams": list, "groups": list, "features": dict,
                "crisis_intercept": (int, float), "group_intercepts": list, "threshold": (int, float)}
        for key, kind in need.items():
            if not isinstance(data.get(key), kind):
                raise InputError(f"{source}: key {key!r}: missing or of the wrong type")
        if data["format"] != FORMAT:
            raise InputError(f"{source}: key 'format': {data['format']!r}, expected {FORMAT!r}")
        self.groups = list(data["groups"])
        width = 2 + len(self.groups)  # idf, crisis weight, one weight per group
        if len(data["group_intercepts"]) != len(self.groups):
            raise InputError(f"{source}: key 'group_intercepts': expected {len(self.groups)} numbers")
        for name, row in data["features"].items():
            if not isinstance(row, list) or len(row) != width:
                raise InputError(f"{source}: key 'features': {name!r}: expected [idf, crisis weight, "
                                 f"{len(self.groups)} group weights]")
        if isinstance(data["threshold"], bool) or not 0 <= data["threshold"] <= 1:
            raise InputError(f"{source}: key 'threshold': {data['threshold']!r} is not a number in [0, 1]")
        # a file of before the two tiers has no emergency threshold: one tier, everything over `threshold` gets the
        # emergency referral (as it did then)
        high = data.get("emergency_threshold", data["threshold"])
        if isinstance(high, bool) or not isinstance(high, (int, float)) or not data["threshold"] <= high <= 1:
            raise InputError(f"{source}: key 'emergency_threshold': {high!r} is not a number in "
                             f"[threshold {data['threshold']}, 1]")
        self.data = data
        self.char_ngrams = tuple(data["char_ngrams"])
        self.word_ngrams = tuple(data["word_ngrams"])
        self.threshold = float(data["threshold"])  # any tier (the check-in tier starts here)
        self.emergency_threshold = float(high)  # the emergency tier

    @classmethod
    def load(cls, path) -> "CrisisDetector":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{path}: not found (safety.detector.path; the `detector` stage writes it)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: not valid JSON ({e})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object")
        return cls(data, str(path))

    def _vector(self, text: str) -> dict[str, float]:
        """The L2-normalised sublinear TF-IDF of `text` over the stored features (scikit-learn's formula)."""
        counts: dict[str, int] = {}
        table = self.data["features"]
        for f in features(text, self.char_ngrams, self.word_ngrams):
            if f in table:
                counts[f] = counts.get(f, 0) + 1
        vec = {f: (1 + math.log(c)) * table[f][0] for f, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {f: v / norm for f, v in vec.items()} if norm else {}

    def scores(self, text: str) -> tuple[float, dict[str, float]]:
        """(P(crisis), {group: P(group | crisis)})."""
        vec, table = self._vector(text), self.data["features"]
        z = self.data["crisis_intercept"] + sum(v * table[f][1] for f, v in vec.items())
        logits = [b + sum(v * table[f][2 + k] for f, v in vec.items())
                  for k, b in enumerate(self.data["group_intercepts"])]
        top = max(logits)
        exp = [math.exp(x - top) for x in logits]
        return _sigmoid(z), {g: e / sum(exp) for g, e in zip(self.groups, exp)}

    def score(self, text: str) -> float:
        return self.scores(text)[0]

    def group(self, text: str) -> str:
        probs = self.scores(text)[1]
        return max(probs, key=probs.get)

    def is_crisis(self, text: str) -> bool:
        """Any tier: the score reaches the lower threshold."""
        return self.score(text) >= self.threshold

    def tier(self, score: float) -> str | None:
        """"emergency" (score >= emergency_threshold), "check_in" (>= threshold, below it) or None."""
        return "emergency" if score >= self.emergency_threshold else "check_in" if score >= self.threshold else None


def fit_models(texts: list[str], crisis: list[bool], groups: list[str | None], c: float = 1.0, min_df: int = 2,
               char_ngrams: tuple[int, int] = (2, 5), word_ngrams: tuple[int, int] = (1, 2), seed: int = 0):
    """The fitted scikit-learn objects (vectorizer, crisis model, group model). `groups`: the referral group of
    each crisis message (None for the others, and for crisis messages of no known group: those train the crisis
    model only)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer=lambda t: features(t, char_ngrams, word_ngrams), sublinear_tf=True,
                          min_df=min_df, norm="l2", smooth_idf=True)
    x = vec.fit_transform(texts)
    binary = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=seed).fit(
        x, np.array(crisis, dtype=int))
    rows = [i for i, g in enumerate(groups) if crisis[i] and g is not None]
    missing = sorted(set(GROUPS) - {groups[i] for i in rows})
    if missing:
        raise InputError(f"detector training data: no crisis message of referral group(s) {missing}")
    multi = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=seed).fit(
        x[rows], [GROUPS.index(groups[i]) for i in rows])
    return vec, binary, multi


def fit(texts: list[str], crisis: list[bool], groups: list[str | None], c: float = 1.0, min_df: int = 2,
        char_ngrams: tuple[int, int] = (2, 5), word_ngrams: tuple[int, int] = (1, 2), seed: int = 0) -> dict:
    """Fit both models (`fit_models`) and return the detector's JSON (threshold 0.5, one tier, until calibrated)."""
    vec, binary, multi = fit_models(texts, crisis, groups, c, min_df, char_ngrams, word_ngrams, seed)
    w_crisis, w_group = binary.coef_[0], multi.coef_  # (features,), (groups, features)
    table = {str(name): [round(float(vec.idf_[j]), 8), round(float(w_crisis[j]), 8)]
             + [round(float(w_group[k, j]), 8) for k in range(len(GROUPS))]
             for j, name in enumerate(vec.get_feature_names_out())}
    return {"format": FORMAT, "char_ngrams": list(char_ngrams), "word_ngrams": list(word_ngrams),
            "groups": list(GROUPS), "features": table, "crisis_intercept": float(binary.intercept_[0]),
            "group_intercepts": [float(b) for b in multi.intercept_], "threshold": 0.5, "c": c, "min_df": min_df}
