"""The one statistics helper of the package: :func:`describe` (mean, std, n, min, max of a sample).

Semantics (the seed study's and the sweeps' summaries, per-epoch curves and paired gaps, the
deep-stage verdict, the ablation's groups and the table searches' ``result_stats`` use it; the
table searches report the population std, ``ddof=0``, as NAS-Bench-201's tables do, and their
per-grid-point curves compute the same with numpy):

- only the finite values count: ``None`` and NaN/inf are dropped, ``n`` is how many are left;
- ``mean`` is ``sum(xs) / n``; ``std`` is ``sqrt(sum((x - mean)**2) / (n - ddof))``: the sample
  std (``ddof=1``, n - 1) by default, the population std with ``ddof=0``;
- where the std is undefined (``n <= ddof``: one value with ``ddof=1``) it is ``None``, never a
  made-up 0; with no values every statistic is ``None`` and ``n`` is 0.

A caller that draws a single seed as a band of zero width says so where it draws
(:func:`gibbsnas_lite.sweep.stats.mean_and_band`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = ["describe"]


def describe(values: Iterable[float | None], ddof: int = 1) -> dict[str, Any]:
    """``{"mean", "std", "n", "min", "max"}`` of the finite ``values`` (module docstring)."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(xs)
    if not n:
        return {"mean": None, "std": None, "n": 0, "min": None, "max": None}
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - ddof)) if n > ddof else None
    return {"mean": mean, "std": std, "n": n, "min": min(xs), "max": max(xs)}
