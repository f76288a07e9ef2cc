"""Tests of gibbsnas_lite.data: every reader runs on tiny files written in the exact
published formats (CIFAR tar.gz of Python-2 pickles, ImageNet16 pickles, gzip IDX), the
download path runs against file:// URLs and an injected opener (never the internet)."""

from __future__ import annotations

import io
import os
import pickle
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from gibbsnas_lite import data as D
from gibbsnas_lite.data import fixtures as F
from gibbsnas_lite.data.cifar import CIFAR10, CIFAR100
from gibbsnas_lite.data.fashion_mnist import DEBIAN_DIR, FASHION_MNIST_FILES
from gibbsnas_lite.data.formats import load_pickle, read_idx


# ---------------------------------------------------------------------------- helpers
def _cifar_parts(variant, per_batch=6, n_test=8, seed=0):
    rng = np.random.default_rng(seed)
    k = 10 if variant == "cifar10" else 100
    nb = 5 if variant == "cifar10" else 1
    train = [(F.random_images(per_batch, 3, 32, 32, seed + i), rng.integers(0, k, per_batch)) for i in range(nb)]
    test = (F.random_images(n_test, 3, 32, 32, seed + 99), rng.integers(0, k, n_test))
    return train, test


def _no_temp_files(folder: Path):
    return [p.name for p in folder.rglob("*") if p.name.endswith(".part") or p.name.startswith(".")]


@pytest.fixture
def cifar10_archive(tmp_path):
    train, test = _cifar_parts("cifar10")
    src = tmp_path / "mirror" / CIFAR10.filename
    F.write_cifar_archive(src, "cifar10", train, test)
    return src, train, test


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """No test may touch the user's cache: point the default data folder into tmp."""
    monkeypatch.setenv("GIBBSNAS_DATA", str(tmp_path / "default-cache"))


# ---------------------------------------------------------------------------- formats
def test_py2_pickle_layout_loads_exactly():
    a = np.arange(3 * 3072, dtype=np.uint8).reshape(3, 3072)
    raw = F.py2_pickle({"data": a, "labels": [0, 7, 9], "batch_label": "b", "filenames": ["x", "y", "z"]})
    assert raw.startswith(b"\x80\x02}") and b"cnumpy.core.multiarray\n_reconstruct\n" in raw
    d = load_pickle(raw)
    assert set(d) == {"data", "labels", "batch_label", "filenames"}
    assert d["data"].dtype == np.uint8 and np.array_equal(d["data"], a)
    assert d["labels"] == [0, 7, 9]


def test_python3_pickles_load_too():
    a = np.arange(12, dtype=np.uint8).reshape(2, 6)
    for proto in (2, 4, 5):
        d = load_pickle(pickle.dumps({b"data": a, "labels": [1, 2]}, protocol=proto))
        assert np.array_equal(d["data"], a) and d["labels"] == [1, 2]  # bytes keys become str


def test_unpickler_refuses_code():
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    with pytest.raises(D.DatasetError, match="refusing to unpickle"):
        load_pickle(pickle.dumps({"data": Evil()}), name="evil_batch")
    with pytest.raises(D.DatasetError, match="corrupt or not in the published format"):
        load_pickle(b"\x80\x02}(U\x04data", name="truncated")


def test_idx_reader_roundtrip_and_errors(tmp_path):
    a = F.random_images(5, 1, 28, 28)[:, 0]
    for compress in (True, False):
        p = F.write_idx(tmp_path / f"x{compress}", a, compress=compress)
        assert np.array_equal(read_idx(p), a)
    raw = (tmp_path / "xFalse").read_bytes()
    with pytest.raises(D.DatasetError, match="size mismatch"):
        read_idx(raw[:-3])
    with pytest.raises(D.DatasetError, match="not an IDX file"):
        read_idx(b"\x01\x02\x08\x01" + raw[4:])


# ---------------------------------------------------------------------------- CIFAR
def test_cifar10_download_from_file_url_roundtrip(tmp_path, cifar10_archive):
    src, train, test = cifar10_archive
    root = tmp_path / "root"
    md5 = D.file_digest(src)
    tr, te = D.load_dataset("cifar10", root, download=True, url=src.as_uri(), md5=md5, verify=False, progress=False)
    assert (root / CIFAR10.filename).is_file() and (root / CIFAR10.folder / "data_batch_5").is_file()
    assert _no_temp_files(root) == []
    want_x = np.concatenate([x for x, _ in train])
    want_y = np.concatenate([y for _, y in train])
    assert tr.images.dtype == torch.uint8 and tuple(tr.images.shape) == (30, 3, 32, 32)
    assert np.array_equal(tr.images.numpy(), want_x) and np.array_equal(tr.labels.numpy(), want_y)
    assert np.array_equal(te.images.numpy(), test[0]) and np.array_equal(te.labels.numpy(), test[1])
    assert tr.classes[0] == "airplane" and tr.num_classes == 10 and tr.mean == CIFAR10.mean
    # Second call: the extracted batches are used, nothing is fetched.
    tr2, _ = D.load_dataset("cifar10", root)
    assert torch.equal(tr2.images, tr.images)


def test_cifar_injected_opener_and_pixel_layout(tmp_path):
    # One image whose red/green/blue planes are constant 10/20/30: the N×3072 row is
    # [1024×R, 1024×G, 1024×B], so it must come back as channel-first planes.
    x = np.zeros((1, 3, 32, 32), np.uint8)
    x[0, 0], x[0, 1], x[0, 2] = 10, 20, 30
    x[0, 0, 0, 1] = 200  # row 0, column 1 of the red plane
    train = [(x, [3])] * 5
    src = F.write_cifar_archive(tmp_path / "a.tar.gz", "cifar10", train, (x, [4]))
    payload = src.read_bytes()
    seen = []

    def opener(url, timeout):
        seen.append(url)
        return io.BytesIO(payload)

    tr, te = D.load_dataset(
        "cifar10", tmp_path / "r", download=True, opener=opener, md5=D.file_digest(src), verify=False, progress=False
    )
    assert seen == [CIFAR10.url]
    assert tr.images[0, 0, 0, 1] == 200 and tr.images[0, 0, 5, 5] == 10
    assert tr.images[0, 1].unique().tolist() == [20] and tr.images[0, 2].unique().tolist() == [30]
    assert tr.labels.tolist() == [3] * 5 and te.labels.tolist() == [4]


def test_cifar100_from_archive_placed_by_hand(tmp_path):
    train, test = _cifar_parts("cifar100", per_batch=12)
    root = tmp_path / "root"
    src = F.write_cifar_archive(root / CIFAR100.filename, "cifar100", train, test)
    tr, te = D.load_dataset("cifar100", root, md5=D.file_digest(src), verify=False)
    assert np.array_equal(tr.images.numpy(), train[0][0]) and np.array_equal(tr.labels.numpy(), train[0][1])
    assert np.array_equal(te.labels.numpy(), test[1]) and tr.num_classes == 100 and len(tr.classes) == 100


def test_cifar_checksum_mismatch_on_download(tmp_path, cifar10_archive):
    src, _, _ = cifar10_archive
    root = tmp_path / "root"
    with pytest.raises(D.ChecksumError) as err:
        D.load_dataset("cifar10", root, download=True, url=src.as_uri(), md5="0" * 32, progress=False)
    msg = str(err.value)
    assert "0" * 32 in msg and D.file_digest(src) in msg and src.as_uri() in msg and "retry" in msg
    assert not (root / CIFAR10.filename).exists() and _no_temp_files(root) == []


def test_cifar_corrupt_archive_in_cache(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    bad = root / CIFAR10.filename
    bad.write_bytes(b"not a tarball")
    with pytest.raises(D.ChecksumError) as err:
        D.load_dataset("cifar10", root)
    msg = str(err.value)
    assert str(bad) in msg and CIFAR10.md5 in msg and D.file_digest(bad) in msg and "delete" in msg


def test_cifar_published_batch_md5s_are_checked(tmp_path, cifar10_archive):
    src, _, _ = cifar10_archive
    with pytest.raises(D.ChecksumError, match="data_batch_1"):
        D.load_dataset(
            "cifar10", tmp_path / "r", download=True, url=src.as_uri(), md5=D.file_digest(src), progress=False
        )
    assert not (tmp_path / "r" / CIFAR10.folder).exists()  # extraction is all-or-nothing


def test_cifar_offline_and_missing_errors(tmp_path):
    root = tmp_path / "root"
    with pytest.raises(D.DatasetNotFoundError) as err:
        D.load_dataset("cifar10", root)
    assert CIFAR10.url in str(err.value) and "download=True" in str(err.value)

    def offline(url, timeout):
        raise urllib.error.URLError("Temporary failure in name resolution")

    with pytest.raises(D.DatasetNotFoundError) as err:
        D.load_dataset("cifar100", root, download=True, opener=offline, progress=False)
    msg = str(err.value)
    assert CIFAR100.url in msg and str(root / CIFAR100.filename) in msg and "offline" in msg
    assert "place it at" in msg
    missing = (tmp_path / "nowhere.tar.gz").as_uri()
    with pytest.raises(D.DatasetNotFoundError, match="could not download"):
        D.load_dataset("cifar10", root, download=True, url=missing, progress=False)
    assert _no_temp_files(root) == []


def test_download_url_is_atomic(tmp_path):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 4:
                raise ConnectionResetError("cut")
            return super().read(3)

    with pytest.raises(D.DatasetNotFoundError, match="failed midway"):
        D.download_url("http://example.invalid/f", tmp_path / "f.bin", None, opener=lambda u, t: Broken(b"0123456789"))
    assert list(tmp_path.iterdir()) == []
    out = D.download_url("x://y", tmp_path / "g.bin", None, opener=lambda u, t: io.BytesIO(b"abc"))
    assert out.read_bytes() == b"abc"


# ---------------------------------------------------------------------------- ImageNet16
def _imagenet16_parts(seed=0):
    rng = np.random.default_rng(seed)
    train = [(F.random_images(8, 3, 16, 16, seed + i), rng.integers(1, 131, 8)) for i in range(10)]
    val = (F.random_images(20, 3, 16, 16, seed + 50), rng.integers(1, 131, 20))
    return train, val


def test_imagenet16_120_roundtrip_and_label_convention(tmp_path):
    train, val = _imagenet16_parts()
    F.write_imagenet16(tmp_path / "ImageNet16", train, val)
    tr, te = D.load_dataset("ImageNet16-120", tmp_path, verify=False)
    x = np.concatenate([a for a, _ in train])
    y = np.concatenate([b for _, b in train])
    keep = y <= 120  # 1-based labels 1..120 kept, as AutoDL-Projects does
    assert 0 < keep.sum() < len(y)
    assert np.array_equal(tr.images.numpy(), x[keep]) and np.array_equal(tr.labels.numpy(), y[keep] - 1)
    assert tr.labels.min() >= 0 and tr.labels.max() <= 119 and tr.num_classes == 120
    vk = val[1] <= 120
    assert np.array_equal(te.images.numpy(), val[0][vk]) and np.array_equal(te.labels.numpy(), val[1][vk] - 1)
    assert tuple(tr.images.shape[1:]) == (3, 16, 16) and tr.augment.crop_padding == 2
    # root may also be the folder itself
    tr2, _ = D.load_dataset("ImageNet16-120", tmp_path / "ImageNet16", verify=False)
    assert torch.equal(tr2.labels, tr.labels)


def test_imagenet16_errors(tmp_path):
    train, val = _imagenet16_parts()
    folder = F.write_imagenet16(tmp_path / "ImageNet16", train, val)
    with pytest.raises(D.ChecksumError, match="train_data_batch_1"):
        D.load_dataset("ImageNet16-120", tmp_path)  # verify=True: not the published files
    (folder / "train_data_batch_7").unlink()
    with pytest.raises(D.DatasetNotFoundError) as err:
        D.load_dataset("ImageNet16-120", tmp_path, verify=False)
    assert "train_data_batch_7" in str(err.value) and "image-net.org" in str(err.value)
    assert "train_data_batch_6," not in str(err.value)


# ---------------------------------------------------------------------------- Fashion-MNIST
def _fmnist_parts(seed=0):
    rng = np.random.default_rng(seed)
    return (
        F.random_images(12, 1, 28, 28, seed)[:, 0],
        rng.integers(0, 10, 12).astype(np.uint8),
        F.random_images(5, 1, 28, 28, seed + 1)[:, 0],
        rng.integers(0, 10, 5).astype(np.uint8),
    )


def test_fashion_mnist_folder_roundtrip_pad_and_rgb(tmp_path):
    trx, try_, tex, tey = _fmnist_parts()
    F.write_fashion_mnist(tmp_path / "fm", trx, try_, tex, tey)
    tr, te = D.load_dataset("fashion-mnist", tmp_path / "fm", verify=False)
    assert tuple(tr.images.shape) == (12, 1, 28, 28)
    assert np.array_equal(tr.images[:, 0].numpy(), trx) and np.array_equal(tr.labels.numpy(), try_)
    assert np.array_equal(te.images[:, 0].numpy(), tex) and np.array_equal(te.labels.numpy(), tey)
    tp, _ = D.load_dataset("fashion-mnist", tmp_path / "fm", verify=False, pad_to_32=True)
    assert tuple(tp.images.shape) == (12, 1, 32, 32)
    assert torch.equal(tp.images[:, :, 2:30, 2:30], tr.images)
    assert tp.images.sum() == tr.images.sum()  # the 2-pixel border is background (0)
    trgb, _ = D.load_dataset("fashion-mnist", tmp_path / "fm", verify=False, rgb=True)
    assert trgb.images.shape[1] == 3 and torch.equal(trgb.images[:, 2], tr.images[:, 0]) and len(trgb.mean) == 3
    with pytest.raises(D.ChecksumError, match="decompressed"):
        D.load_dataset("fashion-mnist", tmp_path / "fm")  # not the published content


def test_fashion_mnist_size_16_is_2x2_means_padded_by_one(tmp_path):
    trx, try_, tex, tey = _fmnist_parts()
    F.write_fashion_mnist(tmp_path / "fm", trx, try_, tex, tey)
    t16, _ = D.load_dataset("fashion-mnist", tmp_path / "fm", verify=False, size=16)
    assert tuple(t16.images.shape) == (12, 1, 16, 16) and t16.images.dtype == torch.uint8
    # numpy's own 2x2 block means, rounded half up, inside a one-pixel zero border
    blocks = trx.reshape(12, 14, 2, 14, 2).astype(np.int64).sum(axis=(2, 4))
    assert np.array_equal(t16.images[:, 0, 1:15, 1:15].numpy(), ((blocks + 2) // 4).astype(np.uint8))
    assert int(t16.images[:, :, 0].sum()) == 0 and int(t16.images[:, :, :, 15].sum()) == 0
    assert t16.augment.crop_padding == 2
    t32, _ = D.load_dataset("fashion-mnist", tmp_path / "fm", verify=False, size=32)
    assert tuple(t32.images.shape) == (12, 1, 32, 32)
    with pytest.raises(ValueError, match="size 20 .*16, 28, 32"):
        D.load_dataset("fashion-mnist", tmp_path / "fm", verify=False, size=20)


def test_fashion_mnist_download_from_file_url(tmp_path):
    trx, try_, tex, tey = _fmnist_parts()
    mirror = F.write_fashion_mnist(tmp_path / "mirror", trx, try_, tex, tey)
    root = tmp_path / "root"
    with pytest.raises(D.ChecksumError):  # content checksum on: fixtures are not the real files
        D.load_dataset("fashion-mnist", root, download=True, url=mirror.as_uri() + "/")
    assert not any((root / "fashion-mnist").glob("*.gz"))
    tr, _ = D.load_dataset("fashion-mnist", root, download=True, url=mirror.as_uri() + "/", verify=False)
    assert sorted(p.name for p in (root / "fashion-mnist").iterdir()) == sorted(FASHION_MNIST_FILES)
    assert np.array_equal(tr.labels.numpy(), try_)


def test_fashion_mnist_missing_error_names_fixes(tmp_path):
    with pytest.raises(D.DatasetNotFoundError) as err:
        D.load_dataset("fashion-mnist", tmp_path / "empty")
    assert "dataset-fashion-mnist" in str(err.value) and "download=True" in str(err.value)


@pytest.mark.skipif(
    not all((DEBIAN_DIR / f).is_file() for f in FASHION_MNIST_FILES),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_fashion_mnist_real_debian_files():
    tr, te = D.load_dataset("fashion-mnist", DEBIAN_DIR)  # md5 of decompressed content checked
    assert tuple(tr.images.shape) == (60000, 1, 28, 28) and len(te) == 10000
    assert tr.class_counts().tolist() == [6000] * 10 and te.class_counts().tolist() == [1000] * 10
    m = tr.images.to(torch.float64).div(255)
    assert abs(m.mean().item() - tr.mean[0]) < 1e-3 and abs(m.std().item() - tr.std[0]) < 1e-3


def test_fashion_mnist_embedded_subset_is_the_full_sets_first_per_class(monkeypatch, tmp_path):
    """With nothing installed, the loader falls back to data/fashion-mnist-subset (with a
    warning); its images are exactly the first 820 / 200 of each class of the real files."""
    from gibbsnas_lite.data import fashion_mnist as FM

    monkeypatch.setenv("GIBBSNAS_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(FM, "DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.warns(UserWarning, match="embedded subset"):
        tr, te = D.load_dataset("fashion-mnist")  # md5 of the subset's content checked
    assert tr.name == "fashion-mnist-subset-train" and te.name == "fashion-mnist-subset-test"
    assert tr.class_counts().tolist() == [820] * 10 and te.class_counts().tolist() == [200] * 10
    with pytest.raises(D.DatasetNotFoundError):  # an explicit root never falls back
        D.load_dataset("fashion-mnist", tmp_path / "empty")
    # the cpu profile's two search halves of 4,096 fit in it
    with pytest.warns(UserWarning, match="embedded subset"):
        splits = D.search_splits("fashion-mnist", protocol="nb201", seed=0)
    assert min(len(splits.train), len(splits.valid)) >= 4096
    if all((DEBIAN_DIR / f).is_file() for f in FASHION_MNIST_FILES):
        full_tr, full_te = D.load_dataset("fashion-mnist", DEBIAN_DIR)
        for full, sub, k in ((full_tr, tr, 820), (full_te, te, 200)):
            keep = np.sort(np.concatenate([np.flatnonzero(full.labels.numpy() == c)[:k] for c in range(10)]))
            assert torch.equal(full.images[keep], sub.images) and torch.equal(full.labels[keep], sub.labels)


# ---------------------------------------------------------------------------- splits
def test_stratified_halves_disjoint_covering_balanced():
    y = torch.arange(1001) % 7
    a, b = D.stratified_halves(y, seed=3)
    assert np.intersect1d(a, b).size == 0 and np.union1d(a, b).tolist() == list(range(1001))
    assert abs(len(a) - len(b)) <= 1
    ca, cb = np.bincount(y.numpy()[a], minlength=7), np.bincount(y.numpy()[b], minlength=7)
    assert np.all(np.abs(ca - cb) <= 1)
    a2, _ = D.stratified_halves(y, seed=3)
    a3, _ = D.stratified_halves(y, seed=4)
    assert np.array_equal(a, a2) and not np.array_equal(a, a3)


@pytest.mark.parametrize("protocol", ["nb201", "halves", "darts"])
def test_search_splits_synthetic(protocol):
    s = D.search_splits("synthetic", protocol=protocol, num_train=101, num_test=40)
    idx_w, idx_a = s.train.indices.numpy(), s.valid.indices.numpy()
    assert np.intersect1d(idx_w, idx_a).size == 0 and np.union1d(idx_w, idx_a).tolist() == list(range(101))
    assert len(s.test) == 40 and s.protocol == protocol
    full, _ = D.load_dataset("synthetic", num_train=101, num_test=40)
    assert torch.equal(s.train.images, full.images[s.train.indices])
    if protocol == "darts":
        assert idx_w.tolist() == list(range(50))


def _cifar10_root(tmp_path, per_batch=6):
    train, test = _cifar_parts("cifar10", per_batch=per_batch)
    root = tmp_path / "root"
    src = F.write_cifar_archive(root / CIFAR10.filename, "cifar10", train, test)
    D.load_dataset("cifar10", root, md5=D.file_digest(src), verify=False)  # extract once
    return root


def test_cifar10_nb201_split_file(tmp_path):
    root = _cifar10_root(tmp_path)  # 30 training images
    fallback = D.search_splits("cifar10", root)
    assert "standing in for NB201's cifar-split.txt" in fallback.source
    # A file in AutoDL-Projects' format whose heads match the published cifar-split.txt.
    head_t, head_v = [0, 5, 7, 11, 13, 15, 16, 17, 20, 24], [1, 2, 3, 4, 6, 8, 9, 10, 12, 14]
    rest = [i for i in range(30) if i not in head_t + head_v]
    train_idx, valid_idx = head_t + rest[::2], head_v + rest[1::2]
    D.write_split_file(root / "splits" / "cifar-split.txt", {"train": train_idx, "valid": valid_idx})
    assert '"train": ["int", ["0", "5"' in (root / "splits" / "cifar-split.txt").read_text()
    s = D.search_splits("cifar10", root)
    assert "matches the published cifar-split.txt" in s.source
    assert s.train.indices.tolist() == train_idx and s.valid.indices.tolist() == valid_idx
    assert len(s.test) == 8
    other = tmp_path / "other-split.txt"
    D.write_split_file(other, {"train": list(range(15)), "valid": list(range(15, 30))})
    s2 = D.search_splits("cifar10", root, split_file=other)
    assert "matches" not in s2.source and s2.train.indices.tolist() == list(range(15))
    D.write_split_file(other, {"train": list(range(16)), "valid": list(range(15, 30))})
    with pytest.raises(D.DatasetError, match="overlap"):
        D.search_splits("cifar10", root, split_file=other)


def test_cifar100_nb201_protocol_uses_test_halves(tmp_path):
    train, test = _cifar_parts("cifar100", per_batch=20, n_test=30)
    root = tmp_path / "root"
    src = F.write_cifar_archive(root / CIFAR100.filename, "cifar100", train, test)
    kw = dict(md5=D.file_digest(src), verify=False)
    s = D.search_splits("cifar100", root, **kw)
    assert len(s.train) == 20 and s.train.indices is None  # ω: the whole training set
    assert len(s.valid) == 15 and len(s.test) == 15 and "x-valid" in s.source
    assert np.intersect1d(s.valid.indices, s.test.indices).size == 0
    D.write_split_file(
        root / "splits" / "cifar100-test-split.txt",
        {"xvalid": list(range(0, 30, 3)), "xtest": [i for i in range(30) if i % 3]},
    )
    s2 = D.search_splits("cifar100", root, **kw)
    assert s2.valid.indices.tolist() == list(range(0, 30, 3)) and len(s2.test) == 20
    h = D.search_splits("cifar100", root, protocol="halves", **kw)
    assert len(h.train) + len(h.valid) == 20 and len(h.test) == 30
    with pytest.raises(ValueError, match="nb201, halves, darts"):
        D.search_splits("cifar100", root, protocol="random", **kw)


def test_unknown_dataset_lists_names():
    with pytest.raises(ValueError) as err:
        D.load_dataset("mnist")
    for name in D.DATASETS:
        assert name in str(err.value)
    assert D.canonical_name("CIFAR-10") == "cifar10" and D.canonical_name("imagenet16-120") == "ImageNet16-120"


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GIBBSNAS_DATA", str(tmp_path / "x"))
    assert D.cache_dir() == tmp_path / "x" and D.cache_dir("/y") == Path("/y")
    monkeypatch.delenv("GIBBSNAS_DATA")
    assert D.cache_dir() == Path("~/.cache/gibbsnas-lite").expanduser()


# ---------------------------------------------------------------------------- loader
@pytest.fixture(scope="module")
def synth():
    return D.load_dataset("synthetic", num_train=200, num_test=50)


def _stream(loader, n):
    return [loader.next_batch() for _ in range(n)]


def test_loader_determinism_and_epochs(synth):
    tr, _ = synth
    a = D.DeviceLoader(tr, 32, seed=5)
    b = D.DeviceLoader(tr, 32, seed=5)
    c = D.DeviceLoader(tr, 32, seed=6)
    assert len(a) == 7
    ea, eb, ec = list(a), list(b), list(c)
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(ea, eb))
    assert not torch.equal(ea[0][1], ec[0][1])
    assert a.epoch == 1 and a.position == 0
    labels = torch.cat([y for _, y in ea])
    assert torch.equal(labels.sort().values, tr.labels.sort().values)  # one epoch = each image once
    e2 = list(a)
    assert not torch.equal(torch.cat([y for _, y in e2]), labels)  # a new order each epoch
    assert ea[0][0].dtype == torch.float32 and ea[-1][0].shape[0] == 200 - 6 * 32
    d = D.DeviceLoader(tr, 32, drop_last=True)
    assert len(d) == 6 and all(x.shape[0] == 32 for x, _ in d)


def test_loader_resume_mid_epoch(synth):
    tr, _ = synth
    ref = D.DeviceLoader(tr, 48, seed=1)
    want = _stream(ref, 11)  # crosses two epoch boundaries (5 batches per epoch)
    run = D.DeviceLoader(tr, 48, seed=1)
    first = _stream(run, 3)
    it = iter(run)
    first.append(next(it))  # mixing for-loop style and next_batch is fine
    state = run.state_dict()
    assert state["epoch"] == 0 and state["position"] == 4
    resumed = D.DeviceLoader(tr, 48, seed=999)
    resumed.load_state_dict(state)
    got = first + _stream(resumed, 7)
    for (x1, y1), (x2, y2) in zip(want, got):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    with pytest.raises(ValueError, match="batch_size"):
        D.DeviceLoader(tr, 50).load_state_dict(state)


def test_loader_eval_mode_is_plain_normalization(synth):
    _, te = synth
    ld = D.DeviceLoader(te, 16, shuffle=False, augment=False, channels_last=True)
    x, y = next(iter(ld))
    assert x.is_contiguous(memory_format=torch.channels_last)
    want = (te.images[:16].float() / 255 - torch.tensor(te.mean).view(1, -1, 1, 1)) / torch.tensor(te.std).view(
        1, -1, 1, 1
    )
    assert torch.allclose(x, want) and torch.equal(y, te.labels[:16])


def test_random_crop_keeps_size_and_is_a_shifted_window():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 256, (64, 3, 12, 12), dtype=torch.uint8, generator=g)
    out = D.random_crop(x, 4, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    shifts = set()
    for i in range(64):
        hits = [
            (dy, dx)
            for dy in range(9)
            for dx in range(9)
            if torch.equal(padded[i, :, dy : dy + 12, dx : dx + 12], out[i])
        ]
        assert len(hits) == 1
        shifts.add(hits[0])
    assert len(shifts) > 20  # offsets vary over the 9×9 possibilities
    assert torch.equal(D.random_crop(x, 0), x)


def test_flip_applied_to_about_half():
    x = torch.arange(4, dtype=torch.uint8).view(1, 1, 1, 4).expand(2000, 1, 1, 4)
    out = D.random_flip(x, torch.Generator().manual_seed(0))
    flipped = out[:, 0, 0, 0] == 3
    assert torch.equal(out[~flipped], x[~flipped]) and torch.equal(out[flipped], x[flipped].flip(3))
    assert 900 < int(flipped.sum()) < 1100  # Binomial(2000, 1/2): ±4.5 sd


def test_normalize_and_cutout():
    mean, std = (0.2, 0.4, 0.6), (0.1, 0.2, 0.3)
    x = torch.stack([torch.full((8, 8), round(m * 255)) for m in mean]).to(torch.uint8)[None].expand(4, -1, -1, -1)
    z = D.normalize(x, mean, std)
    assert z.dtype == torch.float32 and z.abs().max() < 0.02
    ones = torch.ones(500, 1, 32, 32)
    c = D.cutout(ones, 16, torch.Generator().manual_seed(0))
    zeros = (c == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 256 and zeros.min() >= 64 and (zeros < 256).any()  # clipped at borders
    for i in range(20):  # each hole is one axis-aligned rectangle
        r, k = (c[i, 0] == 0).nonzero(as_tuple=True)
        assert len(r) == (r.max() - r.min() + 1) * (k.max() - k.min() + 1)


def test_augmented_batches_shape_range_and_stats(synth):
    tr, _ = synth
    aug = D.Augment(crop_padding=4, flip=True, cutout=16)
    ld = D.DeviceLoader(tr, 200, augment=aug, seed=0)
    x, _ = ld.next_batch()
    assert x.shape == (200, 3, 32, 32) and x.dtype == torch.float32
    lo = (0 - torch.tensor(tr.mean)) / torch.tensor(tr.std)
    hi = (1 - torch.tensor(tr.mean)) / torch.tensor(tr.std)
    assert (x >= lo.view(1, -1, 1, 1) - 1e-5).all() and (x <= hi.view(1, -1, 1, 1) + 1e-5).all()
    plain, _ = D.DeviceLoader(tr, 200, augment=False, shuffle=False).next_batch()
    per_c_mean, per_c_std = plain.mean(dim=(0, 2, 3)), plain.std(dim=(0, 2, 3))
    assert per_c_mean.abs().max() < 1e-3 and (per_c_std - 1).abs().max() < 1e-3


def test_search_loaders_and_synthetic_is_learnable():
    s = D.search_splits("synthetic", num_train=600, num_test=200, seed=0)
    w, a, t = D.search_loaders(s, (64, 128), seed=0)
    assert a.seed == 1 and not t.shuffle and t.augment is None
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    for _ in range(2):  # plain SGD by hand (torch.optim's first import costs seconds)
        for x, y in w:
            net.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            with torch.no_grad():
                for p in net.parameters():
                    p -= 0.01 * p.grad
    with torch.no_grad():
        acc = sum((net(x).argmax(1) == y).sum().item() for x, y in t) / len(s.test)
    assert acc > 0.5  # chance is 0.1


def test_synthetic_is_deterministic_and_configurable():
    a, _ = D.load_dataset("synthetic", num_train=50, num_test=10, seed=3)
    b, _ = D.load_dataset("synthetic", num_train=50, num_test=10, seed=3)
    c, _ = D.load_dataset("synthetic", num_train=50, num_test=10, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    g, _ = D.load_dataset("synthetic", num_train=40, num_test=8, num_classes=4, channels=1, size=16)
    assert tuple(g.images.shape) == (40, 1, 16, 16) and g.class_counts().tolist() == [10] * 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_loader_cuda_matches_cpu(synth):
    tr, _ = synth
    aug = D.Augment(crop_padding=4, flip=True, cutout=16)
    cpu = _stream(D.DeviceLoader(tr, 64, augment=aug, seed=2), 5)
    gpu = _stream(D.DeviceLoader(tr, 64, augment=aug, seed=2, device="cuda"), 5)
    for (x1, y1), (x2, y2) in zip(cpu, gpu):
        assert x2.is_cuda and torch.allclose(x1, x2.cpu(), atol=1e-6) and torch.equal(y1, y2.cpu())


def test_import_makes_no_network_call_and_writes_nothing(tmp_path):
    # In a fresh interpreter (no module reloading here): sockets and urlopen raise, HOME and
    # the data folder point into tmp; importing the package must neither connect nor write.
    import subprocess
    import sys

    code = (
        "import socket, urllib.request\n"
        "def boom(*a, **k): raise AssertionError('network used at import')\n"
        "socket.socket.connect = boom; urllib.request.urlopen = boom\n"
        "import gibbsnas_lite.data, gibbsnas_lite.data.cifar, gibbsnas_lite.data.fashion_mnist\n"
        "import gibbsnas_lite.data.imagenet16, gibbsnas_lite.data.fixtures\n"
    )
    env = dict(os.environ, HOME=str(tmp_path / "home"), GIBBSNAS_DATA=str(tmp_path / "data"))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
    assert not (tmp_path / "home").exists() and not (tmp_path / "data").exists()
