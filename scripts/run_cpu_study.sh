#!/usr/bin/env bash
# Superseded by `gibbsnas-lite sweep` (docs/sweeps.md), which now makes the shipped seed study:
#   gibbsnas-lite sweep --strategies gibbs2,gibbs2-mean,gibbs1,darts-v1,darts-v2,gdas,rsps --seeds 0-4 \
#       --profile cpu --workers 2 --out runs/seed-study-sweep
# This script stays because the older measurements in docs/search.md name it.
#
# The CPU study: the `cpu` profile (NAS-Bench-201 space searched on Fashion-MNIST at 16x16,
# reduced supernet, 10 epochs) for GibbsNAS-2nd, GibbsNAS-1st, DARTS-V1 and GDAS, seed by seed
# (all strategies of seed 0 first), then a table of the derived architectures, their
# NAS-Bench-201 CIFAR-10 test accuracy (a transfer proxy: the search data is Fashion-MNIST),
# wall time and peak RSS. Results in docs/search.md.
#
#   scripts/run_cpu_study.sh                         # seeds 0 1 2, 2 runs at a time
#   STRATEGIES="gibbs2 gibbs2-mean gibbs1 darts-v1 darts-v2 gdas rsps" SEEDS="0 1 2 3 4" \
#     OUT=runs/seed-study scripts/run_cpu_study.sh      # the shipped seed study (then scripts/seed_study.py)
#   SEEDS="0" scripts/run_cpu_study.sh               # one seed of each strategy
#   EXTRA="--epochs 3 --train-limit 2048" scripts/run_cpu_study.sh   # options passed to every search
#   scripts/run_cpu_study.sh --table-only            # only (re)print the table of finished runs
#
# Environment: PROFILE (cpu; smoke for a seconds-long try), SEEDS ("0 1 2"), STRATEGIES ("gibbs2 gibbs1 darts-v1 gdas"), JOBS (2 searches
# at once), THREADS (torch threads per search, 1: on a busy 2-core machine 2 threads per
# search were 5-10x slower than 1), OUT (runs/cpu-study), PYTHON (the interpreter;
# default .venv/bin/python where the checkout has one, else python3; the tests pass theirs),
# EXTRA (more `gibbsnas-lite search` options). Each run folder gets time.txt
# (/usr/bin/time: elapsed seconds, peak RSS KiB, user and system CPU seconds) and log.txt besides the search's own
# checkpoint.pt, history.jsonl, summary.json and config.json. A finished run (summary.json
# present) is not run again; a killed one resumes from its checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-"0 1 2"}
STRATEGIES=${STRATEGIES:-"gibbs2 gibbs1 darts-v1 gdas"}
JOBS=${JOBS:-2}
THREADS=${THREADS:-1}
PROFILE=${PROFILE:-cpu}
OUT=${OUT:-runs/cpu-study}
EXTRA=${EXTRA:-}
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"

one_run() {  # one_run STRATEGY SEED
  local strategy=$1 seed=$2 dir="$OUT/$1-s$2"
  if [[ -f "$dir/summary.json" ]]; then echo "done already: $dir"; return 0; fi
  mkdir -p "$dir"
  # shellcheck disable=SC2206
  local args=(-m gibbsnas_lite.cli search --profile "$PROFILE" --strategy "$strategy" --seed "$seed" --device cpu
              --out "$dir" --no-progress $EXTRA)
  # a killed run continues with its saved settings (--resume takes no run options)
  if [[ -f "$dir/checkpoint.pt" ]]; then args=(-m gibbsnas_lite.cli search --resume "$dir" --device cpu --no-progress); fi
  echo "start: $strategy seed $seed -> $dir"
  if /usr/bin/time -f "%e %M %U %S" -o "$dir/time.txt" "$PYTHON" "${args[@]}" >> "$dir/log.txt" 2>&1; then
    echo "end:   $strategy seed $seed ($(cut -d' ' -f1 "$dir/time.txt") s)"
  else
    echo "FAILED: $strategy seed $seed (see $dir/log.txt)"; tail -5 "$dir/log.txt"; return 1
  fi
}
export -f one_run
export OUT PYTHON EXTRA PROFILE

if [[ "${1:-}" != "--table-only" ]]; then
  for seed in $SEEDS; do for strategy in $STRATEGIES; do echo "$strategy $seed"; done; done |
    xargs -P "$JOBS" -L 1 bash -c 'one_run "$0" "$1"'
fi

"$PYTHON" - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = []
for summary in sorted(out.glob("*/summary.json")):
    s = json.loads(summary.read_text())
    t = (summary.parent / "time.txt")
    fields = t.read_text().split() if t.exists() else []
    wall, rss = (fields[:2] if len(fields) >= 2 else ("nan", "0"))
    cpu = float(fields[2]) + float(fields[3]) if len(fields) >= 4 else float("nan")
    c = s["config"]
    rows.append((s["strategy"], s["seed"], s["arch"], s["benchmark"].get("cifar10_test"), wall,
                 int(rss) / 1024, s["epochs_done"], c["epochs"], s["final"].get("train_loss"),
                 s["final"].get("valid_acc"), cpu))
print(f"| strategy | seed | derived arch | NB201 cifar10 test | wall s | CPU s | peak RSS MiB | epochs | final train loss | final valid acc (search data) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in sorted(rows, key=lambda r: (r[0], r[1])):
    acc = f"{r[3]:.2f}" if r[3] is not None else "-"
    arch = r[2].replace("|", "\\|")  # a pipe inside a table cell must be escaped
    print(f"| {r[0]} | {r[1]} | `{arch}` | {acc} | {float(r[4]):.0f} | {r[10]:.0f} | {r[5]:.0f} | {r[6]}/{r[7]} | "
          f"{r[8]:.3f} | {r[9]:.3f} |")
PY
