"""Stage `sft_data`: compose the default German SFT dataset from its YAML fragments.

data/sft/support_de/*.yaml (the conversation pieces, langcpt.sft_data checks every file and key) -> the seeded
composition -> data/sft/support_de.jsonl, written atomically (a bad fragment: `error:` naming the file and the key,
exit 1, the previous file kept). The output stays tracked in git (cache: false): `sft.data` names it by default.

    python pipelines/sft_data.py                       # the stage
    python pipelines/sft_data.py --out /tmp/x.jsonl    # elsewhere (tests compare it with the committed file)
"""
import argparse
from collections import Counter

from langcpt.params import load_params
from langcpt.sft_data import DEFAULT_OUT, FRAGMENTS, write
from langcpt.stage import run_stage


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fragments", default=FRAGMENTS, help="the folder of fragment files (default: %(default)s)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="the JSONL to write (default: %(default)s)")
    args = ap.parse_args()
    load_params()  # as every stage: params.yaml is checked first, though this stage reads none of it
    rows = write(args.fragments, args.out)
    multi = sum(len(r["messages"]) > 3 for r in rows)
    per_category = dict(Counter(r["category"] for r in rows))
    print(f"wrote {len(rows)} conversations to {args.out} ({multi / len(rows):.0%} multi-turn): {per_category}")


if __name__ == "__main__":
    run_stage(main)
