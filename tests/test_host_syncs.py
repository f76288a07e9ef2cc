"""Host syncs in a search step (issue 19): none, except inside a GibbsNAS alpha draw.

On a GPU a search step is host-bound (thousands of small kernels), and each read of a device
value on the host makes the host wait until the device has drained its queue. Counted on the
CPU the way scripts/bench_search.py counts them: ``aten::_local_scalar_dense`` (``.item()``,
``float(t)``, ``bool(t)``, ``int(t)``) and calls of ``Tensor.tolist``/``Tensor.numpy``. Two
kinds of such reads are counted apart, because on CUDA they read host memory and wait for
nothing: torch.optim's step counters (Adam and SGD without ``capturable`` keep
``state["step"]`` on the host on every device; Adam reads it once per tensor per step) and
``F.one_hot``'s index checks (only on CPU; on CUDA it relies on device asserts). Draws from a
strategy's CPU generator are counted too: on CUDA each is a copy to the device.

Per strategy, at smoke size, after a warm-up step (the first of an epoch, which draws the
epoch's GDAS/RSPS random numbers), every step of a whole cycle (GibbsNAS: two of
lcm(alpha_accum, curvature_every) steps, each with an alpha draw) is counted. What remains:

* GibbsNAS's alpha draw, 1 (0 in mean mode): ``cholesky_with_jitter``'s success flag (the
  jitter fallback is a loop of factorizations: not worth running blind); the draw's
  finite-gradient check is deferred to the search's watch like the omega sampler's;
  ``torch.linalg.eigh`` (the eigenvalue cap) and the Cholesky check their own results on the
  host on CUDA, inside torch, where this count does not see them.
* GDAS on NB201, 1: the supernet runs only the sampled op of each edge, a choice the host
  makes, so both passes' paths are read back together once per step.

Also here: the non-finite loss check that replaced the per-forward one (once per epoch, before
the checkpoint), DARTS's omega step without the alpha backward, the block draws' stream, and
the loader's stream (bit for bit the per-batch one, with no host draws within an epoch).
"""

from __future__ import annotations

import hashlib
import math
from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from gibbsnas_lite import data as D
from gibbsnas_lite.samplers import DiagonalGaussian, NonFiniteWatch
from gibbsnas_lite.search import NonFiniteLossError, make_config, run_search
from gibbsnas_lite.search.base import BlockDraws
from gibbsnas_lite.search.checkpoint import load_checkpoint
from gibbsnas_lite.search.data import SearchData
from gibbsnas_lite.search.loop import build_model, build_strategy
from gibbsnas_lite.search.registry import in_family

SMALL = dict(channels=4, cells_per_stage=1, image_size=8, batch_size=4)
STEPS_PER_EPOCH = 16  # GDAS/RSPS draw an epoch's numbers at its first step


class SyncCounter:
    """Host syncs, host-only reads and host draws while :meth:`active` (module docstring)."""

    def __init__(self, strategy):
        self.host_counters = {  # torch.optim's step counters, host tensors on every device
            st["step"].data_ptr()
            for opt in strategy.optimizers().values()
            if type(opt).__module__.startswith("torch.optim") and isinstance(opt, torch.optim.Optimizer)
            for st in opt.state.values()
            if isinstance(st.get("step"), torch.Tensor) and st["step"].device.type == "cpu"
        }
        self.seed = strategy.generator.initial_seed()
        self.syncs = self.host_reads = self.host_draws = 0
        self._in_one_hot = 0

    @contextmanager
    def active(self):
        counter = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                if func.overloadpacket.__name__ == "_local_scalar_dense":
                    if counter._in_one_hot or args[0].data_ptr() in counter.host_counters:
                        counter.host_reads += 1
                    else:
                        counter.syncs += 1
                generator = kwargs.get("generator")
                if isinstance(generator, torch.Generator) and generator.initial_seed() == counter.seed:
                    counter.host_draws += 1
                return func(*args, **kwargs)

        def fetch(original):
            def read(tensor, *a, **k):
                counter.syncs += 1
                return original(tensor, *a, **k)

            return read

        def one_hot(*a, **k):
            counter._in_one_hot += 1
            try:
                return originals["one_hot"](*a, **k)
            finally:
                counter._in_one_hot -= 1

        originals = {"tolist": torch.Tensor.tolist, "numpy": torch.Tensor.numpy, "one_hot": F.one_hot}
        torch.Tensor.tolist, torch.Tensor.numpy = fetch(originals["tolist"]), fetch(originals["numpy"])
        F.one_hot = one_hot
        try:
            with Mode():
                yield self
        finally:
            torch.Tensor.tolist, torch.Tensor.numpy = originals["tolist"], originals["numpy"]
            F.one_hot = originals["one_hot"]


def small_strategy(name, space="nb201", device="cpu", **overrides):
    config = make_config(name, "smoke", space=space, device=device, **SMALL, **overrides)
    torch.manual_seed(0)
    model = build_model(config, 10, 3).to(device)
    strategy = build_strategy(config, model, steps_per_epoch=STEPS_PER_EPOCH, sizes=(64, 64))
    g = torch.Generator().manual_seed(1)

    def batch():
        return torch.randn(4, 3, 8, 8, generator=g).to(device), torch.randint(0, 10, (4,), generator=g).to(device)

    return strategy, [(batch(), batch()) for _ in range(3)]


def count_steps(strategy, batches, steps):
    """Per step after a warm-up step: (device syncs, host-only reads, host draws, alpha draw?)."""
    draws = []
    a_step = getattr(strategy, "a_optimizer", None)
    if a_step is not None:
        original = a_step.step

        def flagged(*a, **k):
            draws.append(True)
            return original(*a, **k)

        a_step.step = flagged
    rows = []
    try:
        for k in range(steps + 1):
            counter = SyncCounter(strategy)
            draws.clear()
            with counter.active():
                strategy.step(*batches[k % len(batches)], epoch=0, step=k)
            rows.append((counter.syncs, counter.host_reads, counter.host_draws, bool(draws)))
    finally:
        if a_step is not None:
            del a_step.step
    return rows[1:]


# (strategy, space, overrides) -> (syncs in a plain step, in an alpha draw, host-only reads per step)
CASES = {
    "gibbs2": (("gibbs2", "nb201", dict(alpha_accum=4, curvature_every=2)), (0, 1, 0)),
    "gibbs2-mean": (("gibbs2-mean", "nb201", dict(alpha_accum=4, curvature_every=2)), (0, 0, 0)),
    "gibbs1": (("gibbs1", "nb201", dict(alpha_accum=4)), (0, 1, 0)),
    "darts-v1": (("darts-v1", "nb201", {}), (0, None, 1)),  # Adam's step counter, one alpha tensor
    "darts-v2": (("darts-v2", "nb201", {}), (0, None, 1)),
    "gdas": (("gdas", "nb201", {}), (1, None, 5)),  # the paths; Adam's counter and F.one_hot's 2 x 2 checks
    "gdas-darts": (("gdas", "darts", {}), (0, None, 2)),  # every op runs: no path; two alpha tensors
    "rsps": (("rsps", "nb201", {}), (0, None, 0)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_no_host_sync_in_a_step_but_the_alpha_draw(case):
    (name, space, overrides), (plain, alpha_draw, host_reads) = CASES[case]
    strategy, batches = small_strategy(name, space, **overrides)
    cycle = math.lcm(strategy.config.alpha_accum, strategy.config.curvature_every) if in_family(name, "gibbs") else 1
    steps = max(2 * cycle, 4)
    rows = count_steps(strategy, batches, steps)
    assert [r[2] for r in rows] == [0] * steps, rows  # no draw from the CPU generator (all drawn at step 0)
    assert [r[1] for r in rows] == [host_reads] * steps, rows
    if alpha_draw is None:
        assert [r[0] for r in rows] == [plain] * steps, rows
        return
    assert sum(r[3] for r in rows) == steps // strategy.config.alpha_accum == 2, rows
    assert [r[0] for r in rows] == [alpha_draw if r[3] else plain for r in rows], rows


@pytest.mark.parametrize("name", ["gdas", "rsps"])
def test_block_draws_come_once_per_epoch(name):
    strategy, batches = small_strategy(name)
    # the warm-up step drew the first epoch's numbers; the 16th step after it starts the next epoch
    rows = count_steps(strategy, batches, STEPS_PER_EPOCH)
    assert [r[2] for r in rows] == [0] * (STEPS_PER_EPOCH - 1) + [1], rows  # one draw (on CUDA one copy)
    # GDAS reads its paths at every step anyway; RSPS reads the epoch's paths into Python once
    assert [r[0] for r in rows] == [1 if name == "gdas" else 0] * (STEPS_PER_EPOCH - 1) + [1], rows


def test_block_draws_are_the_step_by_step_stream_and_resume_mid_block():
    def rand(g, n):
        return torch.rand((n, 3), generator=g)

    step_by_step = torch.Generator().manual_seed(3)
    want = [torch.rand(3, generator=step_by_step) for _ in range(12)]
    g = torch.Generator().manual_seed(3)
    draws = BlockDraws(g, rand, block=4)
    got = [draws.next() for _ in range(6)]
    state, generator_state = draws.state_dict(), g.get_state()
    assert state["used"] == 2
    g2 = torch.Generator().manual_seed(99)
    g2.set_state(generator_state)
    resumed = BlockDraws(g2, rand, block=4)
    resumed.load_state_dict(state)
    got += [resumed.next() for _ in range(6)]
    assert len(got) == 12 and all(torch.equal(a, b) for a, b in zip(want, got))
    assert torch.equal(g2.get_state(), step_by_step.get_state())  # at a block's end: the same state
    # RSPS's paths: one randint of count x edges is count draws of one path
    a, b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    from types import SimpleNamespace

    from gibbsnas_lite.search.rsps import RSPS
    from gibbsnas_lite.spaces.registry import get as get_space

    rsps = SimpleNamespace(space=get_space("nb201"))  # random_paths reads only the space's edges and ops
    assert RSPS.random_paths(rsps, a, 7) == [torch.randint(0, 5, (6,), generator=b).tolist() for _ in range(7)]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ["gibbs2", "gibbs1", "darts-v1", "darts-v2", "rsps"])
def test_no_sync_on_cuda(name):
    """On CUDA, torch's own sync check (``set_sync_debug_mode("error")``: a read of a device
    value or a blocking copy raises) over plain steps, after a warm-up step; alpha never draws."""
    strategy, batches = small_strategy(name, device="cuda", alpha_accum=1000, curvature_every=2)
    strategy.step(*batches[0], epoch=0, step=0)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for k in range(1, 5):
            strategy.step(*batches[k % len(batches)], epoch=0, step=k)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    strategy.check_finite(0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_no_sync_in_the_loaders_batches_on_cuda():
    tr, _ = D.load_dataset("synthetic", num_train=200, num_test=50, size=16)
    loader = D.DeviceLoader(tr, 32, device="cuda", seed=4, augment=D.Augment(crop_padding=4, flip=True, cutout=8))
    first = loader.next_batch()  # the epoch's one upload
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        rest = [loader.next_batch() for _ in range(len(loader) - 1)]
    finally:
        torch.cuda.set_sync_debug_mode(0)
    cpu = D.DeviceLoader(tr, 32, seed=4, augment=D.Augment(crop_padding=4, flip=True, cutout=8))
    for x, y in [first, *rest]:  # the CPU's stream (CUDA divides by 255 as a product: last bits)
        xc, yc = cpu.next_batch()
        assert torch.equal(y.cpu(), yc)
        torch.testing.assert_close(x.cpu(), xc, rtol=1e-6, atol=1e-6)


# --- the non-finite loss check, once per epoch ---------------------------------------------------
def poison(monkeypatch, at):
    """NaN images in the search-train batch of (epoch, step) ``at``; returns a switch to stop."""
    original = SearchData.epoch_batches
    state = {"on": True}

    def batches(self, epoch):
        for step, (train, valid) in enumerate(original(self, epoch)):
            if state["on"] and (epoch, step) == at:
                train = (torch.full_like(train[0], float("nan")), train[1])
            yield train, valid

    monkeypatch.setattr(SearchData, "epoch_batches", batches)
    return state


@pytest.mark.parametrize("strategy", ["gibbs2", "darts-v1", "gdas", "rsps"])
def test_nan_mid_epoch_stops_before_the_checkpoint_and_resumes(strategy, tmp_path, monkeypatch):
    # 4 steps per epoch; gibbs2's alpha draws at steps 1 and 3 of each epoch: the one after the NaN
    # (its gradient check raises) reports the loss, not the sampler's gradient
    config = make_config(
        strategy, "smoke", train_limit=64, batch_size=16, image_size=8, epochs=3, alpha_accum=2, rsps_candidates=10
    )
    switch = poison(monkeypatch, at=(1, 2))
    seen = {}

    def after_epoch(event):
        if event["kind"] == "epoch":
            seen[event["epoch"]] = hashlib.sha256((tmp_path / "checkpoint.pt").read_bytes()).hexdigest()

    with pytest.raises(NonFiniteLossError) as info:
        run_search(config, out_dir=tmp_path, callback=after_epoch)
    message = str(info.value)
    assert f"{strategy} epoch 1 step 2" in message and "nan" in message, message  # the poisoned omega pass
    assert strategy == "rsps" or "(omega)" in message
    assert "lower the learning rate" in message and "checkpoint" in message
    assert list(seen) == [0]
    assert hashlib.sha256((tmp_path / "checkpoint.pt").read_bytes()).hexdigest() == seen[0]
    ckpt = load_checkpoint(tmp_path)
    assert ckpt["epoch"] == 0 and len(ckpt["history"]["epochs"]) == 1
    assert all(torch.isfinite(t).all() for t in ckpt["model"].values() if t.is_floating_point())
    switch["on"] = False
    resumed = run_search(resume=tmp_path)
    assert [e["epoch"] for e in resumed.history.epochs] == [0, 1, 2]
    assert all(math.isfinite(e["train_loss"]) for e in resumed.history.epochs)


def test_the_check_names_the_first_non_finite_value_and_starts_afresh():
    watch = NonFiniteWatch()
    watch.context = "step 0"
    watch.note(torch.tensor(1.0), "loss")
    assert watch.pending == 1 and watch.first() is None and watch.pending == 0
    watch.note(torch.tensor(2.0), "loss")
    watch.context = "step 1"
    watch.note(torch.tensor(float("inf"), dtype=torch.float64), "gradient")  # dtypes are grouped
    watch.note(torch.tensor(float("nan")), "loss")
    assert watch.first() == ("step 1", "gradient", math.inf)
    assert watch.first() is None


def test_the_omega_sampler_notes_a_nan_gradient_instead_of_raising():
    params = [torch.randn(4, 3, requires_grad=True)]
    sampler = DiagonalGaussian(params, data_size=50, seed=0)
    sampler.finite_watch = watch = NonFiniteWatch()
    watch.context = "epoch 0 step 3 (omega)"
    params[0].grad = torch.full((4, 3), float("nan"))
    sampler.step()  # no raise, no host sync: the owner reads the watch and discards the step
    context, site, value = watch.first()
    assert (context, site) == ("epoch 0 step 3 (omega)", "DiagonalGaussian gradient") and math.isnan(value)


# --- DARTS's omega step: omega's gradient alone --------------------------------------------------
@pytest.mark.parametrize("name", ["darts-v1", "gdas"])
def test_the_omega_step_does_not_differentiate_alpha(name):
    strategy, batches = small_strategy(name)
    model = strategy.model
    calls = []
    for alpha in model.arch_parameters():
        alpha.register_hook(lambda g: calls.append(1))
    strategy.step(*batches[0], epoch=0, step=0)
    assert len(calls) == len(list(model.arch_parameters()))  # the alpha pass only

    # the weights' gradients are loss.backward()'s, bit for bit
    x, y = batches[1][0]
    loss, _ = strategy.forward_loss(x, y, "test")
    strategy.w_optimizer.zero_grad(set_to_none=True)
    strategy.backward_weights(loss)
    ours = [None if w.grad is None else w.grad.clone() for w in model.weight_parameters()]
    strategy.w_optimizer.zero_grad(set_to_none=True)
    loss, _ = strategy.forward_loss(x, y, "test")
    loss.backward()
    for mine, w in zip(ours, model.weight_parameters()):
        assert (mine is None and w.grad is None) or torch.equal(mine, w.grad)


# --- the loader: one copy per epoch, the same batches ---------------------------------------------
def stream_digest(batches) -> str:
    h = hashlib.sha256()
    for x, y in batches:
        h.update(x.contiguous().numpy().tobytes())
        h.update(y.numpy().tobytes())
    return h.hexdigest()


def take(loader, n):
    return [loader.next_batch() for _ in range(n)]


def stream_cases():
    """A few small loaders' streams over several epochs: default augmentation, every op with
    channels_last and drop_last, flips only unshuffled, a resumed one with its own mean/std, eval."""
    tr, te = D.load_dataset("synthetic", num_train=200, num_test=50, size=16)
    full = D.Augment(crop_padding=4, flip=True, cutout=8)
    odd = dict(augment=D.Augment(crop_padding=3, flip=True, cutout=5), mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))

    def resumed():
        loader = D.DeviceLoader(tr, 30, seed=9, **odd)
        first = take(loader, 5)
        again = D.DeviceLoader(tr, 30, seed=0, **odd)
        again.load_state_dict(loader.state_dict())
        return first + take(again, 10)

    return {
        "default": lambda: take(D.DeviceLoader(tr, 32, seed=5), 21),
        "full_aug_cl": lambda: take(
            D.DeviceLoader(tr, 48, seed=3, augment=full, drop_last=True, channels_last=True), 12
        ),
        "flip_only": lambda: take(
            D.DeviceLoader(tr, 64, seed=2, augment=D.Augment(crop_padding=0, flip=True, cutout=0), shuffle=False), 8
        ),
        "resumed": resumed,
        "eval": lambda: list(D.DeviceLoader(te, 16, shuffle=False, augment=False)),
    }


# sha256 of the batches of the loader before issue 19 (each batch drawing its own augmentation and
# uploading it, mean/std rebuilt per batch), at commit d8b47db: the shipped seed studies' stream
STREAM_SHA256 = {
    "default": "1d8710ff042052a39649148056b7e1296e30e92abfb8756c82ea96502305bb51",
    "full_aug_cl": "4c4120a5a73f80f5243d79b29bd168db9333af087c6592af1d443dbdc9219c97",
    "flip_only": "fe7d87f14f86b275093ae015e7b3a27abe999137bd499974424d36234cafdfb4",
    "resumed": "1f77cb0918394334cbe35777a568212d4d6f564911fe3f5ca22d84bf843a297b",
    "eval": "965702f696ec83ee0c029ebb603473bf61e8f8f371a823b3af95f5da5d3e33f3",
}


def test_the_loader_stream_is_the_one_before():
    cases = stream_cases()
    assert {name: stream_digest(make()) for name, make in cases.items()} == STREAM_SHA256


def test_the_loader_draws_and_uploads_once_per_epoch():
    tr, _ = D.load_dataset("synthetic", num_train=200, num_test=50, size=16)
    augment = D.Augment(crop_padding=4, flip=True, cutout=8)
    loader = D.DeviceLoader(tr, 32, seed=4, augment=augment)
    seen = {"ops": [], "fresh": 0, "draws": 0, "syncs": 0}

    class Mode(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.overloadpacket.__name__
            seen["fresh"] += name in ("lift_fresh", "lift_fresh_copy")  # a tensor from host data
            seen["draws"] += isinstance((kwargs or {}).get("generator"), torch.Generator)
            seen["syncs"] += name == "_local_scalar_dense"
            return func(*args, **(kwargs or {}))

    batches = []
    for k in range(2 * len(loader)):  # two epochs
        with Mode():
            batches.append(loader.next_batch())
        counts = (seen["fresh"], seen["draws"], seen["syncs"])
        seen.update(fresh=0, draws=0, syncs=0)
        if k % len(loader) == 0:  # an epoch's first batch: its order and every batch's draws
            assert counts[1] == 1 + len(loader) * 5 and counts[2] == 0, counts  # randperm; 2 + 1 + 2 per batch
        else:
            assert counts == (0, 0, 0), (k, counts)
    # ... and the batches are the per-batch path's: each batch's own generator, drawing as it goes
    from gibbsnas_lite.data.loader import _seed

    reference = D.DeviceLoader(tr, 32, seed=4, augment=augment)
    for k, (x, y) in enumerate(batches):
        epoch, i = divmod(k, len(loader))
        idx = reference._epoch_data(epoch)[0][i * 32 : (i + 1) * 32]
        g = torch.Generator().manual_seed(_seed(4, epoch, i + 1))
        want = D.apply_augment(tr.images[idx], augment, tr.mean, tr.std, g)
        assert torch.equal(x, want) and torch.equal(y, tr.labels[idx])
