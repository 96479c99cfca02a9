"""Write notebooks/walkthrough.ipynb (the source of the notebook is this file; edit here, then rebuild).

    python notebooks/build_walkthrough.py              # the notebook without outputs
    python notebooks/build_walkthrough.py --execute    # and run it on this repository's outputs, saving them

The notebook reads what `dvc repro` wrote in the repository named by $LANGCPT_REPO (default: its own); it trains
nothing (one cell, marked optional and off, starts an experiment). tests/test_notebook.py runs it on the tiny
profile's outputs.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "walkthrough.ipynb"

CELLS: list[tuple[str, str]] = [
    ("md", """\
# langcpt walkthrough: teach a small LLM German, turn it into a support chatbot, run it locally

This notebook tells the story of one pipeline run **on that run's own outputs**: the reports, plot files, MLflow runs
and model files that `dvc repro` wrote. It trains nothing and re-implements no stage; the helpers it calls live in
`src/langcpt/walkthrough.py` (reading outputs) and the library the stages use (`langcpt.evaluation.generate`,
`langcpt.gguf_export`). Every number below is read from a file or measured in a cell.

It reads the repository named by the environment variable `LANGCPT_REPO`, by default the one it sits in. When an
output is missing, the first code cell says which stage to run (`dvc repro <stage>`)."""),
    ("code", """\
import io
import os
import warnings

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, Image, Markdown, display

from langcpt import walkthrough as wt

pd.set_option("display.max_colwidth", None)
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm in a kernel without widgets
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
REPO = wt.find_repo()  # $LANGCPT_REPO, else the repository of this notebook
P = wt.params(REPO)
TARGET = P["clean"]["language"]
# everything the sections below read; a missing file raises MissingOutput naming the stage that writes it
wt.require(REPO, "reports/data_card/card.json", "reports/data_card/data_card.md", "reports/data_card/data_card.png",
           "reports/near_duplicates.json", "reports/pretrain/train_loss.csv", "reports/pretrain/eval_loss.csv",
           "reports/evaluate/perplexity.csv", "reports/evaluate/bits_per_byte.csv", "reports/evaluate/samples.json",
           "reports/evaluate/metrics.json", "reports/sft/train_loss.csv", "reports/sft/eval_loss.csv",
           "reports/sft/metrics.json", "models/sft/model.safetensors", "reports/gguf.json", "models/gguf/Modelfile",
           f"models/gguf/model-{P['gguf']['gate_quantization']}.gguf")
print(f"reading the outputs of {REPO.name!r}: target language {TARGET!r}, base model {P['base']['gguf_file'] or P['base']['model_id'] or P['base']['path']}")"""),

    ("md", """\
## 1. Concept: continued pretraining, then fine-tuning

**Continued pretraining (CPT)** keeps training a finished model on the *same objective it was pretrained with*, next
token prediction on plain text, but on new text: here German from Debian's German packages. It changes what the model
*knows* (vocabulary use, grammar, facts of the new language) and needs only raw text, lots of it. Some general English
is mixed back in ("replay") so the model forgets less of what it knew.

**Fine-tuning (SFT)** then trains on a small set of *conversations* with the loss on the assistant's turns only. It
changes how the model *behaves*: the chat format, the tone of a supportive listener, stating its limits and answering
a crisis with a referral. SFT on a model that barely knows the language teaches form without substance, which is why
CPT comes first.

Both are DVC stages; `dvc dag` draws the graph from `dvc.yaml` (below: its edges, shortcut edges left out)."""),
    ("code", """\
edges = wt.dag_edges(wt.dvc(REPO, "dag", "--dot"))
wt.plot_dag(edges)
plt.title("dvc dag: the stages of dvc.yaml")
plt.show()"""),

    ("md", """\
## 2. Data: the data card

The `data_card` stage summarises what `ingest` fetched and `dedup_clean` kept: sources and licences, documents,
characters and tokens (counted with the base model's tokenizer), what each cleaning rule removed, and the language
mix that language identification saw. Its Markdown card and figure, as the stage wrote them:"""),
    ("code", """\
card_md = (REPO / "reports/data_card/data_card.md").read_text(encoding="utf-8")
display(Markdown(card_md.replace("\\n## ", "\\n#### ").replace("# Data card", "### Data card", 1)))
display(Image(filename=str(REPO / "reports/data_card/data_card.png")))"""),
    ("code", """\
card = wt.read_json(REPO, "reports/data_card/card.json")
fig, axes = plt.subplots(1, len(card["splits"]), figsize=(5 * len(card["splits"]), 3))
for ax, (split, s) in zip(axes if len(card["splits"]) > 1 else [axes], card["splits"].items()):
    langs = pd.Series(s["languages"]).sort_values()
    ax.barh(langs.index, langs.values)
    ax.set_xscale("log")
    ax.set_title(f"{split}: language mix at the language rule (documents, log scale)")
plt.tight_layout()
plt.show()
pd.DataFrame({split: {"documents in": s["input_documents"], "documents kept": s["documents"],
                      **{f"removed: {k}": v for k, v in s["removed"].items()}, "tokens kept": s["tokens"]}
              for split, s in card["splits"].items()})"""),
    ("md", """\
**Near duplicates.** `dedup_clean` drops exact duplicates, then near duplicates by MinHash-LSH over word 2-grams with a
Jaccard check. `reports/near_duplicates.json` keeps examples of pairs it caught: the document it kept and the one it
removed. Two of them, side by side:"""),
    ("code", """\
near = wt.read_json(REPO, "reports/near_duplicates.json")
pairs = [dict(p, split=split) for split, rows in near.items() for p in rows][:2]
print(", ".join(f"{split}: {len(rows)} example pairs" for split, rows in near.items()))
display(HTML(wt.side_by_side(pairs)))"""),

    ("md", """\
## 3. Training: continued pretraining

The `pretrain` stage writes its curves as `dvc plots` files (`reports/pretrain/train_loss.csv`, `eval_loss.csv`) and
logs the same run to MLflow. Solid lines: the DVC plot files; dashed: the newest finished `pretrain` run in the
repository's MLflow store (`mlflow.db`), which is the same run when the store belongs to this checkout."""),
    ("code", """\
client = wt.mlflow_client(REPO)
EXPERIMENT = P["mlflow"]["experiment"]


def curves(stage, title):
    train = wt.read_csv(REPO, f"reports/{stage}/train_loss.csv")
    held = wt.read_csv(REPO, f"reports/{stage}/eval_loss.csv")
    run = wt.latest_run(client, EXPERIMENT, stage) if client else None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
    ax1.plot(train["step"], train["loss"], label="training loss (DVC plots file)")
    ax1.plot(held["step"], held["eval_loss"], marker="o", label="held-out loss (DVC plots file)")
    ax2.plot(held["step"], held["eval_perplexity"], marker="o", label="held-out perplexity (DVC plots file)")
    if run is not None:
        for key, ax in (("loss", ax1), ("eval_loss", ax1)):
            h = wt.metric_history(client, run, key)
            ax.plot(h["step"], h["value"], "--", label=f"MLflow {key}")
        h = wt.metric_history(client, run, "eval_loss")
        same = len(h) > 0 and abs(h["value"].iloc[-1] - held["eval_loss"].iloc[-1]) < 1e-3
        started = pd.Timestamp(run.info.start_time, unit="ms").strftime("%Y-%m-%d %H:%M UTC")
        print(f"MLflow run {run.info.run_id} ({stage}, started {started}): "
              + ("the run of these files (same final held-out loss)" if same else
                 "NOT the run of these files (another final held-out loss: the store holds other runs of this stage)"))
    else:
        print(f"no MLflow run of {stage} (no mlflow.db in the repository: the stages ran with LANGCPT_MLFLOW=0 "
              "or against another MLFLOW_TRACKING_URI)")
    ax1.set(xlabel="step", ylabel="loss", title=f"{title}: loss")
    ax2.set(xlabel="step", ylabel="perplexity", title=f"{title}: held-out perplexity")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    plt.tight_layout()
    plt.show()


curves("pretrain", "continued pretraining")"""),
    ("md", """\
**Before and after.** The `evaluate` stage scores the base model, the CPT checkpoint and the SFT model on held-out
text of the target language and on held-out general English (the forgetting check): perplexity per token and bits per
byte (comparable across tokenizers). From its plot files `reports/evaluate/perplexity.csv` and `bits_per_byte.csv`;
the change columns are relative to the base model."""),
    ("code", """\
ppl = wt.read_csv(REPO, "reports/evaluate/perplexity.csv")
bpb = wt.read_csv(REPO, "reports/evaluate/bits_per_byte.csv")
names = {"target": f"target ({TARGET})", "general_english": "general English"}
table = pd.concat({"perplexity": ppl.pivot(index="model", columns="dataset", values="perplexity"),
                   "bits per byte": bpb.pivot(index="model", columns="dataset", values="bits_per_byte")}, axis=1)
table = table.reindex(list(dict.fromkeys(ppl["model"]))).rename(columns=names)
change = (table / table.iloc[0] - 1).rename(columns=lambda c: f"{c}: change vs {table.index[0]}", level=1)
display(pd.concat([table, change], axis=1).style.format("{:.3f}").format("{:+.1%}", subset=list(change.columns)))
gates = wt.read_json(REPO, "reports/evaluate/metrics.json")["gates"]
print("evaluate gates:", "passed" if gates["passed"] else "FAILED",
      "(off)" if not gates.get("enabled", True) else "")"""),

    ("md", """\
## 4. Language learned: sample generations, before and after

The `evaluate` stage also generates greedily from the same prompts with every model (`evaluate.prompts`, plain-text
continuations; the default's list includes a translation prompt, *Übersetze ins Deutsche: Hello, how are you
today?*) and answers `evaluate.chat_prompts` as a chat (base and SFT model). From `reports/evaluate/samples.json`:"""),
    ("code", """\
samples = pd.DataFrame(wt.read_json(REPO, "reports/evaluate/samples.json"))
translation = [p for p in P["evaluate"]["prompts"] if "Hello" in p or "Übersetze" in p or "Translate" in p]
print("translation prompt of this run:", translation or "none (this run's evaluate.prompts have no translation prompt)")
wide = {"white-space": "pre-wrap", "text-align": "left", "vertical-align": "top"}
for kind in ("text", "chat"):
    view = samples[samples["kind"] == kind].pivot(index="prompt", columns="model", values="output")
    view = view[[m for m in ("base", "pretrained", "sft") if m in view.columns]]
    display(Markdown(f"**{kind} prompts**"), view.style.set_properties(**wide))"""),

    ("md", """\
**Does it speak the language?** Perplexity says the model predicts German text better, not that it writes German. The
`evaluate` stage also measures what the models *write* (`langcpt.proficiency`, docs/proficiency.md): chrF of
English → target translations (sentence pairs from a Debian gettext catalog that is not a training source; few-shot,
and as a chat request for the SFT model), and on continuations of held-out prompts and on chat replies the share in
the target language (py3langid), the share of words a Hunspell dictionary accepts, distinct words/bigrams and
repetition, greedy and sampled with the Modelfile's settings. The row *held-out text* is the real continuation,
measured the same way: the ceiling a model can reach. From `reports/evaluate/metrics.json` (`proficiency`):"""),
    ("code", """\
prof = wt.read_json(REPO, "reports/evaluate/metrics.json").get("proficiency")
if prof is None:
    print("no proficiency measures in this run (evaluate.proficiency.enabled: false)")
else:
    rows = {m: prof[m] for m in ("base", "pretrained", "sft") if m in prof}
    rows["held-out text"] = {f"{k}_greedy": v for k, v in prof["reference"].items()}
    table = pd.DataFrame(rows)  # one row per measure and decoding, one column per model
    table = table[[not k.endswith("_spread") for k in table.index]]
    table.index = pd.MultiIndex.from_tuples([tuple(k.rsplit("_", 1)) for k in table.index], names=["measure", "decoding"])
    display(table.sort_index().style.format("{:.3f}", na_rep="–"))
    data = prof.get("translation_data") or {}
    if data:
        c = data["contamination"]
        print(f"translation pairs: {data['package']} {data['version']}, {data['catalog']}; contamination: "
              f"{c['ngram_overlap']:.1%} of the references' {c['ngram']}-grams occur in the training text, "
              f"{c['verbatim_references']} of {c['references']} references verbatim")
    print(f"sample seeds {prof['sample_seeds']}; proficiency took {prof['wall_seconds']} s of the evaluate stage")"""),

    ("md", """\
## 5. From the custom checkpoint to a chatbot: SFT

The `sft` stage trains a new LoRA on the CPT checkpoint with the support conversations of `sft.data`, loss on the
assistant's turns only, and holds some conversations out (stratified by category). Its curves, DVC plot files and
MLflow run as above:"""),
    ("code", """\
curves("sft", "SFT")
sft_metrics = wt.read_json(REPO, "reports/sft/metrics.json")
pd.Series({k: sft_metrics[k] for k in ("train_conversations", "heldout_conversations", "steps", "train_loss",
                                       "heldout_loss", "heldout_perplexity") if k in sft_metrics}, name="reports/sft/metrics.json")"""),
    ("md", """\
**Three conversations with the SFT model** (`models/sft`, transformers, greedy as in the evaluate stage): the first
user message of three held-out conversations of the SFT data, never trained on (the stage's own split), with the
conversation's system prompt. The third is a crisis message: its reply must refer to help. Next to each reply, the
data's reference reply."""),
    ("code", """\
from transformers.utils import logging as hf_logging

from langcpt.evaluation import generate, load_model

hf_logging.disable_progress_bar()
sft_model, sft_tok = load_model(REPO / "models/sft")
MAX_TOKENS = P["gguf"]["gate_max_tokens"]
chats = []
for conv in wt.heldout_examples(REPO, ["listening", "coping", "crisis"]):
    system, user, reference = wt.first_exchange(conv)
    reply = generate(sft_model, sft_tok, user, MAX_TOKENS, chat=True, system_prompt=system)
    chats.append({"category": conv["category"], "user": user, "SFT model": reply, "reference (data)": reference})
display(pd.DataFrame(chats).set_index("category").style.set_properties(**wide))"""),
    ("md", """\
**The crisis message and the guard.** A 135M model does not reliably write the referral it was trained on, so the
chat paths this project ships do not rely on it: the crisis guard (`langcpt.safety`, `safety` in params.yaml) checks
the user's message in two layers (`safety.crisis_patterns`, then the learned detector of the `detector` stage) and
answers in two tiers: a pattern match or a detector score over the high threshold gets the emergency referral its
group needs (112, ...); a score between the two thresholds gets a gentle check-in (`safety.check_in`: the
TelefonSeelsorge, no 112), each appended when the reply lacks its numbers. The registered GGUF pyfunc applies it,
and so do the chats below. The `safety` stage measures both sides on the frozen test set (README "Crisis
safety")."""),
    ("code", """\
from langcpt.safety import CrisisGuard, has_number

guard = CrisisGuard.from_params(P["safety"], root=REPO)
crisis = chats[-1]
shown, appended = guard.apply(crisis["user"], crisis["SFT model"])
verdict = guard.detect(crisis["user"])
answer = guard.answer(verdict)  # the emergency referral of the group the guard names, or the check-in
what = "the emergency referral" if verdict["tier"] == "emergency" else "the check-in"
lacking = [n for n in (answer.numbers if answer else []) if not has_number(crisis["SFT model"], n)]
display(Markdown(
    f"**user:** {crisis['user']}\\n\\n*guard patterns matched:* `{verdict['patterns']}`; *detector score:* "
    f"{verdict['score']}; *tier:* {verdict['tier']}\\n\\n"
    + (f"The SFT model's own reply lacks {', '.join(lacking)}, so the guard appends {what}:" if appended
       else f"The SFT model's own reply already gives the numbers of {what}; the guard leaves it:"
       if verdict["crisis"]
       else "The guard does not recognise this crisis message (a miss: neither layer fires), so the reply is the "
            "model's alone:")
    + "\\n\\n> " + shown.replace("\\n", "\\n> ")))
sm = wt.read_json(REPO, "reports/safety/metrics.json")
pd.Series({"crisis messages answered (test set)": sm["crisis_replies"],
           "SFT model alone: replies with the referral": f"{sm['sft_crisis_referral_rate']:.0%}",
           "with the guard": f"{sm['guarded_crisis_referral_rate']:.0%}",
           "with the guard, the check-in instead": f"{sm.get('guarded_crisis_check_in_rate', float('nan')):.0%}",
           "guard recall (either tier), frozen test set": sm["crisis_detection_recall"],
           "guard recall, emergency tier": sm.get("crisis_emergency_recall"),
           "guard recall, probe messages": sm["crisis_probe_recall"],
           "emergency referrals, test set's non-crisis messages": sm["crisis_false_positive_rate"],
           "check-ins, test set's non-crisis messages": sm.get("crisis_safe_check_in_rate"),
           "false alarms, safe probes": sm["crisis_probe_false_positive_rate"],
           "safety gates passed": sm["safety"]["passed"]}, name="reports/safety/metrics.json")"""),

    ("md", """\
## 6. Local inference: GGUF, Modelfile, llama.cpp

The `gguf` stage converts the SFT model to GGUF with llama.cpp, quantizes it, checks tokenizer, logit and chat parity
with the transformers model, measures llama.cpp generation speed per file, and writes an Ollama `Modelfile` for the
`gguf.gate_quantization` file. The files (size on disk) with the stage's measurements from `reports/gguf.json`:"""),
    ("code", """\
gguf = wt.read_json(REPO, "reports/gguf.json")
files = sorted((REPO / "models/gguf").glob("*.gguf"), key=lambda f: f.stat().st_size, reverse=True)
pd.DataFrame([{"file": f.name, "size on disk (MiB)": round(f.stat().st_size / 2**20, 1),
               **{k: v for k, v in gguf["files"].get(f.stem.removeprefix("model-"), {}).items()
                  if k in ("generation_tokens_per_s", "argmax_agreement", "argmax_agreement_decisive")}}
              for f in files]).set_index("file")"""),
    ("code", """\
print((REPO / "models/gguf/Modelfile").read_text(encoding="utf-8"))"""),
    ("md", """\
**A chat through llama.cpp** from the `gguf.gate_quantization` file (llama-cpp-python, `langcpt.gguf_export.chat`),
with the Modelfile's system prompt and sampling parameters: the gate prompt of `params.yaml`, then the crisis message
of section 5, each shown as the registered pyfunc returns it (the crisis guard applied; whether it appended the
referral, or the check-in, is noted)."""),
    ("code", """\
from langcpt import gguf_export

mf = P["gguf"]["modelfile"]
QUANT_FILE = REPO / "models/gguf" / f"model-{P['gguf']['gate_quantization']}.gguf"
llm = gguf_export.load(QUANT_FILE, n_ctx=mf["num_ctx"])
for user in (P["gguf"]["gate_prompt"], crisis["user"]):
    messages = [{"role": "system", "content": mf["system"]}, {"role": "user", "content": user}]
    out = gguf_export.chat(llm, messages, max_tokens=MAX_TOKENS, temperature=mf["temperature"], seed=0,
                           top_p=mf["top_p"], repeat_penalty=mf["repeat_penalty"])
    shown, appended = guard.apply(user, out["text"])
    added = "no" if not appended else "yes (the check-in)" if guard.detect(user)["tier"] == "check_in" else "yes"
    display(Markdown(f"**user:** {user}\\n\\n**{QUANT_FILE.name}:** {shown}\\n\\n"
                     f"*({out['tokens']} tokens, finish reason {out['finish_reason']}; referral numbers in the "
                     f"model's own reply: {wt.referrals_in(out['text'], crisis['reference (data)']) or 'none'}; "
                     f"guard appended the referral: {added})*"))"""),
    ("md", """\
**Tokens per second against transformers**, measured here, one after the other on the same chat prompt with the same
number of new tokens (`gguf.speed_tokens`): llama.cpp with `gguf_export.decode_speed`, transformers (the SFT
checkpoint in its own dtype) the way `benchmarks/gguf_speed.py` does it. Both count generation after the prompt. On a
busy machine the numbers move; `python benchmarks/gguf_speed.py` measures all files in rounds, each side in its own
process."""),
    ("code", """\
n = P["gguf"]["speed_tokens"]
text = sft_tok.apply_chat_template([{"role": "system", "content": mf["system"]},
                                    {"role": "user", "content": P["gguf"]["gate_prompt"]}],
                                   tokenize=False, add_generation_prompt=True)
speed = {QUANT_FILE.name + " (llama.cpp)": gguf_export.decode_speed(llm, text, n),
         "models/sft (transformers)": wt.hf_decode_speed(sft_model, sft_tok, text, n)}
llm.close()
base_speed = speed["models/sft (transformers)"]
print(f"{n} new tokens, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
pd.DataFrame({"tokens/s": speed, "x transformers": {k: v / base_speed for k, v in speed.items()}}).round(2)"""),

    ("md", """\
## 7. Your turn

**Rerun with other parameters.** `dvc exp run -S key=value` runs the pipeline with changed params without touching
`params.yaml` in git; only the stages whose inputs changed rerun. A queue runs a grid:

```bash
dvc exp run -n <name> -S pretrain.learning_rate=<value> -S pretrain.lora.r=<value>
dvc exp run --queue -S tokenize.replay.ratio=<a>,<b> && dvc queue start -j 1
```

**Compare.** `dvc exp show` puts every experiment's params and metrics side by side (`--only-changed`,
`--keep <regex>`, `--csv`); `dvc plots diff <experiments>` draws their curves on top of each other; `dvc metrics diff`
compares the workspace with a commit. The `summary` stage gathers the headline numbers under flat, readable names
(`reports/summary.json`), so one `--keep` regex picks them out. This repository, as `dvc exp show` sees it:"""),
    ("code", """\
KEEP = (r"Experiment|Created|pretrain\\.(learning_rate|max_steps|lora\\.r)$|sft\\.learning_rate$|"
        r"tokenize\\.replay\\.ratio$|(target|general)_(perplexity|bpb)_|forgetting_delta_|sft_heldout_|"
        r"gguf_.*_size_mb$|gates_passed$|\\w+_wall_s$")
print(f"dvc exp show --drop '.*' --keep '{KEEP}'\\n")
gone = wt.missing(REPO, ["reports/summary.json"])
if gone:
    stage = gone["reports/summary.json"]
    print("(reports/summary.json is missing: " + (f"run `dvc repro {stage}`" if stage else
                                                  "no stage of this dvc.yaml writes it") + ")")
else:
    display(pd.Series(wt.read_json(REPO, "reports/summary.json"), name="reports/summary.json").to_frame())
shown = pd.read_csv(io.StringIO(wt.dvc(REPO, "exp", "show", "--csv", "--drop", ".*", "--keep", KEEP)))
shown.T"""),
    ("md", """\
The cell below starts an experiment: **optional, off by default** (it trains: minutes on the tiny profile, longer on the
default). Set `RUN_EXPERIMENT = True` to run it."""),
    ("code", """\
# OPTIONAL: trains. An experiment with twice the CPT steps, then its metrics next to the workspace.
RUN_EXPERIMENT = False
command = ["exp", "run", "-n", "more-cpt-steps", "-S", f"pretrain.max_steps={2 * P['pretrain']['max_steps']}"]
print("dvc " + " ".join(command))
if RUN_EXPERIMENT:
    print(wt.dvc(REPO, *command)[-3000:])
    print(wt.dvc(REPO, "exp", "show", "--only-changed", "--csv"))"""),
    ("md", """\
**Share through a remote.** Git holds code, params, `dvc.lock` and the reports; the DVC remote holds data and models.

```bash
dvc push                                    # data and models to the default remote (.dvc/config)
dvc remote add -d s3 s3://<bucket>/dvc      # or ssh://user@host/path, or a mounted folder
git clone <repo> && cd langcpt && dvc pull  # elsewhere: the same files, `dvc repro` has nothing to rerun
dvc exp push origin <experiment>            # an experiment: its git ref and its outputs
```

The remotes this repository knows:"""),
    ("code", """\
print(wt.dvc(REPO, "remote", "list") or "(no remote configured)")"""),
]


def build() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, src) in enumerate(CELLS):
        cell = new_markdown_cell(src) if kind == "md" else new_code_cell(src)
        cell["id"] = f"cell-{i:02d}"  # stable ids: rebuilding gives the same file
        nb.cells.append(cell)
    return nb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--execute", action="store_true", help="run it on this repository's outputs and save them")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = ap.parse_args()
    nb = build()
    if args.execute:
        from nbclient import NotebookClient

        t0 = time.perf_counter()
        NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(HERE)}}).execute()
        for cell in nb.cells:  # execution counts and timing metadata change every run: keep the diff small
            cell.get("metadata", {}).pop("execution", None)
        print(f"executed in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    nbformat.validate(nb)
    nbformat.write(nb, NOTEBOOK)
    print(NOTEBOOK)


if __name__ == "__main__":
    main()
