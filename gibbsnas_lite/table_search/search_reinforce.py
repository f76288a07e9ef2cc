"""REINFORCE (Williams 1992) with a factorized policy, on the NAS-Bench-201 table.

The policy is a (6 edges x 5 ops) table of logits ``theta``, one independent softmax per
edge, initialised at ``1e-3 * N(0, 1)`` (as NAS-Bench-201's ``Policy``). Each step samples
one cell, queries it, updates an exponential-moving-average baseline ``b`` (momentum
``ema_momentum``, bias-corrected: ``b = num / den`` with ``num <- m num + (1 - m) r`` and
``den <- m den + (1 - m)``) with the reward ``r`` (accuracy in %), and takes one Adam step on
``-(r - b) * sum_e log pi_e(a_e)``. The gradient is exact and written out
(``d/dtheta_e = -(r - b) (onehot(a_e) - pi_e)``), Adam as ``torch.optim.Adam``'s defaults
(betas 0.9 / 0.999, eps 1e-8, bias correction), so no torch is needed here.

Hyper-parameters as NAS-Bench-201's code: Adam, ``ema_momentum=0.9``. Its learning rate is not
one number in the public scripts (0.001 in a script header, 0.5 in the README's command line,
a grid 0.01-0.5); ``learning_rate=0.01`` is the value of that grid its authors use for the
same search space in NATS-Bench (docs/table_search.md measures 0.001 / 0.01 / 0.1 / 0.5).
The result is the best cell sampled (NAS-Bench-201's final version); the policy's
argmax cell is kept in ``extras["policy_arch"]``, the softmax after every step in
``extras["probs"]`` (shape (steps + 1, 6, 5), row 0 = the initial policy).
"""

from __future__ import annotations

import numpy as np

from ..nasbench import NB201Table
from ._common import (
    HIGH,
    NUM_EDGES,
    NUM_OPS,
    OutOfBudget,
    TableSearchResult,
    check_fidelity,
    check_float,
    make_result,
    start,
)

__all__ = ["reinforce", "softmax_rows"]


def softmax_rows(theta: np.ndarray) -> np.ndarray:
    z = theta - theta.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def reinforce(
    dataset: str = "cifar10",
    budget: float = 100,
    seed: int = 0,
    *,
    learning_rate: float = 0.01,
    ema_momentum: float = 0.9,
    fidelity: int = HIGH,
    table: NB201Table | None = None,
) -> TableSearchResult:
    """REINFORCE with ``budget`` full evaluations; see the module docstring."""
    fidelity = check_fidelity(fidelity)
    lr = check_float("learning_rate", learning_rate, 0.0, np.inf, low_open=True, high_open=True)
    mom = check_float("ema_momentum", ema_momentum, 0.0, 1.0, high_open=True)
    table, oracle, rng, seed = start(table, dataset, budget, seed, fidelity)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    theta = 1e-3 * rng.standard_normal((NUM_EDGES, NUM_OPS))
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    num = den = 0.0
    probs_trace = [softmax_rows(theta)]
    rows = np.arange(NUM_EDGES)
    step = 0
    try:
        while True:
            p = probs_trace[-1]
            # inverse-CDF sampling of one op per edge from one uniform per edge
            u = rng.random(NUM_EDGES)[:, None]
            actions = np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), NUM_OPS - 1)
            index = int(table.indices(actions[None, :])[0])
            reward = oracle.query(index, fidelity)
            num = mom * num + (1.0 - mom) * reward
            den = mom * den + (1.0 - mom)
            advantage = reward - num / den
            onehot = np.zeros_like(theta)
            onehot[rows, actions] = 1.0
            grad = -advantage * (onehot - p)
            step += 1
            m = beta1 * m + (1 - beta1) * grad
            v = beta2 * v + (1 - beta2) * grad * grad
            m_hat = m / (1 - beta1**step)
            v_hat = v / (1 - beta2**step)
            theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
            probs_trace.append(softmax_rows(theta))
    except OutOfBudget:
        pass
    probs = np.stack(probs_trace)
    policy_codes = probs[-1].argmax(axis=1)
    extras = {"probs": probs, "theta": theta, "policy_arch": table.arch(int(table.indices(policy_codes[None, :])[0]))}
    params = {"learning_rate": lr, "ema_momentum": mom, "fidelity": fidelity}
    return make_result("REINFORCE", oracle, seed, budget, params, extras)
