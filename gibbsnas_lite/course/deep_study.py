"""The deep stage's study read against its question (docs/deep_stage.md): does DARTS-V1 collapse,
is GibbsNAS-2nd driven by data, and does it beat DARTS-V1 on seeds never used for tuning?

Works on seed-study rows (:func:`gibbsnas_lite.course.seed_study.run_row`; a shipped file's
``runs``). The criteria are the issue's, fixed before the study ran:

* the stage is valid when DARTS-V1's cell has ``skip_connect`` leading on >= 4 of the 6 edges on
  >= 5 of the 7 held-out seeds;
* GibbsNAS-2nd searches when its cells agree with their noise-only controls on <= 35 % of the
  edges (pooled);
* GibbsNAS-2nd wins when its mean NAS-Bench-201 CIFAR-10 accuracy is >= 5 points above
  DARTS-V1's, it is ahead on >= 6 of 7 seeds, and none of its cells lacks a parameterised path.

Controls printed beside them: each seed's noise-only cell and NAS-Bench-201's random cells.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..search.drive import NOT_A_SEARCH
from ..spaces.nb201.cell_stats import cell_edges, has_parameterised_path
from ..sweep.stats import METRIC, mean_and_band

#: the seeds settings were chosen on, and the seeds that judge them
TUNING_SEEDS = (0, 1, 2)
HELD_OUT_SEEDS = (3, 4, 5, 6, 7, 8, 9)
#: the held-out seed whose runs the kit ships whole (data/seed_study/deep_runs/), for the replays of
#: notebooks 04-05: the first held-out seed on which DARTS-V1 ended on the all-skip cell
EXAMPLE_SEED = 4
#: NAS-Bench-201's CIFAR-10 test accuracy of the all-skip_connect cell (DARTS-V1's row in Table 3)
ALL_SKIP = 54.30


def load() -> dict[str, Any]:
    """The shipped deep study, ``data/seed_study/deep.json`` (``{"about": ..., "runs": rows}``)."""
    from . import seed_study

    return seed_study.load(seed_study.find_study("deep"))


def example_history(strategy: str, seed: int = EXAMPLE_SEED) -> Path:
    """The shipped ``history.jsonl.gz`` of one held-out run (``AlphaDashboard.replay`` reads it)."""
    from . import seed_study

    path = seed_study.find_study("deep").parent / "deep_runs" / f"{strategy}-s{seed}.jsonl.gz"
    if not path.is_file():
        shipped = sorted(p.name for p in path.parent.glob("*.jsonl.gz")) if path.parent.is_dir() else []
        raise FileNotFoundError(f"no shipped deep-stage run {path.name}; the kit ships {shipped or 'none'}")
    return path


def skip_edges(arch: str) -> int:
    """How many of the cell's 6 edges carry ``skip_connect``."""
    return sum(op == "skip_connect" for op, _, _ in cell_edges(arch))


def skip_edges_by_epoch(row: Mapping[str, Any]) -> list[int]:
    """``skip_connect`` edges of the cell derived after each epoch of one study row."""
    return [skip_edges(e["arch"]) for e in row["epochs"]]


def epochs_matching(history_epochs: Sequence[Mapping[str, Any]], row: Mapping[str, Any]) -> tuple[int, int]:
    """(epochs whose derived cell equals the study row's, epochs compared): a learner's rerun of a
    shipped run on the same data, torch and thread count matches it on every epoch."""
    pairs = list(zip(history_epochs, row["epochs"]))
    return sum(a["arch"] == b["arch"] for a, b in pairs), len(pairs)


def edge_margins(
    alpha: Sequence[Sequence[float]], std: Sequence[Sequence[float]] | None = None
) -> list[dict[str, Any]]:
    """Per NB201 edge of a (6, 5) α (or a history record's ``alpha``, [6 x 5]): the argmax op and its
    lead in α over the runner-up. The derived cell needs only the sign of each lead, so a cell can
    change completely while softmax(α) still reads 0.20 everywhere (DARTS-V1's Adam at lr 3e-4 moves
    α by hundredths). With ``std`` (GibbsNAS's posterior std
    per entry) also ``lead_in_std``: the lead over sqrt(std_op² + std_runner_up²), correlations ignored."""
    from ..spaces.nb201.arch import EDGES, OPS

    shape = (len(EDGES), len(OPS))
    values = np.asarray(alpha, dtype=float).reshape(shape)
    spread = None if std is None else np.asarray(std, dtype=float).reshape(shape)
    lines = []
    for e, (to, frm) in enumerate(EDGES):
        first, second = np.argsort(-values[e], kind="stable")[:2]
        line = {
            "edge": f"{frm}→{to}",
            "op": OPS[first],
            "runner_up": OPS[second],
            "lead": float(values[e, first] - values[e, second]),
        }
        if spread is not None:
            line["lead_in_std"] = line["lead"] / float(np.hypot(spread[e, first], spread[e, second]))
        lines.append(line)
    return lines


def by_seed(rows: Sequence[Mapping[str, Any]], strategy: str, seeds: Sequence[int]) -> dict[int, Mapping[str, Any]]:
    return {r["seed"]: r for r in rows if r["strategy"] == strategy and r["seed"] in seeds}


def random_cells(table=None) -> dict[str, float]:
    """NAS-Bench-201's 15,625 cells as a control: CIFAR-10 test accuracy min, max, mean, std, quartiles,
    the share at chance level (< 20 %) and the share without a parameterised path."""
    from ..nasbench import NB201Table

    table = table or NB201Table.load()
    acc = np.asarray(table.accuracies("cifar10", "test"), dtype=float)
    no_path = np.mean([not has_parameterised_path(a) for a in table.arch_strs])
    q25, q50, q75 = np.percentile(acc, [25, 50, 75])
    return {
        "min": float(acc.min()),
        "max": float(acc.max()),
        "mean": float(acc.mean()),
        "std": float(acc.std(ddof=1)),
        "q25": float(q25),
        "median": float(q50),
        "q75": float(q75),
        "chance_share": float(np.mean(acc < 20)),
        "no_path_share": float(no_path),
    }


def per_seed(rows: Sequence[Mapping[str, Any]], seeds: Sequence[int] = HELD_OUT_SEEDS) -> list[dict[str, Any]]:
    """One line per seed: DARTS-V1's cell, GibbsNAS-2nd's and its mean twin's, the noise-only control."""
    darts, gibbs, mean = (by_seed(rows, s, seeds) for s in ("darts-v1", "gibbs2", "gibbs2-mean"))
    out = []
    for seed in seeds:
        d, g, m = darts.get(seed), gibbs.get(seed), mean.get(seed)
        line: dict[str, Any] = {"seed": seed}
        if d:
            line.update(darts_arch=d["arch"], darts=d["benchmark"][METRIC], darts_skip_edges=skip_edges(d["arch"]))
        if g:
            drive = g.get("drive") or {}
            control = drive.get("noise_only_benchmark") or {}
            line.update(
                gibbs_arch=g["arch"],
                gibbs=g["benchmark"][METRIC],
                gibbs_path=has_parameterised_path(g["arch"]),
                agreement=drive.get("noise_only_agreement"),
                drift_share=drive.get("drift_share"),
                control_arch=drive.get("noise_only_arch"),
                control=control.get(METRIC),
            )
        if m:
            line.update(mean_arch=m["arch"], mean=m["benchmark"][METRIC])
        if d and g:
            line["gibbs_minus_darts"] = line["gibbs"] - line["darts"]
        if g and m:
            line["sample_minus_mean"] = line["gibbs"] - line["mean"]
        out.append(line)
    return out


def verdict(rows: Sequence[Mapping[str, Any]], seeds: Sequence[int] = HELD_OUT_SEEDS) -> dict[str, Any]:
    """The issue's three criteria on ``seeds`` (module docstring), with the numbers behind them."""
    lines = per_seed(rows, seeds)
    darts = [x for x in lines if "darts" in x]
    gibbs = [x for x in lines if "gibbs" in x]
    both = [x for x in lines if "gibbs_minus_darts" in x]
    collapsed = sum(x["darts_skip_edges"] >= 4 for x in darts)
    agreements = [x["agreement"] for x in gibbs if x.get("agreement") is not None]
    gaps = [x["gibbs_minus_darts"] for x in both]
    diffs = [x["sample_minus_mean"] for x in lines if "sample_minus_mean" in x]
    result: dict[str, Any] = {
        "seeds": list(seeds),
        "darts_runs": len(darts),
        "darts_collapsed": collapsed,
        "stage_valid": len(darts) == len(seeds) and collapsed >= 5,
        "gibbs_runs": len(gibbs),
        "gibbs_agreement": float(np.mean(agreements)) if agreements else None,
        "gibbs_searches": bool(agreements) and float(np.mean(agreements)) <= NOT_A_SEARCH,
        "gibbs_without_path": sum(not x["gibbs_path"] for x in gibbs),
        "gap_mean_std": mean_and_band(gaps) if gaps else None,
        "gibbs_ahead": sum(g > 0 for g in gaps),
        "sample_minus_mean": mean_and_band(diffs) if diffs else None,
        "darts": mean_and_band([x["darts"] for x in darts]) if darts else None,
        "gibbs": mean_and_band([x["gibbs"] for x in gibbs]) if gibbs else None,
    }
    result["gibbs_wins"] = (
        len(both) == len(seeds)
        and result["gap_mean_std"][0] >= 5.0
        and result["gibbs_ahead"] >= 6
        and result["gibbs_without_path"] == 0
    )
    return result


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def per_seed_markdown(lines: Sequence[Mapping[str, Any]]) -> str:
    """:func:`per_seed` as a markdown table (NB201 CIFAR-10 test accuracies of the derived cells)."""
    cols = [
        ("seed", "seed"),
        ("darts", "DARTS-V1"),
        ("darts_skip_edges", "its skip edges"),
        ("gibbs", "GibbsNAS-2nd"),
        ("gibbs_path", "conv on a path"),
        ("control", "noise-only control"),
        ("agreement", "agreement with it"),
        ("mean", "mean twin"),
        ("gibbs_minus_darts", "GibbsNAS − DARTS"),
        ("sample_minus_mean", "sample − mean"),
    ]
    out = ["| " + " | ".join(title for _, title in cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(_fmt(line.get(key)) for key, _ in cols) + " |" for line in lines]
    return "\n".join(out)


def verdict_lines(result: Mapping[str, Any]) -> list[str]:
    """The verdict of :func:`verdict` in words, one line per criterion, with its numbers."""
    n = len(result["seeds"])

    def ms(pair):
        return "–" if pair is None else f"{pair[0]:.2f} ± {pair[1]:.2f}"

    lines = [
        f"DARTS-V1 collapses (skip_connect on >= 4 of 6 edges) on {result['darts_collapsed']} of "
        f"{result['darts_runs']} seeds run (stage valid when >= 5 of {n}): "
        f"{'valid' if result['stage_valid'] else 'not (yet) valid'}; its cells {ms(result['darts'])}",
        f"GibbsNAS-2nd agrees with its noise-only control on {_fmt(result['gibbs_agreement'])} of the edges "
        f"(a search when <= {NOT_A_SEARCH}): {'a search' if result['gibbs_searches'] else 'NOT a search'}; "
        f"its cells {ms(result['gibbs'])}",
        f"GibbsNAS-2nd − DARTS-V1: {ms(result['gap_mean_std'])} points, ahead on {result['gibbs_ahead']} of "
        f"{n} seeds, {result['gibbs_without_path']} cell(s) without a parameterised path: "
        f"{'GibbsNAS-2nd wins by the criteria' if result['gibbs_wins'] else 'the criteria for a win are not met'}",
        f"sample − mean (GibbsNAS-2nd against its mean twin): {ms(result['sample_minus_mean'])} points",
    ]
    return lines
