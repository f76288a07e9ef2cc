#!/usr/bin/env bash
# Prepared GPU check of the search engine: full NB201 supernet (C=16, N=5, batch 64),
# CIFAR-shaped synthetic data on the GPU, bf16 autocast; step times, images/s, the
# GibbsNAS-2nd / DARTS-V1 ratio, memory, and a short run_search + resume.
# Details: scripts/gpu_check.py. Exits non-zero on any error.
#
#   scripts/gpu_check.sh                # on a CUDA machine (about 5 minutes on one H100)
#   scripts/gpu_check.sh --tiny         # tiny size on the CPU (what tests/test_scripts.py runs)
#   GPU_CHECK_TINY=1 scripts/gpu_check.sh
#   OUT=/some/dir scripts/gpu_check.sh  # where results go (default runs/gpu_check)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${PYTHON:-}" ]]; then
  py="$PYTHON"
elif [[ -x .venv/bin/python ]]; then
  py=.venv/bin/python
else
  py=python3
fi
# the package may not be installed on a bare GPU machine: import it from the tree
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$py" scripts/gpu_check.py "$@"
