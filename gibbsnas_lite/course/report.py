"""What a NAS-Bench-201 search found, next to the paper's Table 3.

A one-shot search on NAS-Bench-201 ends with one cell (an arch string); the benchmark table
(:class:`~gibbsnas_lite.nasbench.NB201Table`) gives that cell's accuracies after the benchmark's
own 200-epoch training on CIFAR-10, CIFAR-100 and ImageNet16-120: the six columns of GibbsNAS
Table 3 (:data:`~gibbsnas_lite.nasbench.TABLE3_COLUMNS`). This module turns search runs (a
:class:`~gibbsnas_lite.search.SearchResult` or a run folder) into such rows, puts the paper's
rows beside them; :mod:`gibbsnas_lite.course.plots.report` draws both::

    from gibbsnas_lite.course.report import comparison_rows
    from gibbsnas_lite.course.plots.report import table3_figure, epochs_figure
    rows = comparison_rows({"gibbs2": result_g, "darts-v1": "runs/darts-v1"})
    table3_figure(rows).show()
    epochs_figure({"gibbs2": result_g, "darts-v1": "runs/darts-v1"}).show()

Paper rows: :data:`PAPER_TABLE3_ONESHOT` (Table 3, first block: parameter-sharing methods,
mean ± std of 3 searches), the table-search block (``table_search.PAPER_TABLE3``) and the
reference rows :data:`PAPER_TABLE3_REFERENCE` (ResNet, the benchmark's optimum).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..nasbench import TABLE3_COLUMNS, NB201Table
from ..runs import read_run
from ..search.config import SearchConfig
from ..search.registry import REGISTRY
from ..spaces.registry import get as get_space
from ..spaces.registry import spaces_in_benchmark

__all__ = [
    "LABELS",
    "PAPER_TABLE3_ONESHOT",
    "PAPER_TABLE3_REFERENCE",
    "STRATEGY_NAMES",  # noqa: F822 (module __getattr__)
    "STRATEGY_PAPER_ROW",  # noqa: F822 (module __getattr__)
    "strategy_label",
    "paper_row",
    "RunRow",
    "paper_table3",
    "run_row",
    "epoch_curve",
    "comparison_rows",
    "markdown_table",
    "headline",
    "edge_summary",
    "edge_summary_text",
]

#: the six Table-3 column labels, in the paper's order
LABELS: tuple[str, ...] = tuple(label for label, _, _ in TABLE3_COLUMNS)

_Cell = tuple[float, float]

#: GibbsNAS (Xue et al., AAAI 2021) Table 3, first block (parameter-sharing NAS on NAS-Bench-201;
#: all rows but GibbsNAS are quoted from NAS-Bench-201, Dong & Yang, ICLR 2020): mean and std of 3
#: searches, each column of :data:`LABELS` in order.
PAPER_TABLE3_ONESHOT: dict[str, tuple[_Cell, ...]] = {
    "RSPS": ((80.42, 3.58), (84.07, 3.61), (52.31, 5.55), (52.31, 5.77), (27.22, 3.24), (26.28, 3.09)),
    "DARTS-V1": ((39.77, 0.00), (54.30, 0.00), (15.03, 0.00), (15.61, 0.00), (16.43, 0.00), (16.32, 0.00)),
    "DARTS-V2": ((39.77, 0.00), (54.30, 0.00), (15.03, 0.00), (15.61, 0.00), (16.43, 0.00), (16.32, 0.00)),
    "GDAS": ((89.89, 0.08), (93.61, 0.09), (71.34, 0.04), (70.70, 0.30), (41.59, 1.33), (41.71, 0.98)),
    "SETN": ((84.04, 0.28), (87.64, 0.00), (58.86, 0.06), (59.05, 0.24), (33.06, 0.02), (32.52, 0.21)),
    "ENAS": ((37.51, 3.19), (53.89, 0.58), (13.37, 2.35), (13.96, 2.33), (15.06, 1.95), (14.84, 2.10)),
    "GibbsNAS": ((90.02, 0.60), (92.72, 0.60), (68.88, 1.43), (69.20, 1.40), (42.31, 1.69), (42.08, 1.95)),
}

#: Table 3's reference rows (single numbers): ResNet and "Optimal" (the best cell of each column).
PAPER_TABLE3_REFERENCE: dict[str, tuple[float, ...]] = {
    "ResNet": (90.83, 93.97, 70.42, 70.86, 44.53, 43.63),
    "Optimal": (91.61, 94.37, 73.49, 73.51, 46.77, 47.31),
}


def strategy_label(strategy: str) -> str:
    """The display name of ``strategy`` (its ``label`` in ``gibbsnas_lite.search.registry``; the
    name itself when it is not registered)."""
    spec = REGISTRY.get(strategy)
    return spec.label if spec is not None else strategy


def paper_row(strategy: str) -> str | None:
    """The paper's Table-3 row of ``strategy`` (its ``paper_row`` in the registry; ``None`` if unknown)."""
    spec = REGISTRY.get(strategy)
    return spec.paper_row if spec is not None else None


def __getattr__(name: str) -> Any:
    """``STRATEGY_NAMES`` ({strategy: label}) and ``STRATEGY_PAPER_ROW`` ({strategy: paper row}),
    computed from the registry on each access."""
    if name == "STRATEGY_NAMES":
        return {n: spec.label for n, spec in REGISTRY.items()}
    if name == "STRATEGY_PAPER_ROW":
        return {n: spec.paper_row for n, spec in REGISTRY.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_TABLE_SEARCH_DATASETS = (("cifar10", 0, 1), ("cifar100", 2, 3), ("ImageNet16-120", 4, 5))


def paper_table3(block: str = "all") -> dict[str, dict[str, tuple[float, float | None]]]:
    """The paper's Table 3 as ``{method: {label: (mean, std)}}`` (std ``None`` for single numbers).

    ``block``: ``"oneshot"`` (first block), ``"table"`` (second block: RS, REA, REINFORCE,
    BOHB), ``"reference"`` (ResNet, Optimal) or ``"all"`` (in that order).
    """
    if block not in ("all", "oneshot", "table", "reference"):
        raise ValueError(f"unknown block {block!r}; choose all, oneshot, table or reference")
    out: dict[str, dict[str, tuple[float, float | None]]] = {}
    if block in ("all", "oneshot"):
        for name, cells in PAPER_TABLE3_ONESHOT.items():
            out[name] = {label: (float(m), float(s)) for label, (m, s) in zip(LABELS, cells)}
    if block in ("all", "table"):
        from ..table_search.runner import PAPER_TABLE3

        for name, per_dataset in PAPER_TABLE3.items():
            row: dict[str, tuple[float, float | None]] = {}
            for dataset, i_valid, i_test in _TABLE_SEARCH_DATASETS:
                (vm, vs), (tm, ts) = per_dataset[dataset]
                row[LABELS[i_valid]] = (float(vm), float(vs))
                row[LABELS[i_test]] = (float(tm), float(ts))
            out[name] = row
    if block in ("all", "reference"):
        for name, values in PAPER_TABLE3_REFERENCE.items():
            out[name] = {label: (float(v), None) for label, v in zip(LABELS, values)}
    return out


# ----------------------------------------------------------------------------- runs
@dataclass
class RunRow:
    """One search run: what it found and that cell's Table-3 accuracies."""

    strategy: str
    seed: int
    profile: str
    dataset: str
    arch: str
    accuracies: dict[str, float]
    epochs_done: int
    seconds: float
    run_dir: str | None = None
    epochs: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def name(self) -> str:
        return strategy_label(self.strategy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "seed": self.seed,
            "profile": self.profile,
            "dataset": self.dataset,
            "arch": self.arch,
            "accuracies": dict(self.accuracies),
            "epochs_done": self.epochs_done,
            "seconds": round(float(self.seconds), 1),
            "run_dir": self.run_dir,
        }


def _read_run(run: Any) -> tuple[dict[str, Any], str, list[dict[str, Any]], float, str | None]:
    """(config dict, final arch, epoch records, seconds, run folder) of a SearchResult or run folder."""
    if hasattr(run, "history") and hasattr(run, "config") and not isinstance(run, (str, Path)):
        out_dir = getattr(run, "out_dir", None)
        return (
            run.config.to_dict(),
            run.arch,
            list(run.history.epochs),
            float(getattr(run, "seconds", 0.0)),
            str(out_dir) if out_dir is not None else None,
        )
    folder = Path(run)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a search run folder (expected summary.json / history.jsonl)")
    folder_run = read_run(folder, what="search")
    epochs = folder_run.epochs
    if folder_run.summary is not None:
        summary = folder_run.summary
        return summary["config"], summary["arch"], epochs, float(summary.get("seconds", 0.0)), str(folder)
    if folder_run.config is None or not epochs:
        raise FileNotFoundError(f"{folder} holds neither summary.json nor config.json with epoch records")
    seconds = float(sum(e.get("seconds", 0.0) for e in epochs))
    return folder_run.config, epochs[-1]["arch"], epochs, seconds, str(folder)


def run_row(run: Any, table: NB201Table | None = None) -> RunRow:
    """A :class:`RunRow` of a ``SearchResult`` or a run folder (a killed run: its last epoch's cell).

    The accuracies are read from the table (``NB201Table.table3_row``), whatever the search's
    own data: a ``cpu``-profile search on Fashion-MNIST gets the CIFAR numbers of its *cell*.
    """
    table = table or NB201Table.load()
    config, arch, epochs, seconds, run_dir = _read_run(run)
    space = get_space(config.get("space", SearchConfig.space))
    if space.benchmark_name != NB201Table.NAME:
        raise ValueError(
            f"run {run_dir or run!r} searched the {space.name!r} space; "
            f"the {NB201Table.NAME} table only knows the cells of {', '.join(spaces_in_benchmark(NB201Table.NAME))}"
        )
    return RunRow(
        strategy=config["strategy"],
        seed=int(config.get("seed", 0)),
        profile=config.get("profile", "?"),
        dataset=config.get("dataset", "?"),
        arch=arch,
        accuracies=table.table3_row(arch),
        epochs_done=len(epochs),
        seconds=seconds,
        run_dir=run_dir,
        epochs=epochs,
    )


def run_rows(runs: Mapping[str, Any] | Iterable[Any], table: NB201Table) -> list[RunRow]:
    items = runs.values() if isinstance(runs, Mapping) else runs
    return [r if isinstance(r, RunRow) else run_row(r, table) for r in items]


def epoch_curve(
    run: Any, table: NB201Table | None = None, column: str = "CIFAR-10 test"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(epoch numbers 1.., the derived cell's accuracy in ``column`` after each epoch, the cells)."""
    if column not in LABELS:
        raise ValueError(f"unknown column {column!r}; choose one of: {', '.join(LABELS)}")
    table = table or NB201Table.load()
    row = run if isinstance(run, RunRow) else run_row(run, table)
    _, dataset, split = TABLE3_COLUMNS[LABELS.index(column)]
    archs = [e["arch"] for e in row.epochs]
    epochs = np.array([int(e.get("epoch", i)) + 1 for i, e in enumerate(row.epochs)], dtype=int)
    accs = np.array([table.accuracy(a, dataset, split) for a in archs], dtype=float)
    return epochs, accs, archs


# ----------------------------------------------------------------------------- the table
def comparison_rows(
    runs: Mapping[str, Any] | Iterable[Any],
    table: NB201Table | None = None,
    paper: Sequence[str] | None = None,
    optimal: bool = True,
) -> list[dict[str, Any]]:
    """Rows for a Table-3-style comparison: each run, then the paper's rows.

    Each row: ``{"method", "source", "arch", "values": {label: (mean, std or None)}}``; a run's
    ``values`` are its cell's benchmark accuracies (std ``None``: one search). ``paper``: the
    paper's methods to add (default: the rows of the runs' strategies, in first-seen order);
    ``optimal`` adds the paper's "Optimal" row.
    """
    table = table or NB201Table.load()
    rows = run_rows(runs, table)
    out: list[dict[str, Any]] = []
    for r in rows:
        out.append(
            {
                "method": r.name,
                "source": f"this run: {r.profile} profile, {r.dataset}, seed {r.seed}, {r.epochs_done} epochs",
                "arch": r.arch,
                "values": {k: (v, None) for k, v in r.accuracies.items()},
            }
        )
    if paper is None:
        paper = []
        for r in rows:
            name = paper_row(r.strategy)
            if name and name not in paper:
                paper.append(name)
    paper = list(paper)
    if optimal and "Optimal" not in paper:
        paper.append("Optimal")
    known = paper_table3()
    for name in paper:
        if name not in known:
            raise ValueError(f"no paper row {name!r}; known: {', '.join(known)}")
        source = "paper, Table 3" + (" (CIFAR-10 search, 3 seeds)" if name in PAPER_TABLE3_ONESHOT else "")
        out.append({"method": f"{name} (paper)", "source": source, "arch": "", "values": known[name]})
    return out


def format_cell(cell: tuple[float, float | None] | None) -> str:
    if cell is None:
        return ""
    mean, std = cell
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return ""
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def markdown_table(rows: Sequence[Mapping[str, Any]], arch: bool = True) -> str:
    """The rows of :func:`comparison_rows` as a markdown table (accuracies in %)."""
    head = ["method"] + (["cell"] if arch else []) + list(LABELS)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["method"]]
        if arch:
            cells.append(f"`{row['arch']}`" if row.get("arch") else "")
        cells += [format_cell(row["values"].get(label)) for label in LABELS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def headline(runs: Mapping[str, Any] | Iterable[Any], table: NB201Table | None = None) -> dict[str, Any]:
    """JSON-ready ``{strategy: {"arch", "cifar10_test", "cifar100_test", "imagenet16_test", "seconds"}}``."""
    table = table or NB201Table.load()
    out: dict[str, Any] = {}
    for r in run_rows(runs, table):
        out[r.strategy] = {
            "arch": r.arch,
            "cifar10_test": round(r.accuracies["CIFAR-10 test"], 2),
            "cifar100_test": round(r.accuracies["CIFAR-100 test"], 2),
            "imagenet16_test": round(r.accuracies["ImageNet16-120 test"], 2),
            "seconds": round(float(r.seconds), 1),
        }
    return out


# ----------------------------------------------------------------------------- alpha per edge
def edge_summary(run: Any, epoch: int = -1) -> list[dict[str, Any]]:
    """Per edge, the state of alpha after an epoch (default: the last one); the edges and ops are
    the run's space's (:mod:`gibbsnas_lite.spaces.registry`: NB201's 6 edges, DARTS's 14 per cell type).

    Each row: ``edge`` ("j→i"; "normal j→i" where the space has several cell types), ``op`` (the
    argmax, what the NB201 cell takes), ``prob`` (its softmax probability), ``alpha`` and ``std`` of
    that op (std ``None`` without a posterior: DARTS, GDAS), the ``runner_up`` op, the ``gap``
    alpha(op) - alpha(runner_up), and ``z`` = gap / sqrt(std_op² + std_runner_up²): the gap in
    posterior standard deviations (from the diagonal of the BFGS covariance, correlations ignored;
    ``None`` without std). A small ``z`` (below ~1) means the posterior does not really prefer the
    chosen op.
    """
    if isinstance(run, RunRow):  # run rows are NB201 runs (run_row refuses the others)
        epochs, space = run.epochs, get_space(SearchConfig.space)
    else:
        config, _, epochs, _, _ = _read_run(run)
        space = get_space(config.get("space", SearchConfig.space))
    if not epochs:
        raise ValueError("the run has no epoch records")
    record = epochs[epoch]
    if record.get("alpha") is None:
        raise ValueError("the run records no alpha (e.g. RSPS)")
    labels = space.edge_labels() if len(space.blocks) > 1 else list(space.edges)
    alpha = np.concatenate([np.asarray(a, dtype=float) for a in record["alpha"]])
    if record.get("probs") is not None:
        probs = np.concatenate([np.asarray(p, dtype=float) for p in record["probs"]])
    else:
        e = np.exp(alpha - alpha.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
    std = np.concatenate([np.asarray(s, dtype=float) for s in record["std"]]) if record.get("std") else None
    if alpha.shape != (len(labels), len(space.ops)):
        raise ValueError(f"alpha has shape {alpha.shape}; the {space.name} space's is {(len(labels), len(space.ops))}")
    rows = []
    for k, label in enumerate(labels):
        order = np.argsort(-alpha[k], kind="stable")
        a, b = int(order[0]), int(order[1])
        gap = float(alpha[k, a] - alpha[k, b])
        row = {
            "edge": label,
            "op": space.ops[a],
            "prob": float(probs[k, a]),
            "alpha": float(alpha[k, a]),
            "std": None,
            "runner_up": space.ops[b],
            "gap": gap,
            "z": None,
        }
        if std is not None:
            row["std"] = float(std[k, a])
            scale = float(np.hypot(std[k, a], std[k, b]))
            row["z"] = gap / scale if scale > 0 else float("inf")
        rows.append(row)
    return rows


def edge_summary_text(run: Any, epoch: int = -1) -> str:
    """:func:`edge_summary` as aligned text lines (for a notebook's output)."""
    rows = edge_summary(run, epoch)
    width = max(5, *(len(r["edge"]) for r in rows))
    lines = [
        f"{'edge':{width}s} {'chosen op':13s} {'softmax':>7s} {'alpha':>7s} {'± std':>7s}  "
        f"{'runner-up':13s} {'gap':>6s} {'gap/std':>7s}"
    ]
    for r in rows:
        std = f"{r['std']:7.3f}" if r["std"] is not None else f"{'-':>7s}"
        z = f"{r['z']:7.2f}" if r["z"] is not None else f"{'-':>7s}"
        lines.append(
            f"{r['edge']:{width}s} {r['op']:13s} {r['prob']:7.3f} {r['alpha']:7.3f} {std}  "
            f"{r['runner_up']:13s} {r['gap']:6.3f} {z}"
        )
    return "\n".join(lines)
