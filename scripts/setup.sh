#!/usr/bin/env bash
# One-time set-up of a fresh machine: a virtualenv in .venv with the pinned packages of one dependency set
# (`cpu,test`, the default: CPU torch; `gpu,test` on a CUDA machine: torch's CUDA build, Unsloth), llama.cpp built
# once from the llama-cpp-python sdist (~9 min on 2 cores, then pip's wheel cache has it), plus the Debian tools
# the ingest stage uses (apt lists for `apt-get download`, groff for man pages).
#   usage: scripts/setup.sh [EXTRAS]     e.g. cpu,test (default) or gpu,test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-cpu,test}"
case ",$extras," in
  *,gpu,*) command -v nvidia-smi >/dev/null || echo "warning: the gpu set on a machine without nvidia-smi: torch's CUDA build will not find a GPU (use the default cpu set)" >&2 ;;
esac

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
stamp=.venv/.langcpt-installed  # holds the extras installed; a change of set or of pyproject.toml reinstalls
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$(cat "$stamp")" != "$extras" ]; then
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" .venv/bin/pip install -q -e ".[${extras}]"
  echo "$extras" > "$stamp"
fi

need_apt=()
command -v groff >/dev/null || need_apt+=(groff-base)
command -v dpkg >/dev/null || need_apt+=(dpkg)
command -v redis-server >/dev/null || need_apt+=(redis-server)  # tests/test_dedup.py: shared LSH index
command -v go >/dev/null || need_apt+=(golang-go)  # tests/test_gguf_export.py: Ollama TEMPLATE via Go's text/template
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)  # tests/test_remotes.py: DVC SSH remote on loopback
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null \
  || need_apt+=(postgresql)  # tests/test_mlflow_server.py: MLflow's PostgreSQL backend store on loopback
if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    [ ${#need_apt[@]} -eq 0 ] || apt-get install -y -qq "${need_apt[@]}"
  else
    echo "note: run 'sudo apt-get update' (and install: ${need_apt[*]:-nothing}) so the ingest stage can download Debian packages" >&2
  fi
fi
echo "set-up done: .venv ready (activate with: source .venv/bin/activate)"
