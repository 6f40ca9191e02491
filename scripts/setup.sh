#!/usr/bin/env bash
# Install PRISM and what it needs on a fresh machine.
#   bash scripts/setup.sh          # the tool
#   bash scripts/setup.sh --test   # the tool and the test requirements
# * bedtools (used by pybedtools) from the system package manager when missing.
# * PyTorch: when torch is not installed yet and no NVIDIA GPU is present, the CPU build
#   (pip install torch==2.13.0 takes the local CPU wheel on our machines; elsewhere set
#   PRISM_TORCH_INDEX=https://download.pytorch.org/whl/cpu to get a CPU wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extra=""
[ "${1:-}" = "--test" ] && extra="[test]"

if ! command -v bedtools >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing bedtools (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bedtools >/dev/null
  elif command -v conda >/dev/null 2>&1; then
    conda install -y -c bioconda bedtools
  else
    echo "setup: bedtools is missing; install it (apt-get install bedtools, brew install bedtools or conda install -c bioconda bedtools)" >&2
    exit 1
  fi
fi

if ! $PY -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    echo "setup: GPU found; installing torch (CUDA build)"
    $PY -m pip install -q "torch>=2.1,<3"
  elif [ -n "${PRISM_TORCH_INDEX:-}" ]; then
    $PY -m pip install -q "torch>=2.1,<3" --index-url "$PRISM_TORCH_INDEX"
  else
    echo "setup: no GPU; installing the CPU build of torch"
    $PY -m pip install -q torch==2.13.0
  fi
fi

$PY -m pip install -q -e ".${extra}"
echo "setup: done ($(prism --version))"
