# The two commands of the README:
#   make repro   set up (once) and run the whole pipeline on the embedded default (`dvc repro`)
#   make test    set up (once) and run the test suite
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export HF_HUB_OFFLINE ?= 1
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: setup repro test
setup:
	bash scripts/setup.sh test

repro: setup
	dvc repro

test: setup
	python -m pytest -q
