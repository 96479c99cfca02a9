"""Exact and near-duplicate detection: the dedup half of the `dedup_clean` stage (clean.py calls it).

    normalize_for_dedup(text)       casefolded text with every whitespace run -> one space (exact-dedup key input)
    signatures(norms, p)            MinHash signatures, one row of p["num_perm"] uint32 per normalised text
    near_duplicates(sigs, p)        per row: None (kept) or (index of the kept partner, estimated Jaccard)

`p` is the validated `clean:` config (clean.validate_cfg): shingle_chars / shingle_words, num_perm, seed,
threshold. See clean.py's docstring, rule 7, for the semantics.
"""
from __future__ import annotations

import re

import numpy as np
import xxhash
from datasketch import LeanMinHash, MinHash, MinHashLSH

_BATCH = 16_384  # shingle hashes per MinHash.update_batch call (bounds memory on long documents)
_WS_RUN_RE = re.compile(r"\s+")


def normalize_for_dedup(text: str) -> str:
    """Casefold and collapse every whitespace run (newlines too) into one space."""
    return _WS_RUN_RE.sub(" ", text.casefold()).strip()


# --------------------------------------------------------------------------------------------------- MinHash


def shingles(norm: str, shingle_chars: int = 5, shingle_words: int | None = None) -> set[str]:
    """Character n-grams (or word n-grams when shingle_words is set) of a normalised text.

    A text shorter than one shingle is a single shingle, so it still has a signature.
    """
    if shingle_words:
        words = norm.split(" ")
        n = shingle_words
        if len(words) <= n:
            return {norm}
        return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}
    n = shingle_chars
    if len(norm) <= n:
        return {norm}
    return {norm[i : i + n] for i in range(len(norm) - n + 1)}


def _identity(x):
    return x


def minhash_template(num_perm: int, seed: int) -> MinHash:
    """An empty MinHash whose update_batch takes 32-bit integer shingle hashes (see signature())."""
    return MinHash(num_perm=num_perm, seed=seed, hashfunc=_identity, scheme="affine32")


def signature(norm: str, template: MinHash, shingle_chars: int = 5, shingle_words: int | None = None) -> np.ndarray:
    """MinHash signature (num_perm uint32 values) of one normalised text.

    The shingles are hashed with xxh32 in one pass; datasketch then permutes and min-reduces them in bulk
    (update_batch, in slices of _BATCH hashes to bound memory on long documents).
    """
    sh = shingles(norm, shingle_chars, shingle_words)
    hashes = list(map(xxhash.xxh32_intdigest, map(str.encode, sh)))
    m = template.copy()
    for i in range(0, len(hashes), _BATCH):
        m.update_batch(hashes[i : i + _BATCH])
    return m.hashvalues


def signatures(norms: list[str], p: dict) -> np.ndarray:
    """Signatures of many normalised texts: array [len(norms), p["num_perm"]] of uint32."""
    template = minhash_template(p["num_perm"], p["seed"])
    sigs = [signature(n, template, p["shingle_chars"], p["shingle_words"]) for n in norms]
    return np.array(sigs, dtype=np.uint32).reshape(len(sigs), p["num_perm"])


def near_duplicates(sigs: np.ndarray, p: dict) -> list[tuple[int, float] | None]:
    """For each signature: None if kept, else (index of the kept partner, estimated Jaccard)."""
    lsh = MinHashLSH(threshold=p["threshold"], num_perm=p["num_perm"])
    kept: dict[int, LeanMinHash] = {}
    result: list[tuple[int, float] | None] = []
    # The default dict storage applies session inserts at once, so each query sees every earlier insert.
    with lsh.insertion_session() as session:
        for i, sig in enumerate(sigs):
            mh = LeanMinHash(seed=p["seed"], hashvalues=sig, scheme="affine32")
            best_key, best_j = -1, -1.0
            for key in lsh.query(mh):
                j = mh.jaccard(kept[key])
                if j > best_j or (j == best_j and key < best_key):
                    best_key, best_j = key, j
            if best_j >= p["threshold"]:
                result.append((best_key, best_j))
            else:
                kept[i] = mh
                session.insert(i, mh, check_duplication=False)
                result.append(None)
    return result
