# The two commands of the README:
#   make repro   set up (once) and run the whole pipeline on the embedded default (`dvc repro`)
#   make repro PRESET=eu-basque   first apply profiles/eu-basque.yaml onto params.yaml (kept there; `make presets`
#                lists them; en-mental-health trains on CC-BY-NC-4.0 content: non-commercial use only)
#   make repro PRESET=gpu   on a CUDA machine: the GPU dependency set (pyproject's `gpu` extra: torch CUDA, Unsloth)
#                and profiles/gpu.yaml, then `dvc repro` of every stage
#   make test    set up (once) and run the test suite
#   make plots   the `dvc plots` of the workspace as HTML + PNG in reports/plots/
#   make walkthrough   run notebooks/walkthrough.ipynb on this repository's outputs and save them in it
#   make sweep-replay  queue tokenize.replay.ratio=$(RATIOS) up to evaluate, run, plot reports/sweeps/replay.png
#   make serve   the GGUF behind the crisis guard: OpenAI-compatible server on http://127.0.0.1:8000/v1 (langcpt.server)
#   make check-lock    fail when dvc.lock does not match the code and params (scripts/check_lock.py)
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export HF_HUB_OFFLINE ?= 1
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: setup repro test test-fast presets plots walkthrough serve
PRESET ?=
# the dependency set: `gpu` (CUDA) for PRESET=gpu, else `cpu`; the test tools either way
EXTRAS ?= $(if $(filter gpu,$(PRESET)),gpu,cpu),test
setup:
	bash scripts/setup.sh $(EXTRAS)

repro: setup
	$(if $(PRESET),python pipelines/apply_profile.py profiles/$(PRESET).yaml)
	dvc repro

presets:
	@echo "make repro PRESET=<name>, one of:"; for f in profiles/*.yaml; do n=$${f#profiles/}; \
	  printf '  %-18s %s\n' "$${n%.yaml}" "$$(sed -n '1s/^# *//p' $$f)"; done

test: setup
	python -m pytest -q

# the unit tier only: the tests without the `integration` marker (tests/conftest.py, docs/tests.md)
test-fast: setup
	python -m pytest -q -m "not integration"

# `dvc plots show` as HTML (reports/plots/index.html, Vega from a CDN) and the same plots as PNG for the README
# (reports/plots/*.png, rendered offline by scripts/plots_png.py)
plots: setup
	dvc plots show -o reports/plots
	python scripts/plots_png.py

# models/gguf/model-<gguf.gate_quantization>.gguf behind llama-cpp-python's OpenAI-compatible server with the crisis
# guard on every reply (docs/serving.md "Serve the GGUF with the guard"); flags: make serve SERVE_ARGS="--port 8080"
SERVE_ARGS ?=
serve:
	python -m langcpt.server $(SERVE_ARGS)
# dvc.lock against the working tree's tracked code and params: each stale stage and file/param named, exit 1
# (docs/reproducibility.md; scripts/pre-commit runs the same check on a commit that includes dvc.lock)
.PHONY: check-lock
check-lock: setup
	python scripts/check_lock.py

# notebooks/walkthrough.ipynb rebuilt from notebooks/build_walkthrough.py and executed on the workspace's outputs
walkthrough: setup
	python notebooks/build_walkthrough.py --execute

# The replay trade-off (docs/metrics.md): one queued experiment per
# tokenize.replay.ratio in RATIOS, run up to evaluate (gguf is not rerun) by `dvc queue start -j 1`; waits for
# them, fails if one failed, then writes reports/sweeps/replay.csv + replay.png and prints the table: German
# against general-English bits per byte, change vs base after CPT and SFT (scripts/sweep_tradeoff.py). Each ratio
# reruns tokenize_chunk, pretrain, sft and evaluate (about an hour each on the default CPU profile).
.PHONY: sweep-replay
RATIOS ?= 0,0.05,0.2
sweep-replay: setup
	@out=$$(dvc exp run --queue evaluate -S tokenize.replay.ratio=$(RATIOS)) || exit 1; echo "$$out"; \
	names=" $$(echo "$$out" | sed -n "s/^Queued experiment '\([^']*\)'.*/\1/p" | tr '\n' ' ')"; \
	n=$$(echo $$names | wc -w); [ "$$n" -gt 0 ] || { echo "error: dvc exp run --queue queued nothing" >&2; exit 1; }; \
	states() { dvc queue status | awk -v names="$$names" 'index(names, " " $$2 " ") { print $$NF }'; }; \
	dvc queue start -j 1 && while states | grep -qxE 'Queued|Running'; do sleep 30; done; \
	dvc queue status; \
	[ "$$(states | grep -cx Success)" -eq "$$n" ] || { \
	  echo "error: not every experiment of the sweep succeeded (dvc queue logs <name>)" >&2; exit 1; }
	python scripts/sweep_tradeoff.py --name replay
