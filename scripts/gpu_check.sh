#!/usr/bin/env bash
# Prepared GPU check of the search engine, one command for a maintainer with one CUDA GPU
# (~7 minutes on one H200): the full NB201 supernet (C=16, N=5, batch 64) on
# CIFAR-shaped data on the GPU; every strategy's step time in bf16 autocast and in float32
# (one interleaved run each, ratios to DARTS-V1, kernel launches and host syncs per step),
# peak GPU memory, a 2-epoch full-profile search with a real kill (SIGKILL) and resume, the
# extrapolated 50-epoch search time; a JSON report ($OUT/gpu_check.json).
# Details: scripts/gpu_check.py. Exit status: 0 OK, 1 failure, 2 no CUDA, 3 goal missed
# (GibbsNAS-2nd <= 1.10 x DARTS-V1 per step).
#
#   scripts/gpu_check.sh                # on a CUDA machine
#   scripts/gpu_check.sh --tiny         # the same code at a tiny size on the CPU (tests/test_scripts.py)
#   GPU_CHECK_TINY=1 scripts/gpu_check.sh
#   OUT=/some/dir scripts/gpu_check.sh  # where results go (default runs/gpu_check)
#   PYTHON=/path/to/python scripts/gpu_check.sh  # the interpreter (default .venv/bin/python, else python3)
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
