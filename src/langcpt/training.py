"""The training seam: one place that knows the two backends.

- `unsloth` (CUDA present): Unsloth's FastLanguageModel and its fused LoRA kernels.
- `hf` (CPU, or multi-GPU through accelerate): transformers + peft.
Both take the same `lora` params and return a peft model; both train with `EmbeddingLRTrainer` (a transformers
Trainer whose optimizer gives the fully trained embedding/LM-head rows their own, smaller learning rate, as in
Unsloth's continued-pretraining recipe) and both are merged and verified by `merge_and_save`.
"""
from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import torch


def _preload_unsloth() -> None:
    """Unsloth patches transformers/peft when it is imported, so it must come first: import it here, before this
    module imports transformers, when CUDA is present and the run may use it (LANGCPT_BACKEND, set by the stage
    scripts from params, is not `hf`; single process). Any failure just leaves the hf backend."""
    if os.environ.get("LANGCPT_BACKEND", "auto") == "hf" or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return
    if torch.cuda.is_available():
        os.environ.setdefault("UNSLOTH_DISABLE_STATISTICS", "1")
        try:
            import unsloth  # noqa: F401
        except Exception:  # noqa: BLE001 - not installed or unusable: the hf backend stays
            pass


# cuBLAS is deterministic only with a fixed workspace (CUDA >= 10.2; torch.use_deterministic_algorithms raises or
# warns without it), and the variable counts only before the first cuBLAS handle exists: set it before any CUDA work
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
_preload_unsloth()

from transformers import Trainer, TrainerCallback  # noqa: E402 - after Unsloth's patches

from .fileio import InputError, atomic_path  # noqa: E402

LINEAR_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
EMBEDDING_MODULES = ["embed_tokens", "lm_head"]


def choose_backend(requested: str) -> str:
    """`auto` picks unsloth when CUDA is present and unsloth imports, hf otherwise."""
    if requested not in ("auto", "unsloth", "hf"):
        raise InputError(f"backend: expected auto, unsloth or hf; got {requested!r}")
    if requested != "auto":
        return requested
    if not torch.cuda.is_available() or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return "hf"
    try:
        import unsloth  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "not usable here"
        return "hf"
    return "unsloth"


def train_dtype() -> torch.dtype:
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def make_deterministic(seed: int, threads: int | None = None, deterministic: bool = True) -> dict:
    """Seed every RNG (Python, NumPy, torch and CUDA: LoRA init, dropout, data order, sampling), fix the intra-op
    thread count (`threads`; None leaves torch's default: the machine's cores, or OMP_NUM_THREADS) and, when
    `deterministic`, ask torch for deterministic algorithms (ops without one warn; cuDNN autotuning off).

    On CPU, a float sum's result depends on how it is split over threads, so the same seed and thread count on the
    same machine give the same bits; another thread count or CPU gives other (equally good) bits. Returns the thread
    count and the flag, for the stage's metrics."""
    from transformers import set_seed

    if threads is not None:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    if deterministic:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    set_seed(seed)
    return {"threads": torch.get_num_threads(), "deterministic": deterministic}


def load_lora_model(model_dir: Path, lora: dict, backend: str, max_seq_length: int, train_embeddings: bool,
                    seed: int = 0):
    """Load `model_dir` and wrap it in a fresh LoRA adapter; returns (peft_model, tokenizer).

    The adapter's random init (LoRA A) draws from `lora.seed`, default `seed` (the stage's): the same seed, the same
    adapter, whatever ran before in the process."""
    modules_to_save = EMBEDDING_MODULES if train_embeddings else None
    init_seed = lora["seed"] if lora.get("seed") is not None else seed
    if backend == "unsloth":
        from unsloth import FastLanguageModel

        model, tokenizer = FastLanguageModel.from_pretrained(
            model_name=str(model_dir), max_seq_length=max_seq_length, dtype=None, load_in_4bit=False)
        model = FastLanguageModel.get_peft_model(
            model, r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
            target_modules=LINEAR_TARGETS + (EMBEDDING_MODULES if train_embeddings else []),
            use_rslora=lora["rslora"], use_gradient_checkpointing="unsloth", random_state=init_seed)
        return model, tokenizer

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=train_dtype(), use_safetensors=True)
    config = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                        target_modules=LINEAR_TARGETS, use_rslora=lora["rslora"],
                        modules_to_save=modules_to_save, task_type="CAUSAL_LM")
    torch.manual_seed(init_seed)
    model = get_peft_model(model, config)
    if lora.get("gradient_checkpointing"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    return model, tokenizer


def trainable_parameters(model) -> dict:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    embedding = sum(p.numel() for n, p in model.named_parameters() if p.requires_grad and _is_embedding(n))
    return {"trainable_parameters": trainable, "embedding_parameters": embedding, "total_parameters": total}


def _is_embedding(name: str) -> bool:
    return "modules_to_save" in name or name.endswith(("embed_tokens.weight", "lm_head.weight"))


class EmbeddingLRTrainer(Trainer):
    """A Trainer whose optimizer puts fully trained embeddings/LM head in a group with `embedding_learning_rate`."""

    def __init__(self, *args, embedding_learning_rate: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.embedding_learning_rate = embedding_learning_rate

    def create_optimizer(self, model=None):
        if self.optimizer is not None:
            return self.optimizer
        opt_model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(opt_model))
        groups = {}
        for name, p in opt_model.named_parameters():
            if not p.requires_grad:
                continue
            emb = _is_embedding(name) and self.embedding_learning_rate is not None
            wd = self.args.weight_decay if name in decay else 0.0
            key = (emb, wd)
            if key not in groups:
                groups[key] = {"params": [], "weight_decay": wd}
                if emb:
                    groups[key]["lr"] = self.embedding_learning_rate
                    groups[key]["name"] = "embeddings"
            groups[key]["params"].append(p)
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        self.optimizer = optimizer_cls(list(groups.values()), **optimizer_kwargs)
        return self.optimizer


class CurveWriter(TrainerCallback):
    """Writes the training and evaluation log as CSV files that `dvc plots` reads (one row per log event).

    A resumed run starts from the checkpoint's log history, so the curves cover the whole run."""

    def __init__(self, train_csv: Path, eval_csv: Path):
        self.train_csv, self.eval_csv = Path(train_csv), Path(eval_csv)
        self.train_rows, self.eval_rows = [], []

    def on_train_begin(self, args, state, control, **kwargs):
        self.train_rows, self.eval_rows = [], []
        for logs in state.log_history:  # empty for a fresh run; the checkpoint's history for a resumed one
            self._add(logs, logs.get("step", 0))

    def on_log(self, args, state, control, logs=None, **kwargs):
        self._add(logs or {}, state.global_step)

    def _add(self, logs: dict, step: int) -> None:
        if "loss" in logs:
            self.train_rows.append({"step": step, "loss": round(float(logs["loss"]), 5),
                                    "learning_rate": logs.get("learning_rate", "")})
        if "eval_loss" in logs:
            loss = float(logs["eval_loss"])
            if self.eval_rows and self.eval_rows[-1]["step"] == step:
                self.eval_rows.pop()  # the final evaluate() repeats the last periodic one
            self.eval_rows.append({"step": step, "eval_loss": round(loss, 5),
                                   "eval_perplexity": round(float(torch.exp(torch.tensor(loss))), 4)})

    def write(self) -> None:
        for path, rows, fields in ((self.train_csv, self.train_rows, ["step", "loss", "learning_rate"]),
                                   (self.eval_csv, self.eval_rows, ["step", "eval_loss", "eval_perplexity"])):
            with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=fields)
                w.writeheader()
                w.writerows(rows)


class StepTimer(TrainerCallback):
    """Duration of each optimizer step and the peak GPU memory: steady-state throughput without the first steps
    (compilation, autotuning) and without the time spent in evaluation or checkpoints.

    On CUDA it records an event at each step end (no synchronisation: the CPU keeps queueing work ahead of the
    GPU, as in a bare loop) and reads the gaps between consecutive events once, after training. Elsewhere it takes
    the wall time between step ends. A step's duration is then the whole period from one step end to the next."""

    def __init__(self, warmup_steps: int = 3):
        self.warmup_steps, self.durations = warmup_steps, []
        self._marks, self._t0 = [], None
        self.cuda = torch.cuda.is_available()

    def _mark(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()

    def on_step_begin(self, args, state, control, **kwargs):
        if not self._marks and self._t0 is None:
            self._t0 = self._mark()  # the first step's start; later steps start where the previous one ended

    def on_step_end(self, args, state, control, **kwargs):
        self._marks.append((self._mark(), state.global_step))

    def on_evaluate(self, args, state, control, **kwargs):
        self._marks.append((self._mark(), None))  # the next period holds an evaluation: not a training step

    def on_save(self, args, state, control, **kwargs):
        self._marks.append((self._mark(), None))  # likewise a checkpoint

    def on_train_end(self, args, state, control, **kwargs):
        if self.cuda:
            torch.cuda.synchronize()
        marks = [(self._t0, 0)] + self._marks
        for (start, _), (end, step) in zip(marks, marks[1:]):
            if step is None or start is None:
                continue
            self.durations.append(start.elapsed_time(end) / 1000 if self.cuda else end - start)

    def summary(self, tokens_per_step: int) -> dict:
        steady = sorted(self.durations[self.warmup_steps:] or self.durations)
        out = {}
        if steady:
            median = steady[len(steady) // 2]
            out = {"step_seconds_median": round(median, 4), "steady_tokens_per_second": round(tokens_per_step / median, 1)}
        if self.cuda:
            out["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        return out


@torch.no_grad()
def _probe_logits(model, input_ids: torch.Tensor) -> torch.Tensor:
    model.eval()
    return model(input_ids=input_ids.to(model.device)).logits.float().cpu()


def merge_and_save(peft_model, tokenizer, out_dir: Path, probe_ids: torch.Tensor, atol: float = 1e-3) -> dict:
    """Merge the adapter into the weights, save safetensors, reload from disk and check logits are unchanged.

    With a tied-embedding base and a trained LM head, the merged model is saved untied: otherwise loading it would
    re-tie `lm_head` to `embed_tokens` and silently throw the trained head away.
    """
    from transformers import AutoModelForCausalLM

    if any(p.dtype != torch.float32 for p in peft_model.parameters()):
        # compare in float32: a bf16 forward alone differs from the f32 reload by ~10% of the largest logit (4.4 of
        # 37.5 on an H100 under Unsloth); in float32 Unsloth's fused LoRA forward still differs from the merged one
        # by ~5% (1.8 of 37.2), hence the bf16 recipes' tolerance (trainer_setup) and the exact save check below
        peft_model = peft_model.to(torch.float32)
    before = _probe_logits(peft_model, probe_ids)
    device = peft_model.device
    was_tied = bool(getattr(peft_model.config, "tie_word_embeddings", False))
    merged = peft_model.merge_and_unload()
    config = merged.config
    head, emb = merged.get_output_embeddings(), merged.get_input_embeddings()
    if was_tied and head is not None and not torch.equal(head.weight, emb.weight):
        # peft >= 0.18 unties the config itself; make sure, and give the head its own tensor
        head.weight = torch.nn.Parameter(head.weight.detach().clone())
        config.tie_word_embeddings = False
        if hasattr(config, "get_text_config"):
            config.get_text_config().tie_word_embeddings = False
    untied = was_tied and not config.tie_word_embeddings
    # the saved head is its own tensor (a trained head survives the reload), whoever untied the config
    own_head = head is not None and not config.tie_word_embeddings and not torch.equal(head.weight, emb.weight)
    merged = merged.to(torch.float32)
    with atomic_path(out_dir, is_dir=True) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        # on the adapter model's device: in a process that imported Unsloth, its patched rotary embedding lives on CUDA
        reloaded = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32, use_safetensors=True).to(device)
        after = _probe_logits(reloaded, probe_ids)
        diff = (after - before).abs().max().item()
        scale = before.abs().max().item()
        if diff > atol * max(1.0, scale):
            raise RuntimeError(f"merge check failed: reloaded merged model's logits differ from the adapter model's "
                               f"by {diff:.4g} (max |logit| {scale:.3g}); not writing {out_dir}")
    return {"merge_max_logit_diff": diff, "untied_lm_head": untied, "lm_head_saved_separately": own_head}
