"""Sentence embeddings vs n-grams for the crisis guard's learned layer, on an unseen writer (issue 18). Measured, not
shipped: the guard and its detector stay as they are.

    PYTHONPATH=src python benchmarks/crisis_embeddings.py --model models/pretrained
    PYTHONPATH=src python benchmarks/crisis_embeddings.py --model models/base \
        --out benchmarks/results/crisis_embeddings_base.json

Protocol "unseen writer": the lines of data/safety/train_de.jsonl whose id starts with `train-w4-` were written by a
writer none of the others saw. Every model is fitted on the rest of the training set plus the SFT data's user
messages (labels as stage `detector` derives them: the first user message of a crisis conversation is a crisis
message, every user message of the other categories is not), its threshold calibrated on the dev set
(safety.detector.dev) at recall `target_recall` (0.95) as the stage does, and then scored on the train-w4-* messages:
recall and false-positive rate (non-crisis messages over the threshold, i.e. flagged at any tier) there are the
generalisation figures; the dev figures are optimistic by construction (recall is fixed there).

Compared:
  (a) the shipped n-gram model: langcpt.crisis_detector.fit_models with params.yaml's c and min_df;
  (b) logistic regression (class_weight balanced) on standardised embeddings of `--model`: a causal LM from a local
      HF folder, hidden states of one layer mean-pooled over the tokens (float32, batches of 16, at most 128 tokens),
      for the last layer and a middle one; C from a small grid, chosen on dev only (fewest dev false alarms at the
      calibrated threshold, then dev ROC AUC);
  (c) the average of (a)'s and (b)'s probabilities.
Each twice: the detector alone (threshold calibrated on its own dev recall), and the guard (crisis_patterns OR the
detector, threshold calibrated as pipelines/detector.py's `calibrate`). ROC AUC on the unseen writer is the
threshold-free figure. Embeddings are cached per model and layer set in a temp dir (`--cache`).

Never opens data/safety/test_de.jsonl or the probes: the only leak check is against dev (and the held-out writer).
Writes `--out` (JSON) and prints a Markdown table. CPU, one thread; SmolLM2-135M: 2,691 texts took 5 to 6 min on a
busy 2-core machine (cached after; the n-gram fit: 1 s). The committed results ran with OMP_NUM_THREADS=1; with more
BLAS threads the embedding regressions can move in the third decimal.
"""
import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import numpy as np  # noqa: E402

from langcpt.conversations import load_conversations  # noqa: E402
from langcpt.crisis_detector import CATEGORY_GROUPS, fit_models, load_labelled  # noqa: E402
from langcpt.params import load_params, section  # noqa: E402
from langcpt.safety import CrisisGuard, conversation_messages  # noqa: E402

HELD_OUT = "train-w4-"
C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def training_rows(params: dict) -> tuple[list[dict], list[dict]]:
    """(rows to fit on, the unseen writer's rows), as stage `detector` builds its training rows."""
    dcfg = params["safety"]["detector"]
    rows = [r for path in dcfg["train"] for r in load_labelled(REPO / path)]
    held = [r for r in rows if str(r.get("id", "")).startswith(HELD_OUT)]
    rows = [r for r in rows if not str(r.get("id", "")).startswith(HELD_OUT)]
    for r in rows:
        r["group"] = CATEGORY_GROUPS.get(r["category"]) if r["crisis"] else None
    if dcfg.get("use_sft_data", True):
        convs = load_conversations(REPO / section(params, "sft")["data"])
        crisis, safe = conversation_messages(convs)
        group_of = {c["messages"][1]["content"]: c.get("referral") for c in convs if c.get("category") == "crisis"}
        rows += [{"text": t, "crisis": True, "group": group_of.get(t)} for t in crisis]
        rows += [{"text": t, "crisis": False, "group": None} for t in safe]
    return rows, held


def embed(model_dir: str, texts: list[str], layers: list[int], cache: Path, batch: int = 16,
          max_tokens: int = 128) -> tuple[dict[int, np.ndarray], float, bool]:
    """{layer: (len(texts), hidden) float32 mean-pooled hidden states}, seconds, from cache or not."""
    model_dir = Path(model_dir)
    key = hashlib.sha256()
    for name in ("config.json", "tokenizer.json"):
        key.update((model_dir / name).read_bytes())
    key.update(str((model_dir / "model.safetensors").stat().st_size).encode())
    key.update(json.dumps([texts, layers, max_tokens]).encode())
    path = cache / f"{model_dir.name}-{key.hexdigest()[:16]}.npy"
    if path.exists():
        arr = np.load(path)
        return {layer: arr[i] for i, layer in enumerate(layers)}, 0.0, True
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(model_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "right"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths per batch: less padding
    out = np.zeros((len(layers), len(texts), model.config.hidden_size), dtype=np.float32)
    start = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, len(order), batch):
            idx = order[b:b + batch]
            enc = tok([texts[i] for i in idx], return_tensors="pt", padding=True, truncation=True,
                      max_length=max_tokens)
            hidden = model(**enc, output_hidden_states=True).hidden_states  # embeddings + one per layer
            mask = enc["attention_mask"].unsqueeze(-1).float()
            for k, layer in enumerate(layers):
                pooled = (hidden[layer].float() * mask).sum(1) / mask.sum(1)
                out[k, idx] = pooled.numpy()
    seconds = time.perf_counter() - start
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return {layer: out[k] for k, layer in enumerate(layers)}, seconds, False


def calibrate(scores: np.ndarray, crisis: np.ndarray, by_pattern: np.ndarray, target: float) -> float:
    """The highest threshold at which patterns OR score >= it flag >= target of the crisis rows (as
    pipelines/detector.calibrate; by_pattern all False: the detector alone)."""
    s, p = scores[crisis], by_pattern[crisis]
    need = target * len(s)
    for t in sorted(set(s.tolist()), reverse=True):
        if (p | (s >= t)).sum() >= need - 1e-9:
            return float(t)
    return 0.0


def figures(scores: np.ndarray, crisis: np.ndarray, by_pattern: np.ndarray, t: float) -> dict:
    from sklearn.metrics import roc_auc_score

    flag = by_pattern | (scores >= t)
    return {"recall": round(float(flag[crisis].mean()), 4),
            "false_positive_rate": round(float(flag[~crisis].mean()), 4),
            "missed": int((~flag[crisis]).sum()), "false_alarms": int(flag[~crisis].sum()),
            "roc_auc": round(float(roc_auc_score(crisis, scores)), 4)}


def evaluate(name: str, dev_s, w4_s, dev_y, w4_y, dev_p, w4_p, target: float) -> dict:
    out = {"method": name}
    for mode, dp, wp in (("alone", np.zeros_like(dev_p), np.zeros_like(w4_p)), ("guard", dev_p, w4_p)):
        t = calibrate(dev_s, dev_y, dp, target)
        out[mode] = {"threshold": round(t, 6), "dev": figures(dev_s, dev_y, dp, t),
                     "unseen_writer": figures(w4_s, w4_y, wp, t)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/pretrained", help="a local HF causal-LM folder")
    ap.add_argument("--layers", default="mid,last", help="hidden layers to pool: mid, last or indices (0: embeddings)")
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/crisis_embeddings.json"))
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "crisis_embeddings"))
    ap.add_argument("--params", default=str(REPO / "params.yaml"))
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    params = load_params(args.params)
    dcfg = params["safety"]["detector"]
    target = float(dcfg.get("target_recall", 0.95))
    rows, held = training_rows(params)
    dev = load_labelled(REPO / dcfg["dev"])
    dev_texts, held_texts = {r["text"] for r in dev}, {r["text"] for r in held}
    n_before = len(rows)
    rows = [r for r in rows if r["text"] not in dev_texts and r["text"] not in held_texts]
    dropped = n_before - len(rows)

    guard = CrisisGuard.from_params(params["safety"], detector=False)
    dev_y = np.array([r["crisis"] for r in dev])
    w4_y = np.array([r["crisis"] for r in held])
    dev_p = np.array([bool(guard.matches(r["text"])) for r in dev])
    w4_p = np.array([bool(guard.matches(r["text"])) for r in held])
    results = []

    # (a) the shipped n-gram model
    start = time.perf_counter()
    vec, binary, _ = fit_models([r["text"] for r in rows], [r["crisis"] for r in rows], [r["group"] for r in rows],
                                c=float(dcfg.get("c", 1.0)), min_df=int(dcfg.get("min_df", 2)))
    ngram_dev = binary.predict_proba(vec.transform([r["text"] for r in dev]))[:, 1]
    ngram_w4 = binary.predict_proba(vec.transform([r["text"] for r in held]))[:, 1]
    ngram_seconds = time.perf_counter() - start
    results.append(evaluate("(a) n-gram TF-IDF LR (shipped)", ngram_dev, ngram_w4, dev_y, w4_y, dev_p, w4_p, target))

    # (b), (c) embeddings
    from transformers import AutoConfig

    n_layers = AutoConfig.from_pretrained(args.model).num_hidden_layers
    layers = [n_layers if x == "last" else n_layers // 2 if x == "mid" else int(x) for x in args.layers.split(",")]
    texts = list(dict.fromkeys([r["text"] for r in rows] + [r["text"] for r in dev] + [r["text"] for r in held]))
    where = {t: i for i, t in enumerate(texts)}
    emb, embed_seconds, cached = embed(args.model, texts, layers, Path(args.cache))
    grids = {}
    for layer in layers:
        x = emb[layer]
        xtr = x[[where[r["text"]] for r in rows]]
        scaler = StandardScaler().fit(xtr)
        xtr, xdev, xw4 = (scaler.transform(a) for a in
                          (xtr, x[[where[r["text"]] for r in dev]], x[[where[r["text"]] for r in held]]))
        ytr = np.array([r["crisis"] for r in rows], dtype=int)
        best, grid = None, []
        for c in C_GRID:  # chosen on dev only
            lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=0).fit(xtr, ytr)
            s_dev = lr.predict_proba(xdev)[:, 1]
            f = figures(s_dev, dev_y, np.zeros_like(dev_p), calibrate(s_dev, dev_y, np.zeros_like(dev_p), target))
            grid.append({"c": c, "dev_alone": f})
            cand = (f["false_positive_rate"], -f["roc_auc"])
            if best is None or cand < best[0]:
                best = (cand, c, lr)
        _, c, lr = best
        grids[str(layer)] = {"chosen_c": c, "grid": grid}
        emb_dev, emb_w4 = lr.predict_proba(xdev)[:, 1], lr.predict_proba(xw4)[:, 1]
        tag = f"layer {layer}/{n_layers}"
        results.append(evaluate(f"(b) embeddings LR, {tag}, C={c}", emb_dev, emb_w4, dev_y, w4_y, dev_p, w4_p,
                                target))
        results.append(evaluate(f"(c) mean of (a) and (b), {tag}", (ngram_dev + emb_dev) / 2, (ngram_w4 + emb_w4) / 2,
                                dev_y, w4_y, dev_p, w4_p, target))

    report = {"model": str(args.model), "layers": layers, "hidden_layers": n_layers, "target_recall": target,
              "train_messages": len(rows), "train_crisis": int(sum(r["crisis"] for r in rows)),
              "train_dropped_as_in_dev_or_unseen_writer": dropped,
              "dev_messages": len(dev), "dev_crisis": int(dev_y.sum()),
              "unseen_writer_messages": len(held), "unseen_writer_crisis": int(w4_y.sum()),
              "embedded_texts": len(texts), "embed_seconds": round(embed_seconds, 1), "embeddings_cached": cached,
              "ngram_fit_seconds": round(ngram_seconds, 1),
              "pooling": "mean over tokens, float32, batch 16, <=128 tokens",
              "c_grid": grids, "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    print(f"model {args.model}; fit on {len(rows)} messages ({report['train_crisis']} crisis), dev {len(dev)} "
          f"({report['dev_crisis']}), unseen writer {len(held)} ({report['unseen_writer_crisis']}); embedding "
          f"{len(texts)} texts: {embed_seconds:.0f} s{' (cached)' if cached else ''}\n")
    print("| method | mode | dev recall | dev FPR | unseen recall | unseen FPR | unseen AUC |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        for mode in ("alone", "guard"):
            d, u = r[mode]["dev"], r[mode]["unseen_writer"]
            print(f"| {r['method']} | {mode} | {d['recall']:.3f} | {d['false_positive_rate']:.3f} | "
                  f"{u['recall']:.3f} | {u['false_positive_rate']:.3f} | {u['roc_auc']:.3f} |")


if __name__ == "__main__":
    main()
