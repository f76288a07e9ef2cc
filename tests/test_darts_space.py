"""Tests of the DARTS search space (Liu, Simonyan & Yang, ICLR 2019): ops, genotypes,
search network, evaluation networks, checked against published parameter counts."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

from gibbsnas_lite.spaces.darts import (
    DARTS_V1,
    DARTS_V2,
    EDGES,
    GENOTYPES,
    NUM_EDGES,
    NUM_OPS,
    OPS,
    PRIMITIVES,
    Genotype,
    Network,
    NetworkCIFAR,
    NetworkImageNet,
    count_parameters,
    derive_genotype,
    format_genotype,
    genotype_from_dict,
    genotype_to_dict,
    make_op,
    parse_genotype,
    validate_genotype,
)
from gibbsnas_lite.spaces.darts.genotypes import (
    GDAS_V1,
    PC_DARTS_CIFAR,
    PC_DARTS_IMAGENET,
    PDARTS,
    AmoebaNet,
    NASNet,
)
from gibbsnas_lite.spaces.darts.model import drop_path
from gibbsnas_lite.spaces.darts.operations import FactorizedReduce, Zero

DARTS_SPACE_GENOTYPES = [DARTS_V1, DARTS_V2, PDARTS, PC_DARTS_CIFAR, PC_DARTS_IMAGENET, GDAS_V1]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Run this module's many small convolutions on one intra-op thread, restored after.

    On a shared 2-core machine the default 2 threads made a tiny supernet step ~40x
    slower (35 s vs 0.9 s measured) than one thread.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ----------------------------------------------------------------------------- operations


def test_primitives_are_dartss_eight_ops_in_its_order():
    assert PRIMITIVES == (
        "none",
        "max_pool_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "dil_conv_3x3",
        "dil_conv_5x5",
    )
    assert NUM_OPS == 8 and NUM_EDGES == 14
    assert EDGES[:2] == ((2, 0), (2, 1)) and EDGES[-1] == (5, 4)


@pytest.mark.parametrize("name", PRIMITIVES)
@pytest.mark.parametrize("stride,size,out", [(1, 8, 8), (2, 8, 4), (2, 7, 4)])
def test_every_op_keeps_channels_and_strides(name, stride, size, out):
    op = make_op(name, 6, stride, affine=True)
    y = op(torch.randn(2, 6, size, size))
    assert y.shape == (2, 6, out, out)


@pytest.mark.parametrize(
    "name,affine,expected",
    [
        # C = 6: depthwise k*k*C + pointwise C*C + BN 2C (affine), per block
        ("sep_conv_3x3", True, 2 * (9 * 6 + 36 + 12)),
        ("sep_conv_5x5", True, 2 * (25 * 6 + 36 + 12)),
        ("dil_conv_3x3", True, 9 * 6 + 36 + 12),
        ("dil_conv_5x5", True, 25 * 6 + 36 + 12),
        ("sep_conv_3x3", False, 2 * (9 * 6 + 36)),
        ("dil_conv_5x5", False, 25 * 6 + 36),
        ("max_pool_3x3", True, 0),
        ("avg_pool_3x3", True, 0),
        ("none", True, 0),
    ],
)
def test_op_parameter_counts(name, affine, expected):
    assert sum(p.numel() for p in make_op(name, 6, 1, affine).parameters()) == expected


def test_skip_connect_is_identity_or_factorized_reduce():
    assert isinstance(make_op("skip_connect", 6, 1), nn.Identity)
    fr = make_op("skip_connect", 6, 2)
    assert isinstance(fr, FactorizedReduce)
    assert sum(p.numel() for p in fr.parameters()) == 2 * 6 * 3 + 12
    assert isinstance(make_op("none", 6, 2), Zero)
    assert torch.count_nonzero(make_op("none", 6, 2)(torch.randn(1, 6, 8, 8))) == 0


def test_unknown_op_is_named_and_ops_listed():
    with pytest.raises(ValueError, match="conv_9x9") as e:
        make_op("conv_9x9", 4, 1)
    assert "sep_conv_3x3" in str(e.value) and "dil_conv_5x5" in str(e.value)
    with pytest.raises(ValueError, match="stride"):
        make_op("sep_conv_3x3", 4, 3)


# ------------------------------------------------------------------------------ genotypes


def test_published_genotypes_validate():
    for g in DARTS_SPACE_GENOTYPES:
        assert validate_genotype(g) == g  # 4 nodes, DARTS ops, no 'none'
    for g in (NASNet, AmoebaNet):  # 5 nodes and ops outside the DARTS space
        assert validate_genotype(g, steps=None, ops=OPS) == g
        with pytest.raises(ValueError):
            validate_genotype(g)


def _with(g: Genotype, **kw) -> Genotype:
    return g._replace(**kw)


@pytest.mark.parametrize(
    "bad,pattern",
    [
        (_with(DARTS_V2, normal=DARTS_V2.normal[:6]), r"node 5 is missing"),
        (_with(DARTS_V2, normal=DARTS_V2.normal[:7]), r"node 5 is missing an input"),
        (_with(DARTS_V2, reduce=DARTS_V2.reduce + [("skip_connect", 0)] * 2), r"reduce cell lists 10"),
        (
            _with(
                DARTS_V2, normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 3)] + DARTS_V2.normal[3:]
            ),
            r"node 3: input 3 .* out of range; node 3 can take inputs 0\.\.2",
        ),
        (_with(DARTS_V2, reduce=[("max_pool_3x3", -1)] + DARTS_V2.reduce[1:]), r"reduce cell, node 2: input -1"),
        (_with(DARTS_V2, normal=[("conv_9x9", 0)] + DARTS_V2.normal[1:]), r"unknown op 'conv_9x9'"),
        (_with(DARTS_V2, normal=[("none", 0)] + DARTS_V2.normal[1:]), r"'none' never survives"),
        (_with(DARTS_V2, normal=[("sep_conv_3x3", "0")] + DARTS_V2.normal[1:]), r"not an integer"),
        (_with(DARTS_V2, normal=["sep_conv_3x3"] + DARTS_V2.normal[1:]), r"not an \(op, input\) pair"),
        (_with(DARTS_V2, normal_concat=[2, 3, 4, 6]), r"normal_concat entry 6"),
        (_with(DARTS_V2, reduce_concat=[]), r"reduce_concat is empty"),
        ({"normal": DARTS_V2.normal}, r"lacks normal_concat"),
    ],
)
def test_validation_names_the_bad_part(bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        validate_genotype(bad)


def test_format_is_compact_and_round_trips():
    s = format_genotype(DARTS_V2)
    assert s == (
        "normal=|sep_conv_3x3~0|sep_conv_3x3~1|+|sep_conv_3x3~0|sep_conv_3x3~1|"
        "+|sep_conv_3x3~1|skip_connect~0|+|skip_connect~0|dil_conv_3x3~2|;"
        "reduce=|max_pool_3x3~0|max_pool_3x3~1|+|skip_connect~2|max_pool_3x3~1|"
        "+|max_pool_3x3~0|skip_connect~2|+|skip_connect~2|max_pool_3x3~1|"
    )
    for name, g in GENOTYPES.items():
        assert parse_genotype(format_genotype(g), steps=None, ops=OPS) == g, name
        assert parse_genotype(name) == g
    assert "reduce_concat=4,5,6" in format_genotype(NASNet)


def test_parse_accepts_the_repr_darts_logs_print():
    # DARTS' train_search.py logs genotype() with concat = range(2, 6).
    logged = str(DARTS_V1._replace(normal_concat=range(2, 6), reduce_concat=range(2, 6)))
    assert logged.startswith("Genotype(normal=[('sep_conv_3x3', 1)")
    assert "range(2, 6)" in logged
    assert parse_genotype(logged) == DARTS_V1


@pytest.mark.parametrize(
    "text,pattern",
    [
        ("normal=|sep_conv_3x3~0|sep_conv_3x3~1|", r"lacks the reduce cell"),
        ("normal=|sep_conv_3x3 0|;reduce=|x~0|", r"malformed edge"),
        ("normal=sep_conv_3x3~0;reduce=|x~0|", r"node group"),
        ("nornal=|a~0|", r"malformed genotype part"),
        ("Genotype(normal=__import__('os'))", r"cannot parse"),
        (
            "Genotype(normal=[('sep_conv_3x3', 0)], normal_concat=[2], reduce=[], reduce_concat=[2])",
            r"normal cell lists 1",
        ),
        ("DARTS_V3", r"not a known name"),
    ],
)
def test_parse_rejects_malformed_text(text, pattern):
    with pytest.raises(ValueError, match=pattern):
        parse_genotype(text)


def test_json_round_trip():
    for g in DARTS_SPACE_GENOTYPES:
        d = json.loads(json.dumps(genotype_to_dict(g)))
        assert genotype_from_dict(d) == g


# ----------------------------------------------------------------------------- derivation


# Hand-built alpha (logits, 14 x 8). Columns: 0 none, 1 max, 2 avg, 3 skip, 4 sep3, 5 sep5,
# 6 dil3, 7 dil5. Rows: node 2 <- 0,1 | node 3 <- 0,1,2 | node 4 <- 0..3 | node 5 <- 0..4.
def _hand_alpha() -> torch.Tensor:
    a = torch.zeros(14, 8)
    a[0, 4] = 3.0  # node 2: 0 -> sep_conv_3x3 (p = 0.74)
    a[1, 0], a[1, 3] = 10.0, 2.0  # node 2: 1 -> 'none' dominates; best non-none: skip
    a[2, 1] = 1.0  # node 3: 0 -> max_pool (0.28)
    a[3, 7] = 4.0  # node 3: 1 -> dil_conv_5x5 (0.89)
    a[4, 0], a[4, 2] = 8.0, 3.0  # node 3: 2 -> largest weight of all is 'none' (0.99),
    #                                 but its best non-none op (avg, 0.007) is the weakest
    #                                 -> edge dropped
    # row 5 (node 4: 0) stays uniform: 1/8 each
    a[6, 5] = 2.0  # node 4: 1 -> sep_conv_5x5 (0.51)
    a[7, 3] = 1.0  # node 4: 2 -> skip_connect (0.28)
    a[8, 2] = 0.5  # node 4: 3 -> avg_pool (0.19), dropped
    a[9, 6] = 1.0  # node 5: 0 -> dil_conv_3x3 (0.28)
    a[10, 4] = 1.0  # node 5: 1 -> sep_conv_3x3, same 0.28: tie -> lower input wins
    a[11, 0] = -5.0  # node 5: 2 -> all non-none 0.143
    a[12, 2] = 5.0  # node 5: 3 -> avg_pool (0.95)
    a[13, 3] = 0.9  # node 5: 4 -> skip (0.26)
    return a


HAND_NORMAL = [
    ("sep_conv_3x3", 0),
    ("skip_connect", 1),
    ("dil_conv_5x5", 1),
    ("max_pool_3x3", 0),
    ("sep_conv_5x5", 1),
    ("skip_connect", 2),
    ("avg_pool_3x3", 3),
    ("dil_conv_3x3", 0),
]


def _alpha_of(pairs) -> torch.Tensor:
    """Logits whose DARTS derivation is ``pairs`` (2 distinct inputs per node, in order)."""
    a = torch.zeros(14, 8)
    for k, (op, src) in enumerate(pairs):
        node = k // 2
        row = sum(i + 2 for i in range(node)) + src
        assert a[row].abs().sum() == 0, "inputs of a node must be distinct"
        a[row, PRIMITIVES.index(op)] = 6.0 if k % 2 == 0 else 5.0
    return a


def test_derivation_on_hand_built_alpha():
    g = derive_genotype(_hand_alpha(), _alpha_of(DARTS_V2.reduce))
    assert g.normal == HAND_NORMAL
    assert g.reduce == DARTS_V2.reduce
    assert g.normal_concat == g.reduce_concat == [2, 3, 4, 5]
    assert validate_genotype(g) == g


def test_derivation_excludes_none_even_when_it_dominates_everywhere():
    a = torch.zeros(14, 8)
    a[:, 0] = 50.0  # 'none' is the top op on every edge
    a[:, 6] = torch.linspace(0.1, 1, 14)  # dil_conv_3x3 the best of the rest
    g = derive_genotype(a, a)
    assert all(op == "dil_conv_3x3" for op, _ in g.normal + g.reduce)
    # strongest two incoming edges = the two latest inputs of each node
    assert [src for _, src in g.normal] == [1, 0, 2, 1, 3, 2, 4, 3]


@pytest.mark.parametrize("g", DARTS_SPACE_GENOTYPES, ids=lambda g: format_genotype(g)[:40])
def test_derivation_recovers_published_genotypes(g):
    assert derive_genotype(_alpha_of(g.normal), _alpha_of(g.reduce)) == g


def test_derivation_from_weights_and_random_alpha_is_valid():
    w = torch.softmax(_hand_alpha(), dim=-1)
    assert derive_genotype(w, w, from_logits=False).normal == HAND_NORMAL
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        a = torch.randn(14, 8, generator=gen) * 3
        g = validate_genotype(derive_genotype(a, a.flip(0)))
        for k in range(0, 8, 2):
            assert g.normal[k][1] != g.normal[k + 1][1]  # two distinct inputs per node
    with pytest.raises(ValueError, match=r"alpha_reduce must have shape \(14, 8\)"):
        derive_genotype(a, torch.zeros(14, 7))


# ------------------------------------------------------------------------- search network


def test_search_network_defaults_and_parameter_groups():
    net = Network()  # C=16, 8 cells, 10 classes
    assert [c.reduction for c in net.cells] == [False, False, True, False, False, True, False, False]
    assert net.alpha_normal.shape == net.alpha_reduce.shape == (14, 8)
    assert all(isinstance(p, nn.Parameter) for p in net.arch_parameters())
    arch = net.arch_parameters()
    assert arch[0] is net.alpha_normal and arch[1] is net.alpha_reduce
    weights = net.weight_parameters()
    ids = {id(p) for p in weights}
    assert not ids & {id(p) for p in arch}
    assert ids | {id(p) for p in arch} == {id(p) for p in net.parameters()}
    # 1,930,618 weights: the DARTS supernet size NASLib's test asserts for its DARTS
    # (NAS-Bench-301) search space, get_model_size() == 1.930618 (automl/NASLib,
    # tests/test_darts_search_space.py).
    assert sum(p.numel() for p in weights) == 1_930_618
    assert len(net.cells[0]._ops) == 14 and len(net.cells[0]._ops[0]._ops) == 8


@pytest.fixture(scope="module")
def small_net():
    with torch.random.fork_rng():  # fixed weights without touching the global RNG
        torch.manual_seed(0)
        return Network(C=4, num_classes=5, layers=5)  # reductions at cells 1 and 3


def test_search_forward_backward_reaches_alpha_and_weights(small_net):
    net = small_net
    net.train()
    net.zero_grad(set_to_none=True)
    x, y = torch.randn(2, 3, 16, 16), torch.tensor([0, 3])
    out = net(x)
    assert out.shape == (2, 5)
    nn.functional.cross_entropy(out, y).backward()
    for p in net.arch_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert all(p.grad is not None for p in net.weight_parameters())


def test_explicit_alphas_and_weights(small_net):
    net = small_net.eval()
    x = torch.randn(2, 3, 16, 16)
    a_n, a_r = torch.randn(14, 8), torch.randn(14, 8)
    a_n.requires_grad_(True)
    out = net(x, alphas=(a_n, a_r))
    out.sum().backward()
    assert a_n.grad is not None and a_n.grad.abs().sum() > 0
    w = (torch.softmax(a_n.detach(), -1), torch.softmax(a_r, -1))
    torch.testing.assert_close(net(x, weights=w), out.detach())
    saved = [p.detach().clone() for p in net.arch_parameters()]
    try:
        net.load_alphas(a_n.detach(), a_r)
        torch.testing.assert_close(net(x).detach(), out.detach())
        assert net.genotype() == net.genotype(alphas=(a_n, a_r)) == derive_genotype(a_n, a_r)
    finally:
        net.load_alphas(*saved)


def test_one_hot_path_skips_unused_ops(small_net):
    net = small_net.eval()
    x = torch.randn(2, 3, 16, 16)
    idx = torch.arange(14) % 7 + 1  # never 'none'
    hard = nn.functional.one_hot(idx, 8).float()
    full = net(x, weights=(hard, hard))
    net.zero_grad(set_to_none=True)
    fast = net(x, weights=(hard, hard), skip_zero_weights=True)
    torch.testing.assert_close(fast, full)
    fast.sum().backward()
    edge0 = net.cells[0]._ops[0]._ops  # edge 0 uses op 1 (max_pool); sep_conv_3x3 unused
    assert all(p.grad is None for p in edge0[PRIMITIVES.index("sep_conv_3x3")].parameters())
    edge3 = net.cells[0]._ops[3]._ops  # edge 3 uses op 4 (sep_conv_3x3)
    assert all(p.grad is not None for p in edge3[4].parameters())


def test_genotype_of_hand_built_alpha(small_net):
    net = small_net
    saved = [p.detach().clone() for p in net.arch_parameters()]
    try:
        net.load_alphas(_hand_alpha(), _alpha_of(DARTS_V2.reduce))
        assert net.genotype() == Genotype(HAND_NORMAL, [2, 3, 4, 5], DARTS_V2.reduce, [2, 3, 4, 5])
    finally:
        net.load_alphas(*saved)


def test_wrong_alpha_shapes_raise(small_net):
    net = small_net
    x = torch.randn(1, 3, 16, 16)
    good = torch.zeros(14, 8)
    with pytest.raises(ValueError, match=r"alphas\[1\] \(reduce\) must have shape \(14, 8\).*\(14, 7\)"):
        net(x, alphas=(good, torch.zeros(14, 7)))
    with pytest.raises(ValueError, match=r"weights\[0\] \(normal\) must have shape"):
        net(x, weights=(torch.zeros(8, 14), good))
    with pytest.raises(ValueError, match="pair"):
        net(x, alphas=torch.zeros(2, 14, 8))
    with pytest.raises(ValueError, match="not both"):
        net(x, alphas=(good, good), weights=(good, good))
    with pytest.raises(ValueError, match=r"alpha_normal must have shape"):
        net.load_alphas(torch.zeros(13, 8), good)
    with pytest.raises(ValueError, match="must have shape"):
        net.genotype(alphas=(good, torch.zeros(14)))


def test_search_network_in_channels_and_classes():
    net = Network(C=4, num_classes=3, layers=3, in_channels=1)
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 3)


# --------------------------------------------------------------------- evaluation networks


def test_darts_v2_cifar_has_dartss_parameter_count():
    # DARTS reports its CIFAR-10 model as "3.349MB params" (quark0/darts README, "Expected
    # result: 2.63% test error rate (3.349MB params)"): utils.count_parameters_in_MB counts
    # parameters whose name lacks "auxiliary", in units of 1e6. Paper, Table 1: 3.3 M.
    net = NetworkCIFAR(C=36, num_classes=10, layers=20, auxiliary=True, genotype=DARTS_V2)
    assert count_parameters(net) == 3_349_342
    assert count_parameters(net, exclude_auxiliary=False) - 3_349_342 == 476_426
    keys = set(net.state_dict())  # DARTS' module names, so its checkpoints' keys match
    assert {
        "stem.0.weight",
        "cells.0.preprocess0.op.1.weight",
        "cells.0._ops.0.op.1.weight",
        "cells.7.preprocess0.conv_1.weight",
        "auxiliary_head.features.2.weight",
        "auxiliary_head.classifier.weight",
        "classifier.weight",
    } <= keys


def test_darts_v2_imagenet_parameter_count():
    # DARTS paper, Table 3: 4.7 M params (mobile setting); quark0/darts README: "4.719MB".
    net = NetworkImageNet(C=48, num_classes=1000, layers=14, auxiliary=True, genotype=DARTS_V2)
    n = count_parameters(net)
    assert n == 4_718_752
    assert round(n / 1e6, 1) == 4.7 and round(n / 1e6, 3) == 4.719


@pytest.mark.parametrize(
    "genotype,measured,published",
    [
        # DARTS paper Table 1 gives 3.3 M for the first-order cell too; the DARTS_V1 genotype of
        # quark0/darts builds to 3.17 M with the same code that gives V2 its exact 3,349,342,
        # so the published 3.3 is not reproduced within its rounding (checked to 0.15 M).
        (DARTS_V1, 3_169_414, None),
        (PDARTS, 3_433_798, 3.4),  # P-DARTS (Chen et al. 2019), GibbsNAS Table 1: 3.4 M
        (PC_DARTS_CIFAR, 3_634_678, 3.6),  # PC-DARTS README / paper, GibbsNAS Table 1: 3.6 M
        # GDAS (Dong & Yang, CVPR 2019) reports 3.4 M; the paper is not among the stored sources
        # checked here, but a third-party genotypes.py copying GDAS_V1 notes "519M, 3.36M, 2.93".
        (GDAS_V1, 3_368_782, 3.4),
    ],
    ids=["DARTS_V1", "PDARTS", "PC_DARTS", "GDAS_V1"],
)
def test_published_cifar_parameter_counts(genotype, measured, published):
    n = count_parameters(NetworkCIFAR(36, 10, 20, True, genotype))
    assert n == measured
    if published is None:
        assert abs(n / 1e6 - 3.3) < 0.15
    else:
        assert round(n / 1e6, 1) == published


@pytest.mark.parametrize(
    "genotype,published",
    [
        (PDARTS, 4.9),  # P-DARTS on ImageNet, as quoted in GibbsNAS Table 4: 4.9 M
        (PC_DARTS_IMAGENET, 5.3),  # PC-DARTS (searched on ImageNet), GibbsNAS Table 4: 5.3 M
    ],
    ids=["PDARTS", "PC_DARTS_IMAGENET"],
)
def test_published_imagenet_parameter_counts(genotype, published):
    n = count_parameters(NetworkImageNet(48, 1000, 14, True, genotype))
    assert round(n / 1e6, 1) == published


def test_genotype_by_name_or_string():
    a = NetworkCIFAR(8, 10, 5, True, "DARTS_V1")
    b = NetworkCIFAR(8, 10, 5, True, format_genotype(DARTS_V1))
    assert a.genotype == b.genotype == DARTS_V1
    assert count_parameters(a) == count_parameters(b)
    with pytest.raises(ValueError, match="out of range"):
        NetworkCIFAR(8, 10, 5, True, DARTS_V1._replace(normal=[("sep_conv_3x3", 2)] * 8))


def test_cifar_forward_with_auxiliary_and_drop_path():
    net = NetworkCIFAR(36, 10, 20, True, DARTS_V2, drop_path_prob=0.2)
    x = torch.randn(2, 3, 32, 32)
    net.train()
    logits, aux = net(x)
    assert logits.shape == aux.shape == (2, 10)
    (logits.sum() + 0.4 * aux.sum()).backward()
    assert net.classifier.weight.grad is not None
    assert net.auxiliary_head.classifier.weight.grad is not None
    net.eval()
    with torch.no_grad():
        logits, aux = net(x)
    assert logits.shape == (2, 10) and aux is None


def test_imagenet_forward():
    net = NetworkImageNet(48, 1000, 14, True, DARTS_V2).train()
    logits, aux = net(torch.randn(2, 3, 224, 224))
    assert logits.shape == aux.shape == (2, 1000)


def test_nasnet_and_amoebanet_build_and_run():
    for g in (NASNet, AmoebaNet):
        net = NetworkCIFAR(8, 10, 5, True, g).train()
        logits, aux = net(torch.randn(2, 3, 32, 32))
        assert logits.shape == aux.shape == (2, 10)


def test_drop_path_zeroes_whole_examples_and_rescales():
    x = torch.ones(200, 2, 3, 3)
    assert drop_path(x, 0.0) is x
    with torch.random.fork_rng():
        torch.manual_seed(1)
        y = drop_path(x, 0.25)
    per_example = y.flatten(1)
    kept = per_example[:, 0] > 0
    assert torch.all(per_example[kept] == 1 / 0.75) and torch.all(per_example[~kept] == 0)
    assert 0.6 < kept.float().mean() < 0.9
