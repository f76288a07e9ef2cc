"""Runs of the deep stage (docs/deep_stage.md): GibbsNAS candidates on the tuning seeds, and baselines.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/deep_stage.py --candidate A --seed 0 --out runs/deep/tune
    OMP_NUM_THREADS=1 .venv/bin/python scripts/deep_stage.py --candidate darts-v1 --seed 0 --out runs/deep/tune

Each run goes to ``OUT/<candidate>-s<seed>/`` and resumes from its checkpoint when killed
(run the same command again). The candidates are the table of docs/deep_stage.md ("The rule for
GibbsNAS's settings"), written down before any of them ran; a name that is a strategy runs that
strategy at the ``cpu-deep`` profile's defaults. Values set to None here (no cap on H, T_ω the
same as T) cannot be given with ``--set``, which treats None as "keep the default".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gibbsnas_lite.runs import CHECKPOINT  # noqa: E402
from gibbsnas_lite.search import STRATEGIES, make_config, run_search  # noqa: E402

#: name -> (strategy, config values on top of the cpu-deep profile), docs/deep_stage.md
CANDIDATES = {
    "A": ("gibbs2", dict(temperature=1.0, w_temperature=None, alpha_h_max=None)),
    "B": ("gibbs2", dict(temperature=1.0, w_temperature=0.01, alpha_h_max=None)),
    "C": ("gibbs2", dict(temperature=1.0, w_temperature=0.01, alpha_h_max=1.0)),
}


def build(candidate: str, seed: int, epochs: int | None = None):
    if candidate in CANDIDATES:
        strategy, values = CANDIDATES[candidate]
    elif candidate in STRATEGIES:
        strategy, values = candidate, {}
    else:
        known = ", ".join([*CANDIDATES, *STRATEGIES])
        raise SystemExit(f"unknown candidate {candidate!r}; known: {known}")
    config = make_config(strategy, "cpu-deep", seed=seed, device="cpu")
    for key, value in values.items():
        setattr(config, key, value)
    if epochs is not None:
        config.epochs = epochs
    return config.validate()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--candidate", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", default="runs/deep/tune")
    p.add_argument("--epochs", type=int, default=None, help="default: the profile's 20")
    args = p.parse_args(argv)
    folder = Path(args.out) / f"{args.candidate}-s{args.seed}"
    if (folder / CHECKPOINT).exists():
        result = run_search(resume=folder, echo=print)
    else:
        result = run_search(build(args.candidate, args.seed, args.epochs), out_dir=folder, echo=print)
    print(
        result.arch, result.benchmark.get("cifar10_test"), result.summary().get("drive", {}).get("noise_only_agreement")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
