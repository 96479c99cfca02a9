"""Exact and near-duplicate detection: the dedup half of the `dedup_clean` stage (clean.py calls it).

    normalize_for_dedup(text)       casefolded text with every whitespace run -> one space (exact-dedup key input)
    shingle_hashes(norms, p)        32-bit hashes of every shingle of every text (one flat array + offsets)
    signatures(norms, p)            MinHash signatures, one row of p["num_perm"] uint32 per normalised text
    near_duplicates(sigs, p)        per row: None (kept) or (index of the kept partner, estimated Jaccard)

`p` is the validated `clean:` config (clean.validate_cfg): shingle_chars / shingle_words, num_perm, seed,
threshold, lsh_storage / redis_url / lsh_basename. See clean.py's docstring (rules exact_dedup and near_dedup)
for the semantics, and benchmarks/dedup_accuracy.py for how the params.yaml defaults were chosen.

How it is fast (benchmarks/dedup_throughput.py measures it against datatrove):
  * shingle hashing is vectorised over a whole chunk of texts: the texts become one array of Unicode code
    points (UTF-32), and every character n-gram is hashed at once with a multilinear hash (random 64-bit
    odd multipliers, top 32 bits; Lemire & Kaser's strongly universal string hashing). Word n-grams do the
    same over the xxh32 hashes of the words. No Python-level work per shingle, and no set building: the
    minimum over a multiset equals the minimum over its set.
  * the MinHash step is datasketch's "affine32" scheme (MurmurHash3 finalizer, then h -> a*h + b mod 2^32
    with datasketch's own a, b for the seed) computed in uint32 numpy over blocks of shingles of many
    documents, reduced per document with np.minimum.reduceat. tests/test_dedup.py checks the rows equal
    datasketch's MinHash.update_batch bit for bit, so the signatures are ordinary datasketch LeanMinHash
    values.
  * LSH: datasketch's banding (MinHashLSH's optimal bands x rows for threshold and num_perm); the band keys of
    all signatures are grouped at once (np.unique over the raw band bytes, the same equality datasketch's
    buckets use) into int32 group ids. A document that shares no band with any other document can have no
    candidate; the others are visited in order, their candidates are the kept earlier documents in their
    shared groups (exactly what a MinHashLSH query would return), and the best candidate's estimated Jaccard
    is verified with one vectorised comparison. ~150 bytes per document instead of MinHashLSH's in-memory
    ~11 KB per inserted one (tests/test_dedup.py checks the verdicts equal a plain MinHashLSH loop).
  * lsh_storage "redis": the index lives in Redis (datasketch's storage_config) so several workers/machines
    share it; see near_duplicates().
"""
from __future__ import annotations

import pickle
import re
import uuid

import numpy as np
import xxhash
from datasketch import LeanMinHash, MinHash, MinHashLSH
from tqdm import tqdm

_WS_RUN_RE = re.compile(r"\s+")
_BLOCK = 8192  # shingles per numpy block in signatures() (block x num_perm uint32 temporaries, 4 MiB at 128)
_HASH_SEED = 0x5EED_DEDF  # seed of the multilinear shingle-hash multipliers (fixed: part of the signature)
_REMOTE_BATCH = 1000  # documents per Redis pipeline round trip when querying a shared index


def normalize_for_dedup(text: str) -> str:
    """Casefold and collapse every whitespace run (newlines too) into one space."""
    return _WS_RUN_RE.sub(" ", text.casefold()).strip()


# ------------------------------------------------------------------------------------------------- shingles


def shingles(norm: str, shingle_chars: int = 5, shingle_words: int | None = None) -> set[str]:
    """Character n-grams (or word n-grams when shingle_words is set) of a normalised text, as strings.

    A text shorter than one shingle is a single shingle, so it still has a signature. (The reference for
    what shingle_hashes() hashes; the fast path never builds these strings.)
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


def _multipliers(n: int) -> np.ndarray:
    """n + 1 fixed random odd 64-bit multipliers of the multilinear n-gram hash."""
    rng = np.random.default_rng(_HASH_SEED + n)
    return rng.integers(0, 2**63, n + 1, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def _ngram_hashes(tokens: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash every n-gram of each token array (uint32 tokens) -> (flat uint32 hashes, offsets per text).

    A text of fewer than n tokens gives one hash (its tokens padded with zeros), like shingles().
    """
    counts = np.array([max(len(t) - n + 1, 1) for t in tokens], dtype=np.int64)
    offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    if not tokens:
        return np.zeros(0, dtype=np.uint32), offsets
    # One array, every text followed by n-1 zero tokens, so a window never mixes two texts.
    pad = np.zeros(n - 1, dtype=np.uint32)
    flat = np.concatenate([x for t in tokens for x in (t, pad)] + [pad]).astype(np.uint64)
    m = _multipliers(n)
    width = len(flat) - n + 1
    acc = np.full(width, m[0], dtype=np.uint64)
    for k in range(n):
        acc += flat[k : k + width] * m[k + 1]
    # Window starts of each text: start of the text + 0 .. counts-1.
    lengths = np.array([len(t) for t in tokens], dtype=np.int64)
    text_starts = np.concatenate(([0], np.cumsum(lengths + n - 1)[:-1]))
    starts = np.repeat(text_starts - offsets[:-1], counts) + np.arange(offsets[-1])
    return (acc[starts] >> np.uint64(32)).astype(np.uint32), offsets


def shingle_hashes(norms: list[str], p: dict) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of the shingles of each normalised text: (flat uint32 array, offsets of len(norms)+1).

    Text k's hashes are flat[offsets[k]:offsets[k+1]] (one per shingle position, repeats included).
    """
    if p.get("shingle_words"):
        tokens = [
            np.fromiter(map(xxhash.xxh32_intdigest, norm.encode("utf-8").split(b" ")), dtype=np.uint32)
            for norm in norms
        ]
        return _ngram_hashes(tokens, p["shingle_words"])
    tokens = [np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32) for norm in norms]
    return _ngram_hashes(tokens, p["shingle_chars"])


# --------------------------------------------------------------------------------------------------- MinHash


def _identity(x):
    return x


def minhash_template(num_perm: int, seed: int) -> MinHash:
    """An empty datasketch MinHash (affine32) whose update_batch takes the 32-bit shingle hashes."""
    return MinHash(num_perm=num_perm, seed=seed, hashfunc=_identity, scheme="affine32")


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch's affine32 scheme applies it before permuting."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


_PERM_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    key = (num_perm, seed)
    if key not in _PERM_CACHE:
        a, b = minhash_template(num_perm, seed).permutations
        _PERM_CACHE[key] = (a.astype(np.uint32), b.astype(np.uint32))
    return _PERM_CACHE[key]


def minhash_rows(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """Per text, min over its shingles of a*fmix32(h)+b mod 2^32: rows equal to datasketch affine32 MinHash."""
    a, b = _permutations(num_perm, seed)
    n = len(offsets) - 1
    out = np.empty((n, num_perm), dtype=np.uint32)
    if n == 0:
        return out
    mixed = _fmix32(hashes)
    a, b = a[:, None], b[:, None]
    # Blocks of whole texts of about _BLOCK shingles; a longer text is reduced over slices. The permuted
    # values are laid out num_perm x shingles, so the per-text reduction runs along contiguous memory.
    k = 0
    while k < n:
        end = int(np.searchsorted(offsets, offsets[k] + _BLOCK, side="right")) - 1
        end = min(max(end, k + 1), n)
        lo, hi = int(offsets[k]), int(offsets[end])
        if end == k + 1 and hi - lo > _BLOCK:  # one long text: running minimum over slices
            row = np.full(num_perm, np.uint32(0xFFFFFFFF))
            for s in range(lo, hi, _BLOCK):
                phv = np.multiply.outer(a[:, 0], mixed[s : min(s + _BLOCK, hi)])
                phv += b
                np.minimum(row, phv.min(axis=1), out=row)
            out[k] = row
        else:
            phv = np.multiply.outer(a[:, 0], mixed[lo:hi])
            phv += b
            out[k:end] = np.minimum.reduceat(phv, offsets[k:end] - lo, axis=1).T
        k = end
    return out


def signatures(norms: list[str], p: dict) -> np.ndarray:
    """Signatures of many normalised texts: array [len(norms), p["num_perm"]] of uint32."""
    hashes, offsets = shingle_hashes(norms, p)
    return minhash_rows(hashes, offsets, p["num_perm"], p["seed"])


def signature(norm: str, template: MinHash, shingle_chars: int = 5, shingle_words: int | None = None) -> np.ndarray:
    """MinHash signature (len(template) uint32 values) of one normalised text (see signatures())."""
    p = {"shingle_chars": shingle_chars, "shingle_words": shingle_words, "num_perm": len(template),
         "seed": template.seed}
    return signatures([norm], p)[0]


# ------------------------------------------------------------------------------------------------------- LSH


def check_dedup_cfg(p: dict) -> None:
    """Raise InputError (naming the key) for a bad lsh_storage / redis_url, or an unreachable Redis server."""
    from langcpt.fileio import InputError, redact

    if p["lsh_storage"] not in ("memory", "redis"):
        raise InputError(f"clean.lsh_storage: expected \"memory\" or \"redis\", got {p['lsh_storage']!r}")
    if p["lsh_storage"] != "redis" or not p["near_dedup"]:
        return
    if not p["redis_url"]:
        raise InputError("clean.redis_url: required when clean.lsh_storage is \"redis\" (e.g. redis://host:6379/0)")
    import redis

    try:
        redis.Redis.from_url(p["redis_url"], socket_connect_timeout=5).ping()
    except (ValueError, redis.RedisError) as e:
        raise InputError(f"clean.redis_url: cannot use Redis at {redact(p['redis_url'])!r}: {redact(str(e))}") from None


def make_lsh(p: dict) -> MinHashLSH:
    """The datasketch index for p: in memory, or in Redis under p["lsh_basename"] (lsh_storage "redis")."""
    if p.get("lsh_storage", "memory") != "redis":
        return MinHashLSH(threshold=p["threshold"], num_perm=p["num_perm"])
    from redis.connection import parse_url

    storage = {"type": "redis", "basename": p["lsh_basename"].encode("utf-8"), "redis": parse_url(p["redis_url"])}
    return MinHashLSH(threshold=p["threshold"], num_perm=p["num_perm"], storage_config=storage)


def _band_groups(sigs: np.ndarray, b: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    """LSH buckets as numpy arrays: (group id of each row in each band [n, b] int32, "shares that bucket with
    another row" [n, b] bool). Two rows share band k's bucket when their r values of band k are equal."""
    n = len(sigs)
    ids, shared = np.empty((n, b), dtype=np.int32), np.empty((n, b), dtype=bool)
    for k in range(b):
        band = np.ascontiguousarray(sigs[:, k * r : (k + 1) * r]).view(np.dtype((np.void, 4 * r))).ravel()
        _, inverse, counts = np.unique(band, return_inverse=True, return_counts=True)
        ids[:, k] = inverse.ravel()
        shared[:, k] = counts[inverse.ravel()] > 1
    return ids, shared


def _best(sig: np.ndarray, cand_sigs: np.ndarray, keys: list, num_perm: int) -> tuple[object, float]:
    """(key, estimated Jaccard) of the most similar candidate; ties go to the first key in `keys` order."""
    j = np.count_nonzero(cand_sigs == sig, axis=1) / num_perm
    i = int(np.argmax(j))  # first maximum
    return keys[i], float(j[i])


def near_duplicates(sigs: np.ndarray, p: dict) -> list[tuple[int, float] | None]:
    """For each signature: None if kept, else (index of the kept partner, estimated Jaccard).

    Rows are visited in order; a row is a near-duplicate when an earlier kept row (an LSH candidate) has an
    estimated Jaccard >= threshold; the most similar one (lowest index on ties) is its partner.

    With p["lsh_storage"] == "redis" the index is shared: each row is also checked against the documents
    other runs stored under p["lsh_basename"] (their signatures are kept next to the index, in the Redis
    hash "<lsh_basename>_signatures"); such a partner is reported as index -1. This run's kept rows are
    added to the shared index when it finishes, under keys "<run id>:<row>".
    """
    num_perm, threshold = p["num_perm"], p["threshold"]
    lsh = make_lsh(p)
    n = len(sigs)
    remote = _remote_candidates(lsh, sigs, p) if p.get("lsh_storage") == "redis" else [{}] * n
    # The local index is datasketch's banding (lsh.b bands of lsh.r rows: the same candidates as a MinHashLSH
    # query), held as numpy group ids: a MinHashLSH in memory costs ~11 KB per inserted document (a set and a
    # bytes key per band), this ~150 B per document plus one list slot per shared bucket of a kept one.
    # A row in no shared bucket has no local candidate (and is no candidate of any other row): it is kept
    # unless the shared index has a candidate for it.
    ids, shared = _band_groups(sigs, lsh.b, lsh.r)
    visit = shared.any(axis=1) | np.array([bool(c) for c in remote], dtype=bool)
    result: list[tuple[int, float] | None] = [None] * n
    buckets: list[dict[int, list[int]]] = [{} for _ in range(lsh.b)]  # per band: group id -> kept rows
    # progress on a terminal (disable=None: no bar when stderr is not a TTY): the rows that share a band
    for i in tqdm(np.flatnonzero(visit).tolist(), desc="near-dedup (LSH)", unit="doc", disable=None, leave=False):
        my_buckets = [(buckets[k], g) for k, (g, s) in enumerate(zip(ids[i].tolist(), shared[i].tolist())) if s]
        keys = sorted({j for bucket, g in my_buckets for j in bucket.get(g, ())})
        cand = [sigs[keys]] if keys else []
        if remote[i]:  # shared-index documents of other runs come after this run's (ties go local)
            rkeys = sorted(remote[i])
            cand.append(np.stack([remote[i][k] for k in rkeys]))
            keys += [-1] * len(rkeys)
        if keys:
            key, j = _best(sigs[i], np.concatenate(cand), keys, num_perm)
            if j >= threshold:
                result[i] = (key, j)
                continue
        for bucket, g in my_buckets:
            bucket.setdefault(g, []).append(i)
    if p.get("lsh_storage") == "redis":
        _publish(lsh, sigs, result, p)
    return result


def _remote_candidates(lsh: MinHashLSH, sigs: np.ndarray, p: dict) -> list[dict]:
    """Per row: {key: signature} of the shared index's documents that share a band with it (as of now)."""
    import redis

    client = redis.Redis.from_url(p["redis_url"])
    sig_table = p["lsh_basename"] + "_signatures"
    out: list[dict] = []
    for start in range(0, len(sigs), _REMOTE_BATCH):
        block = sigs[start : start + _REMOTE_BATCH]
        pipe = client.pipeline(transaction=False)
        for sig in block:  # MinHashLSH.query's bucket lookups, but one round trip per block instead of b per row
            for (lo, hi), table in zip(lsh.hashranges, lsh.hashtables):
                pipe.smembers(table.redis_key(lsh._H(sig[lo:hi])))
        members = pipe.execute()
        per_row = [set().union(*members[k * lsh.b : (k + 1) * lsh.b]) for k in range(len(block))]
        keys = sorted({pickle.loads(m) for s in per_row for m in s})
        found = dict(zip(keys, client.hmget(sig_table, keys))) if keys else {}
        for s in per_row:
            row = {}
            for m in s:
                key = pickle.loads(m)
                if found.get(key) is not None:
                    row[key] = np.frombuffer(found[key], dtype=np.uint32)
            out.append(row)
    return out


def _publish(lsh: MinHashLSH, sigs: np.ndarray, result: list, p: dict) -> None:
    """Add this run's kept rows to the shared index (keys "<run id>:<row>") and their signatures next to it."""
    import redis

    run_id = uuid.uuid4().hex[:12]
    client = redis.Redis.from_url(p["redis_url"])
    pipe = client.pipeline(transaction=False)
    with lsh.insertion_session() as session:
        for i, v in enumerate(result):
            if v is None:
                key = f"{run_id}:{i}"
                pipe.hset(p["lsh_basename"] + "_signatures", key, sigs[i].tobytes())
                session.insert(key, LeanMinHash(seed=p["seed"], hashvalues=sigs[i], scheme="affine32"),
                               check_duplication=False)
        pipe.execute()
