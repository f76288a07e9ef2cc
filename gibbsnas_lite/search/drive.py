"""Did the data or the noise choose the cell? The drift / noise split of a GibbsNAS α chain.

One α draw (paper Eq. 16) is ``α' = α - η H g + ε``: a mean step, which carries the data (the
gradient g of the search-valid loss, plus the prior's λα), and the noise ε. Summed over a run,

    α_T = α_0 + D + E,    D = Σ mean steps ("drift"),   E = Σ noise,

which the α sampler keeps (:meth:`~gibbsnas_lite.samplers.BFGSGaussian.movement`). Two numbers
then say what moved α:

* **drift share** ``‖P D‖ / (‖P D‖ + ‖P E‖)``, where P removes each edge's mean over its ops
  (the direction the softmax cannot see): 0 when only noise moved α, 1 when only the data did.
* **the noise-only control**: the cell of ``α_0 + E``, where the sampler's own noise would have
  taken α with no gradient at all (same seed, same draws), and the share of edges on which the
  searched cell agrees with it. A search whose cell is its noise-only control on most edges
  did not search; with a strong, consistent gradient the agreement falls to chance (1/5 of
  edges for NAS-Bench-201's 5 ops). A cell is compared edge by edge: the argmax op of each
  row of α (for NAS-Bench-201 exactly its derived arch string; for DARTS the strongest op of
  every candidate edge).

The measure is a lesson in itself (notebook 04, docs/search.md "Is α driven by data?"): on
the shallow ``cpu`` stage at the old defaults the noise was ~20x the drift and the cells could
be predicted from the random stream alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: a setting whose cells agree with their noise-only controls on more than this share of
#: edges (pooled over seeds) is not a search (the gate of the deep stage's tuning rule)
NOT_A_SEARCH = 0.35


def edge_visible(alpha: torch.Tensor) -> torch.Tensor:
    """``alpha`` (edges x ops) minus each edge's mean over its ops: what ``softmax(alpha, -1)`` sees."""
    return alpha - alpha.mean(dim=-1, keepdim=True)


def split_flat(flat: torch.Tensor, shapes: Sequence[torch.Size]) -> list[torch.Tensor]:
    out, start = [], 0
    for shape in shapes:
        n = int(torch.Size(shape).numel())
        out.append(flat[start : start + n].reshape(shape))
        start += n
    return out


def edge_choices(alphas: Sequence[torch.Tensor]) -> list[int]:
    """The argmax op of every edge (row) of every α tensor, in order."""
    return [int(k) for a in alphas for k in a.detach().argmax(dim=-1).reshape(-1).tolist()]


def agreement(a: Sequence[int], b: Sequence[int]) -> float:
    """Share of edges on which two cells (as :func:`edge_choices`) pick the same op."""
    if len(a) != len(b) or not a:
        raise ValueError(f"cells of different sizes: {len(a)} and {len(b)} edges")
    return sum(x == y for x, y in zip(a, b)) / len(a)


def drive_report(movement: dict[str, torch.Tensor], shapes: Sequence[torch.Size], final: Sequence[torch.Tensor]):
    """The drift/noise split of one run (module docstring) from the α sampler's ``movement()``.

    ``shapes``: the α tensors' shapes (edges x ops each); ``final``: the α tensors now.
    Returns ``{}`` before the first α step, else ``drift_norm``, ``noise_norm`` (softmax-visible
    norms of D and E), ``drift_share``, ``noise_only_choices`` (the control's op per edge),
    ``noise_only_agreement`` (its share of edges equal to the searched cell's) and
    ``drift_only_agreement`` (the same for ``α_0 + D``).
    """
    if not movement:
        return {}
    start, drift, noise = (split_flat(movement[k].double(), shapes) for k in ("start", "drift", "noise"))
    drift_norm = float(torch.sqrt(sum(edge_visible(d).square().sum() for d in drift)))
    noise_norm = float(torch.sqrt(sum(edge_visible(e).square().sum() for e in noise)))
    total = drift_norm + noise_norm
    searched = edge_choices(final)
    noise_only = edge_choices([s + e for s, e in zip(start, noise)])
    drift_only = edge_choices([s + d for s, d in zip(start, drift)])
    return {
        "drift_norm": drift_norm,
        "noise_norm": noise_norm,
        "drift_share": drift_norm / total if total > 0 else None,
        "noise_only_choices": noise_only,
        "noise_only_agreement": agreement(searched, noise_only),
        "drift_only_agreement": agreement(searched, drift_only),
    }
