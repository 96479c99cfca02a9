"""How far can a quantized model agree with float32 at all? llama.cpp's GGUF types against the same HF model with its
weights rounded to q8_0 in torch (weight-only, no llama.cpp), on the gguf stage's own held-out blocks.

The gguf stage gates q8_0 on argmax agreement. This benchmark separates what the export loses from what 8-bit weights
lose by themselves: if torch's own q8_0 rounding (blocks of 32 along the input, scale = absmax / 127, exactly
llama.cpp's Q8_0 weight format) already flips a given share of argmaxes, no export can do better. Reported per side:
argmax agreement over all positions and over the decisive ones (HF's top-2 logits >= --tie-margin apart), and the
perplexity ratio to float32 on the same next tokens.

    python benchmarks/gguf_parity.py                      # models/sft, models/gguf/model-*.gguf, 4 held-out blocks
    python benchmarks/gguf_parity.py --blocks 8 --out benchmarks/results/gguf_parity.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def weight_only_q8_0(model) -> None:
    """Round every 2-D weight except the embedding to llama.cpp's Q8_0 grid, in place."""
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2 and "embed" not in name and p.shape[-1] % 32 == 0:
                blocks = p.reshape(-1, 32)
                scale = blocks.abs().amax(1, keepdim=True) / 127
                p.copy_((torch.round(blocks / scale.clamp_min(1e-12)) * scale).reshape(p.shape))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sft", type=Path, default=REPO / "models/sft")
    ap.add_argument("--gguf-dir", type=Path, default=REPO / "models/gguf")
    ap.add_argument("--val", type=Path, default=REPO / "data/tokens/val.npy")
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--tie-margin", type=float, default=0.5)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM

    from langcpt.gguf_export import compare_to_reference, heldout_blocks, hf_reference, logit_parity

    blocks = heldout_blocks(args.val, args.blocks)
    model = AutoModelForCausalLM.from_pretrained(args.sft, dtype=torch.float32).eval()
    reference = hf_reference(model, blocks)
    margins = np.concatenate([r["margin"] for r in reference])
    rows = {}
    weight_only_q8_0(model)
    rows["torch q8_0 weights"] = compare_to_reference(reference, hf_reference(model, blocks), args.tie_margin)
    for path in sorted(args.gguf_dir.glob("model-*.gguf"), key=lambda p: -p.stat().st_size):
        lp = logit_parity(path, blocks, reference, args.tie_margin)
        rows[path.stem.removeprefix("model-")] = {k: lp[k] for k in rows["torch q8_0 weights"]}
    print(f"{args.blocks} held-out blocks, {margins.size} positions, median HF top-2 gap {np.median(margins):.3f}, "
          f"{(margins >= args.tie_margin).mean():.1%} of positions >= {args.tie_margin}")
    print(f"{'side':<20}{'agree all':>10}{'agree decisive':>16}{'ppl ratio':>11}")
    for name, r in rows.items():
        print(f"{name:<20}{r['argmax_agreement']:>10.4f}{r['decisive_agreement']:>16.4f}{r['perplexity_ratio']:>11.4f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "blocks": args.blocks,
                                        "tie_margin": args.tie_margin, "median_margin": float(np.median(margins)),
                                        "results": rows}, indent=2) + "\n")
        print("->", args.out)


if __name__ == "__main__":
    main()
