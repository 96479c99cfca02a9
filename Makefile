# The two commands of the README:
#   make repro   set up (once) and run the whole pipeline on the embedded default (`dvc repro`)
#   make repro PRESET=eu-basque   first apply profiles/eu-basque.yaml onto params.yaml (kept there; `make presets`
#                lists them; en-mental-health trains on CC-BY-NC-4.0 content: non-commercial use only)
#   make test    set up (once) and run the test suite
#   make plots   the `dvc plots` of the workspace as HTML + PNG in reports/plots/
#   make walkthrough   run notebooks/walkthrough.ipynb on this repository's outputs and save them in it
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export HF_HUB_OFFLINE ?= 1
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: setup repro test presets plots walkthrough
PRESET ?=
setup:
	bash scripts/setup.sh test

repro: setup
	$(if $(PRESET),python pipelines/apply_profile.py profiles/$(PRESET).yaml)
	dvc repro

presets:
	@echo "make repro PRESET=<name>, one of:"; for f in profiles/*.yaml; do n=$${f#profiles/}; \
	  printf '  %-18s %s\n' "$${n%.yaml}" "$$(sed -n '1s/^# *//p' $$f)"; done

test: setup
	python -m pytest -q

# `dvc plots show` as HTML (reports/plots/index.html, Vega from a CDN) and the same plots as PNG for the README
# (reports/plots/*.png, rendered offline by scripts/plots_png.py)
plots: setup
	dvc plots show -o reports/plots
	python scripts/plots_png.py

# notebooks/walkthrough.ipynb rebuilt from notebooks/build_walkthrough.py and executed on the workspace's outputs
walkthrough: setup
	python notebooks/build_walkthrough.py --execute
