"""What a sweep runs: a list of trials, each one ``run_search`` with its own settings and run folder.

A trial is a strategy, a seed, a profile, an optional dataset and optional config overrides
(any :class:`~gibbsnas_lite.search.SearchConfig` field). :func:`grid` builds the product of
strategies x datasets x seeds; :func:`load_sweep_file` reads the same from a JSON or YAML
file, plus explicit trials. A trial's ``name`` is its run folder's name and its identity: a
restarted sweep finds a trial's finished or half-done run by it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..search.config import PROFILE_PRESETS, PROFILES
from ..search.registry import strategy_names

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$")


@dataclass(frozen=True)
class Trial:
    """One search of a sweep. ``overrides`` go to :func:`~gibbsnas_lite.search.make_config` as given."""

    strategy: str
    seed: int = 0
    profile: str = "smoke"
    dataset: str | None = None  # None: the profile's dataset
    overrides: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self):
        if not self.name:
            object.__setattr__(self, "name", default_name(self.strategy, self.dataset_name, self.seed, self.overrides))
        if not _NAME.match(self.name):
            raise ValueError(f"trial name {self.name!r} is not a folder name; use letters, digits and . _ = + -")
        object.__setattr__(self, "overrides", dict(self.overrides))

    @property
    def dataset_name(self) -> str:
        """The dataset the search will use (the profile's when none is given)."""
        if self.dataset is not None:
            return self.dataset
        return PROFILE_PRESETS.get(self.profile, {}).get("dataset", "unknown")

    def config_args(self) -> dict[str, Any]:
        """Arguments of ``make_config(**args)``."""
        return dict(
            strategy=self.strategy, profile=self.profile, seed=self.seed, dataset=self.dataset, **self.overrides
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trial:
        known = {"strategy", "seed", "profile", "dataset", "overrides", "name"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown trial key(s) {unknown}; a trial has {sorted(known)} "
                "(config fields go under 'overrides' or 'set')"
            )
        return cls(**dict(data))


def default_name(strategy: str, dataset: str, seed: int, overrides: Mapping[str, Any]) -> str:
    """``gibbs2-fashion-mnist-s0``, with ``+key=value`` parts for overrides (sorted)."""
    extra = "".join(f"+{k}={v}" for k, v in sorted(overrides.items()))
    return f"{strategy}-{dataset}-s{seed}{extra}".replace(" ", "")


def parse_seeds(text: str | int | Iterable[int]) -> list[int]:
    """``"0-4"`` -> [0..4]; ``"0,2,7-8"`` -> [0, 2, 7, 8]; an int or a list is taken as is."""
    if isinstance(text, int):
        return [text]
    if not isinstance(text, str):
        return [int(s) for s in text]
    seeds: list[int] = []
    for part in text.replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        try:
            seeds.extend(range(int(first), int(last) + 1) if dash else [int(first)] if part else [])
        except ValueError:
            raise ValueError(f"seeds {text!r}: cannot read {part!r}; write e.g. 0-4 or 0,1,2") from None
    if not seeds:
        raise ValueError(f"seeds {text!r} name no seed; write e.g. 0-4 or 0,1,2")
    return seeds


def _names(kind: str, values: str | Sequence[str] | None, allowed: Sequence[str] | None = None) -> list:
    if values is None:
        return [None]
    items = [v.strip() for v in values.split(",")] if isinstance(values, str) else list(values)
    items = [v for v in items if v]
    if not items:
        raise ValueError(f"no {kind} given")
    if allowed is not None:
        bad = [v for v in items if v not in allowed]
        if bad:
            raise ValueError(f"unknown {kind} {bad}; choose from {', '.join(allowed)}")
    return items


def grid(
    strategies: str | Sequence[str],
    seeds: str | int | Iterable[int] = 0,
    datasets=None,
    profile: str = "smoke",
    overrides: Mapping[str, Any] | None = None,
) -> list[Trial]:
    """Every strategy x dataset x seed, with the same profile and overrides (the order: dataset, seed, strategy).

    Unknown strategies and profiles are refused here; a bad override is left to its trial
    (it fails with its error, the others run).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    names = _names("strategies", strategies, strategy_names())
    trials = [
        Trial(strategy=s, seed=seed, profile=profile, dataset=d, overrides=dict(overrides or {}))
        for d in _names("datasets", datasets)
        for seed in parse_seeds(seeds)
        for s in names
    ]
    return check_unique(trials)


def check_unique(trials: Sequence[Trial]) -> list[Trial]:
    seen: dict[str, Trial] = {}
    for t in trials:
        if t.name in seen and seen[t.name] != t:
            raise ValueError(f"two different trials are named {t.name!r}; give them distinct names")
        seen[t.name] = t
    return list(seen.values())


def load_sweep_file(path: str | Path) -> list[Trial]:
    """Trials from a JSON or YAML file.

    Keys: ``profile``, ``strategies``, ``seeds``, ``datasets``, ``set`` (overrides for all) make
    a grid; ``trials`` adds explicit ones (``{strategy, seed, profile, dataset, set, name}``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {path} does not exist")
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ImportError(f"{path} is YAML, which needs PyYAML: pip install pyyaml (or write it as JSON)") from None
        data = yaml.safe_load(text)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"sweep file {path} is not valid JSON ({err}); YAML files end in .yaml") from None
    if not isinstance(data, dict):
        raise ValueError(f"sweep file {path}: expected a mapping with strategies/seeds/... or trials")
    known = {"profile", "strategies", "seeds", "datasets", "set", "trials"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"sweep file {path}: unknown key(s) {unknown}; known: {sorted(known)}")
    profile = data.get("profile", "smoke")
    shared = dict(data.get("set") or {})
    trials: list[Trial] = []
    if "strategies" in data:
        trials += grid(data["strategies"], data.get("seeds", 0), data.get("datasets"), profile, shared)
    for item in data.get("trials") or []:
        item = dict(item)
        item.setdefault("profile", profile)
        item["overrides"] = {**shared, **(item.pop("set", None) or {}), **(item.pop("overrides", None) or {})}
        trials.append(Trial.from_dict(item))
    if not trials:
        raise ValueError(f"sweep file {path} names no trial (give strategies, or a trials list)")
    return check_unique(trials)
