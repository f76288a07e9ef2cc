"""The search spaces, one table: name -> supernet, arch strings, benchmark, split protocol, labels.

Adding a space is one file plus one line: write ``spaces/<name>/space.py`` with its supernet
factory (a module with ``arch_parameters()``, ``weight_parameters()``, ``arch_string(alphas=None)``
and ``forward(x, weights=None, ...)``, as :mod:`gibbsnas_lite.spaces.nb201.space` shows) and a
``derive`` from alpha's blocks to an arch string, then add one :func:`register` call below (or
call :func:`register` from your own code, as the tests' toy space does). ``SearchConfig``'s
``space`` choices, the CLI's ``--space``, the loop's supernet, the data split, the benchmark
lookup, the sweep table's cell statistics, and the dashboard's labels and cell drawing all read
this table; nothing above it branches on a space's name (``tests/test_space_registry.py`` greps).

Each entry (:class:`SpaceSpec`):

- ``supernet``: ``(config, num_classes, in_channels) -> torch.nn.Module``;
- ``derive``: alpha's blocks (arrays or tensors, edges x ops each) -> arch string, as the
  supernet's ``arch_string`` derives it; ``canonical``: an arch string -> its canonical form
  (raises ``ValueError`` naming the fix on a bad one);
- ``blocks`` (cell types: one alpha block each), ``edges`` (row labels of a block), ``ops``
  (column labels, the primitives in alpha's column order);
- ``split``: the search split protocol of :func:`gibbsnas_lite.data.splits.search_splits`;
- ``single_path``: the supernet's ``forward`` takes ``path=`` (one op index per edge) and
  runs only those ops (RSPS trains such paths; GDAS runs its hard draws that way);
- ``benchmark``: ``arch -> {metric: accuracy}`` from a tabular benchmark (``None``: the space
  has none), ``benchmark_name`` its name; ``cell_stats``: ``arch -> {"parameterised_path",
  "parameter_free_share"}`` (``None``: not defined for the space);
- ``profile_defaults``: profile -> config values when the space is chosen explicitly (DARTS's
  ``full`` profile: the 8-cell search network);
- ``figure``: the course layer's cell drawing, ``arch, block -> plotly figure JSON`` (only the
  course resolves it; ``None``: the dashboard shows the arch string).

Targets given as ``"module:attr"`` strings are relative to :mod:`gibbsnas_lite.spaces` (``figure``:
to :mod:`gibbsnas_lite`) and imported on first use, so the table imports without torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..runs import choice

__all__ = [
    "REGISTRY",
    "SpaceSpec",
    "edge_labels",
    "get",
    "register",
    "space_names",
    "space_of_shapes",
    "spaces_in_benchmark",
]


def _resolve(target: Any, package: str) -> Any:
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(f".{module}", package), attr)


def edge_labels(blocks: Sequence[str], edges: Sequence[str]) -> list[str]:
    """One label per row of alpha's blocks stacked: ``edge 0→1`` (one block), ``normal c_{k-1}→0``."""
    if len(blocks) == 1:
        return [f"edge {r}" for r in edges]
    return [f"{b} {r}" for b in blocks for r in edges]


@dataclass(frozen=True)
class SpaceSpec:
    """One search space (module docstring)."""

    name: str
    label: str
    supernet: Any
    derive: Any
    canonical: Any
    blocks: tuple[str, ...]
    edges: tuple[str, ...]
    ops: tuple[str, ...]
    split: str
    single_path: bool = False
    benchmark: Any = None
    benchmark_name: str | None = None
    cell_stats: Any = None
    profile_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    figure: Any = None

    @property
    def alpha_shapes(self) -> tuple[tuple[int, int], ...]:
        """Shapes of alpha's blocks: one ``(edges, ops)`` per cell type."""
        return tuple((len(self.edges), len(self.ops)) for _ in self.blocks)

    @property
    def has_benchmark(self) -> bool:
        return self.benchmark is not None

    def edge_labels(self) -> list[str]:
        """One label per row of alpha's blocks stacked (:func:`edge_labels`)."""
        return edge_labels(self.blocks, self.edges)

    def build_supernet(self, config, num_classes: int, in_channels: int):
        return _resolve(self.supernet, __package__)(config, num_classes, in_channels)

    def derive_arch(self, alphas: Sequence[Any]) -> str:
        """The arch string of alpha's blocks (a list, one per cell type)."""
        return _resolve(self.derive, __package__)(list(alphas))

    def canonical_arch(self, arch: str) -> str:
        return _resolve(self.canonical, __package__)(arch)

    def path_arch(self, path: Sequence[int]) -> str:
        """The arch string of a single path (one op index per edge of a one-block space)."""
        import numpy as np

        one_hot = np.zeros((len(self.edges), len(self.ops)))
        one_hot[np.arange(len(self.edges)), list(path)] = 1.0
        return self.derive_arch([one_hot])

    def benchmark_accuracies(self, arch: str) -> dict[str, float]:
        """The benchmark's accuracies of ``arch`` (empty for a space without a benchmark)."""
        return {} if self.benchmark is None else _resolve(self.benchmark, __package__)(arch)

    def cell_statistics(self, arch: str) -> dict[str, Any]:
        """``parameterised_path`` and ``parameter_free_share`` of ``arch`` (None each where undefined)."""
        if self.cell_stats is None:
            return {"parameterised_path": None, "parameter_free_share": None}
        return _resolve(self.cell_stats, __package__)(arch)

    def cell_figure_json(self, arch: str, block: str | None = None) -> dict | None:
        """The course's drawing of the cell (plotly JSON); ``None`` for a space without one."""
        if self.figure is None:
            return None
        return _resolve(self.figure, "gibbsnas_lite")(arch, block)


#: name -> spec, in registration order (the order of the ``--space`` choices).
REGISTRY: dict[str, SpaceSpec] = {}


def register(spec: SpaceSpec) -> SpaceSpec:
    """Add ``spec`` to :data:`REGISTRY` (a name is registered once)."""
    if spec.name in REGISTRY:
        raise ValueError(f"space {spec.name!r} is registered already")
    REGISTRY[spec.name] = spec
    return spec


def space_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def get(name: str) -> SpaceSpec:
    """The spec of ``name`` (a ``ValueError`` that lists the names otherwise)."""
    choice("space", name, space_names())
    return REGISTRY[name]


def spaces_in_benchmark(benchmark_name: str) -> tuple[str, ...]:
    """The registered spaces whose cells the benchmark ``benchmark_name`` holds."""
    return tuple(name for name, spec in REGISTRY.items() if spec.benchmark_name == benchmark_name)


def space_of_shapes(shapes: Sequence[tuple[int, ...]]) -> SpaceSpec | None:
    """The first registered space whose alpha has these block shapes (None if none has)."""
    shapes = tuple(tuple(int(n) for n in s) for s in shapes)
    return next((spec for spec in REGISTRY.values() if spec.alpha_shapes == shapes), None)


# ----------------------------------------------------------------------------- the two spaces
def _nb201() -> SpaceSpec:
    from .nb201.arch import EDGES, OPS

    return SpaceSpec(
        name="nb201",
        label="NAS-Bench-201",
        supernet="nb201.space:supernet",
        derive="nb201.space:derive",
        canonical="nb201.space:canonical",
        blocks=("cell",),
        edges=tuple(f"{j}→{i}" for i, j in EDGES),
        ops=tuple(OPS),
        split="nb201",
        single_path=True,
        benchmark="nb201.space:benchmark",
        benchmark_name="NAS-Bench-201",  # nasbench.NB201Table.NAME (a test checks)
        cell_stats="nb201.space:cell_stats",
        figure="course.plots.cells:nb201_cell_json",
    )


def _darts() -> SpaceSpec:
    from .darts.genotypes import EDGES, PRIMITIVES

    def node(j: int) -> str:
        return {0: "c_{k-2}", 1: "c_{k-1}"}.get(j, str(j - 2))

    return SpaceSpec(
        name="darts",
        label="DARTS",
        supernet="darts.space:supernet",
        derive="darts.space:derive",
        canonical="darts.space:canonical",
        blocks=("normal", "reduce"),
        edges=tuple(f"{node(j)}→{n - 2}" for n, j in EDGES),
        ops=tuple(PRIMITIVES),
        split="darts",
        profile_defaults={"full": dict(cells_per_stage=3)},  # DARTS's 8-cell search network
        figure="course.plots.cells:darts_cell_json",
    )


register(_nb201())
register(_darts())
#: the spaces every process knows on import (a Ray worker knows no entry registered later)
BUILT_IN = frozenset(REGISTRY)
