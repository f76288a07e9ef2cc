"""Helpers shared by the tests: import them with ``from helpers import ...``.

tests/ is on sys.path whichever way pytest imports the test files (tests/conftest.py puts it there),
so this works when pytest runs from the repository root, from tests/, or with --import-mode=importlib.
"""

import json
from pathlib import Path

import numpy as np
import torch


def assert_same(a, b, where="state", *, ignore=()):
    """Recursive exact equality of checkpoints and state dicts.

    Tensors bit for bit (``torch.equal``) and with the same dtype, numpy arrays likewise; dicts with
    the same keys (the values of keys in ``ignore``, e.g. ``{"seconds"}``, are not compared), lists
    and tuples of the same length; anything else with ``==``. ``where`` names the place of a
    difference in the message (``checkpoint['model']['alpha']``)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (
            f"{where}: keys {sorted(map(str, a))} != {sorted(map(str, b))}"
        )
        for key in a:
            if key not in ignore:
                assert_same(a[key], b[key], f"{where}[{key!r}]", ignore=ignore)
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]", ignore=ignore)
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def strip_seconds(records):
    """History records without their wall-clock ``seconds`` (which no two runs share)."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def file_records(run_dir: Path) -> list[dict]:
    """A run folder's history.jsonl, without ``seconds``; every line must be one JSON record."""
    lines = (Path(run_dir) / "history.jsonl").read_text().splitlines()
    return strip_seconds([json.loads(line) for line in lines])


def noisy_quadratic_run(params, sampler, steps, seed):
    """``steps`` sampler steps on U = ¼|θ|² with N(0, 0.1²) gradient noise from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        for p in params:
            p.grad = 0.5 * p.detach() + 0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device)
        sampler.step()
