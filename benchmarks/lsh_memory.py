"""Memory and time of the near-dedup LSH pass: langcpt.dedup.near_duplicates against a plain datasketch
MinHashLSH loop (query, verify, insert into an in-memory index: what near_duplicates did before), side by side.

The signatures are synthetic and chosen for the worst case of the index: every row shares one band with another
row (so every row is visited and, its Jaccard being low, inserted), and every tenth row is a near copy of the
row before it (removed). Each variant runs in its own process;
reported: the rise of peak RSS during the pass (bytes per document) and its seconds. Both variants must give
the same verdicts (checked on the first --check rows).

    python benchmarks/lsh_memory.py                 # 100,000 signatures
    python benchmarks/lsh_memory.py --n 200000
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from langcpt import clean, dedup  # noqa: E402


def signatures(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    sigs = rng.integers(0, 2**32, size=(n, 128), dtype=np.uint32)
    sigs[1::2, :4] = sigs[0::2, :4]  # pairs share band 0
    copies = sigs[2::10].copy()  # every 10th row: a near copy (~70% of values equal) of the row before it
    noise = rng.random(copies.shape) < 0.3
    copies[noise] = rng.integers(0, 2**32, size=int(noise.sum()), dtype=np.uint32)
    sigs[3::10] = copies
    return sigs


def plain_datasketch(sigs: np.ndarray, p: dict) -> list:
    """Per row: None (kept) or (kept partner, Jaccard), by a MinHashLSH query of the kept rows, then insertion if
    kept (best = highest Jaccard, lowest index on ties). tests/test_dedup.py checks near_duplicates against it."""
    from datasketch import LeanMinHash, MinHashLSH

    lsh = MinHashLSH(threshold=p["threshold"], num_perm=p["num_perm"])
    kept, out = {}, []
    with lsh.insertion_session() as session:
        for i, sig in enumerate(sigs):
            mh = LeanMinHash(seed=p["seed"], hashvalues=sig, scheme="affine32")
            best = max(((mh.jaccard(kept[k]), -k) for k in lsh.query(mh)), default=(-1.0, 0))
            if best[0] >= p["threshold"]:
                out.append((-best[1], best[0]))
            else:
                kept[i] = mh
                session.insert(i, mh, check_duplication=False)
                out.append(None)
    return out


def child(variant: str, n: int) -> None:
    p = clean.validate_cfg({"language": None})
    sigs = signatures(n)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t = time.perf_counter()
    verdicts = dedup.near_duplicates(sigs, p) if variant == "langcpt" else plain_datasketch(sigs, p)
    seconds = time.perf_counter() - t
    rise = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    removed = sum(v is not None for v in verdicts)
    print(json.dumps({"seconds": seconds, "rss_rise": rise, "removed": removed,
                      "verdicts": [v if v is None else [int(v[0]), round(v[1], 6)] for v in verdicts[:2000]]}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--child", choices=["langcpt", "datasketch"])
    args = ap.parse_args()
    if args.child:
        child(args.child, args.n)
        return 0
    print(f"command: python benchmarks/lsh_memory.py --n {args.n}")
    res = {}
    for variant in ("datasketch", "langcpt"):
        out = subprocess.run([sys.executable, __file__, "--child", variant, "--n", str(args.n)],
                             check=True, capture_output=True, text=True).stdout
        res[variant] = json.loads(out.strip().splitlines()[-1])
    same = res["datasketch"]["verdicts"] == res["langcpt"]["verdicts"]
    print(f"{'variant':<11} {'seconds':>8} {'RSS rise MiB':>13} {'bytes/doc':>10} removed")
    for variant, r in res.items():
        print(f"{variant:<11} {r['seconds']:>8.1f} {r['rss_rise'] / 2**20:>13.0f} {r['rss_rise'] / args.n:>10.0f} "
              f"{r['removed']}")
    d, o = res["datasketch"], res["langcpt"]
    print(f"langcpt / datasketch: time {o['seconds'] / d['seconds']:.3f}x, memory "
          f"{o['rss_rise'] / max(d['rss_rise'], 1):.3f}x; same verdicts on the first 2000 rows: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
