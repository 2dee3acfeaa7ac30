"""fast_step makes exactly the updates of reference_step, and both FLOP formulas count what each one multiplies."""

from __future__ import annotations

import copy
import itertools
import os
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from gazsl.generator.config import Config
from gazsl.io import GazslError
from gazsl.generator.fast_step import (StepShape, fast_gemm_flops, fast_step, make_optimizers, pivot_loss_masked,
                             reference_gemm_flops)
from gazsl.generator.model import Critic, Generator, pivot_loss
from gazsl.generator.step import EpochSampler, TrainingData, draw_inputs, reference_step

# Distinct small sizes, so that a FLOP formula mixing up two dimensions fails.
T, R, Z, HG, D, H, S = 37, 11, 5, 23, 13, 19, 7
RTOL, ATOL = 1e-9, 1e-12  # float64: the two formulations differ only in summation order
DEVICE = os.environ.get("GAZSL_TEST_DEVICE", "cpu")  # bench/gpu_check.sh runs these tests with cuda


def make_case(n: int, batch: int, labels: np.ndarray | None = None, seed: int = 0, critic_steps: int = 3,
              **switches):
    config = Config(text_reduced_dim=R, noise_dim=Z, generator_hidden=HG, critic_hidden=H, batch_size=batch,
                    critic_steps=critic_steps, lr=1e-3, seed=seed, **{"bf16": "off", **switches})
    gen = torch.Generator().manual_seed(seed)
    if labels is None:
        labels = np.arange(n) % S
    labels = torch.as_tensor(labels, dtype=torch.int64)
    features = torch.randn(n, D, generator=gen, dtype=torch.float64)
    centroids = torch.stack([features[labels == c].mean(0) if (labels == c).any()
                             else torch.zeros(D, dtype=torch.float64) for c in range(S)])
    text = torch.rand(S, T, generator=gen, dtype=torch.float64)
    data = TrainingData(features.to(DEVICE), labels.to(DEVICE), text.to(DEVICE), centroids.to(DEVICE))
    torch.manual_seed(seed)
    netG, netD = Generator(T, D, config).double().to(DEVICE), Critic(D, S, config).double().to(DEVICE)
    return config, data, netG, netD


def optimisers(netG, netD, config):
    betas = (config.beta1, config.beta2)
    return torch.optim.Adam(netG.parameters(), config.lr, betas), torch.optim.Adam(netD.parameters(), config.lr, betas)


def draw(sampler, config, rng):
    inputs = draw_inputs(sampler, config, rng, DEVICE, n_classes=S)
    inputs.critic_batches = [(i, z.double(), a.double()) for i, z, a in inputs.critic_batches]
    inputs.generator_batch = (inputs.generator_batch[0], inputs.generator_batch[1].double())
    if inputs.creative is not None:
        first, second, a, z = inputs.creative
        inputs.creative = (first, second, a.double(), z.double())
    return inputs


def run_both(config, data, netG, netD, iterations: int):
    """Run reference_step and fast_step from identical states on identical draws; return both trajectories."""
    states = []
    for step in (reference_step, fast_step):
        g, d = copy.deepcopy(netG), copy.deepcopy(netD)
        opt_g, opt_d = optimisers(g, d, config)
        sampler, rng = EpochSampler(len(data.labels), config.batch_size, seed=1), torch.Generator().manual_seed(2)
        logs = []
        for _ in range(iterations):
            logs.append(step(g, d, opt_g, opt_d, data, draw(sampler, config, rng), config))
        states.append((g, d, opt_g, opt_d, logs))
    return states


def assert_close(a, b, what):
    assert torch.allclose(a, b, rtol=RTOL, atol=ATOL), f"{what}: max |diff| {(a - b).abs().max().item():.3g}"


def assert_same_trajectory(reference, fast):
    (g0, d0, og0, od0, logs0), (g1, d1, og1, od1, logs1) = reference, fast
    for it, (l0, l1) in enumerate(zip(logs0, logs1)):
        assert l0.keys() == l1.keys()
        for key in l0:
            assert_close(l0[key], l1[key], f"iteration {it} loss {key}")
    for name, net0, net1 in (("G", g0, g1), ("D", d0, d1)):
        for (pname, p0), (_, p1) in zip(net0.named_parameters(), net1.named_parameters()):
            assert_close(p0, p1, f"{name}.{pname}")
            assert (p0.grad is None) == (p1.grad is None), f"{name}.{pname}.grad"
            if p0.grad is not None:
                assert_close(p0.grad, p1.grad, f"{name}.{pname}.grad")
    for name, opt0, opt1 in (("optG", og0, og1), ("optD", od0, od1)):
        s0, s1 = opt0.state_dict()["state"], opt1.state_dict()["state"]
        assert s0.keys() == s1.keys() and len(s0) > 0
        for k in s0:
            for field in ("step", "exp_avg", "exp_avg_sq"):
                assert_close(torch.as_tensor(s0[k][field]), torch.as_tensor(s1[k][field]), f"{name}[{k}].{field}")


def test_same_updates_when_some_classes_are_absent_from_a_batch():
    # 60 samples, batches of 16 from 7 classes: classes go missing from batches, others appear 1-5 times
    config, data, netG, netD = make_case(n=60, batch=16)
    assert_same_trajectory(*run_both(config, data, netG, netD, iterations=3))


def test_same_updates_with_a_class_seen_once_and_all_classes_in_every_batch():
    # the batch is the whole set: every class present, class 0 exactly once
    labels = np.array([0] + [1 + i % (S - 1) for i in range(20)])
    config, data, netG, netD = make_case(n=len(labels), batch=len(labels), labels=labels, seed=3)
    assert_same_trajectory(*run_both(config, data, netG, netD, iterations=3))


def test_the_trajectories_differ_when_an_update_differs():
    # guard against a vacuous comparison: a changed penalty weight must be caught
    config, data, netG, netD = make_case(n=60, batch=16)
    reference, _ = run_both(config, data, netG, netD, iterations=1)
    _, fast = run_both(config.replace(gp_lambda=9.0), data, netG, netD, iterations=1)
    with pytest.raises(AssertionError):
        assert_same_trajectory(reference, fast)


@pytest.mark.parametrize("switches, logged", [
    ({"creativity_weight": 0.7}, {"creative_entropy"}),
    ({"cycle_weight": 2.0}, {"cycle"}),
    ({"creativity_weight": 0.7, "cycle_weight": 2.0}, {"creative_entropy", "cycle"}),
])
def test_same_updates_with_the_extensions_on(switches, logged):
    config, data, netG, netD = make_case(n=60, batch=16, **switches)
    reference, fast = run_both(config, data, netG, netD, iterations=3)
    assert_same_trajectory(reference, fast)
    assert logged <= reference[4][-1].keys()
    # not vacuous: the same start without the extensions ends elsewhere
    off = config.replace(creativity_weight=0.0, cycle_weight=0.0)
    g_off, _, _, _, logs_off = run_both(off, data, copy.deepcopy(netG), netD, iterations=3)[0]
    assert not logged & logs_off[-1].keys()
    assert not torch.allclose(reference[0].main[0].weight, g_off.main[0].weight)


def test_extensions_off_leave_the_paper_model_and_its_draws_unchanged():
    paper = Config(text_reduced_dim=R, noise_dim=Z, generator_hidden=HG, critic_hidden=H, batch_size=16)
    extended = paper.replace(creativity_weight=1.0, cycle_weight=1.0)
    torch.manual_seed(0)
    g_paper = Generator(T, D, paper)
    torch.manual_seed(0)
    g_extended = Generator(T, D, extended)
    names = {name for name, _ in g_paper.named_parameters()}
    assert names == {f"{layer}.{kind}" for layer in ("text_layer", "main.0", "main.2") for kind in ("weight", "bias")}
    extended_params = dict(g_extended.named_parameters())
    assert set(extended_params) - names == {"regressor.weight", "regressor.bias"}
    assert all(torch.equal(p, extended_params[name]) for name, p in g_paper.named_parameters())

    draws = []
    for config in (paper, extended):
        rng = torch.Generator().manual_seed(5)
        draws.append(draw_inputs(EpochSampler(60, 16, seed=1), config, rng, "cpu", n_classes=S))
        draws[-1].after = torch.rand(3, generator=rng)  # where each leaves the noise stream
    assert draws[0].creative is None and not torch.equal(draws[0].after, draws[1].after)
    for (i0, z0, a0), (i1, z1, a1) in zip(draws[0].critic_batches, draws[1].critic_batches):
        assert torch.equal(i0, i1) and torch.equal(z0, z1) and torch.equal(a0, a1)
    first, second, a, z = draws[1].creative
    assert len(first) == 16 and z.shape == (16, Z) and bool((first != second).all())
    assert bool(((a >= 0.2) & (a <= 0.8)).all()) and first.max() < S and second.max() < S


def test_pivot_loss_masked_matches_the_loop():
    gen = torch.Generator().manual_seed(0)
    fake = torch.randn(12, 4, dtype=torch.float64, generator=gen).to(DEVICE).requires_grad_()
    labels = torch.tensor([0, 0, 2, 2, 2, 5, 5, 5, 5, 5, 5, 3], device=DEVICE)  # classes 1 and 4 absent, 3 once
    centroids = torch.randn(6, 4, dtype=torch.float64, generator=gen).to(DEVICE)
    centroids[1] = 0.0  # an absent class whose centroid is 0 must not give NaN gradients
    value0, value1 = pivot_loss(fake, labels, centroids), pivot_loss_masked(fake, labels, centroids)
    (grad0,), (grad1,) = torch.autograd.grad(value0, fake), torch.autograd.grad(value1, fake)
    assert_close(value0, value1, "value")
    assert_close(grad0, grad1, "gradient")


class GemmCounter(TorchDispatchMode):
    """Sums 2 m n k over the matrix products the dispatcher runs; refuses any product it cannot count."""

    def __init__(self):
        super().__init__()
        self.flops = 0
        self.shapes = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        packet = func.overloadpacket
        if packet in (torch.ops.aten.mm, torch.ops.aten.addmm, torch.ops.aten.addmm_):
            a, b = args[:2] if packet is torch.ops.aten.mm else args[1:3]
            self.flops += 2 * a.shape[0] * a.shape[1] * b.shape[1]
            self.shapes[(tuple(a.shape), tuple(b.shape))] += 1
        elif packet is torch.ops.aten.bmm:
            a, b = args
            self.flops += 2 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]
            self.shapes[(tuple(a.shape), tuple(b.shape))] += 1
        elif packet in (torch.ops.aten.baddbmm, torch.ops.aten.baddbmm_, torch.ops.aten.mv, torch.ops.aten.addmv,
                        torch.ops.aten.addmv_, torch.ops.aten.dot, torch.ops.aten.vdot, torch.ops.aten.matmul,
                        torch.ops.aten.addbmm, torch.ops.aten.addr, torch.ops.aten._scaled_mm):
            raise AssertionError(f"uncounted matrix product {func}")
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("impl, formula", [
    (reference_step, reference_gemm_flops),
    (fast_step, fast_gemm_flops),
    (lambda *args: fast_step(*args, log=False), lambda shape: fast_gemm_flops(shape, log=False)),
])
def test_flop_formula_counts_the_dispatched_gemms(impl, formula):
    config, data, netG, netD = make_case(n=60, batch=16, critic_steps=2)
    opt_g, opt_d = optimisers(netG, netD, config)
    inputs = draw(EpochSampler(60, 16, seed=1), config, torch.Generator().manual_seed(2))
    with GemmCounter() as counter:
        impl(netG, netD, opt_g, opt_d, data, inputs, config)
    shape = StepShape(batch=16, text=T, reduced=R, noise=Z, gen_hidden=HG, features=D, critic_hidden=H, seen=S,
                      critic_steps=2)
    assert sum(formula(shape).values()) == counter.flops, counter.shapes


def test_fast_step_leaves_no_autograd_graph_on_the_critic():
    config, data, netG, netD = make_case(n=60, batch=16)
    opt_g, opt_d = optimisers(netG, netD, config)
    inputs = draw(EpochSampler(60, 16, seed=1), config, torch.Generator().manual_seed(2))
    log = fast_step(netG, netD, opt_g, opt_d, data, inputs, config)
    assert all(v.grad_fn is None and v.dim() == 0 for v in log.values())
    assert all(p.grad is None for p in netD.parameters())


def test_fused_adam_of_make_optimizers_follows_the_same_trajectory():
    config, data, netG, netD = make_case(n=60, batch=16)
    reference, _ = run_both(config, data, netG, netD, iterations=2)
    g, d = copy.deepcopy(netG), copy.deepcopy(netD)
    opt_g, opt_d = make_optimizers(g, d, config)
    sampler, rng = EpochSampler(60, 16, seed=1), torch.Generator().manual_seed(2)
    logs = [fast_step(g, d, opt_g, opt_d, data, draw(sampler, config, rng), config) for _ in range(2)]
    assert_same_trajectory(reference, (g, d, opt_g, opt_d, logs))


@pytest.mark.parametrize("switches", [{}, {"creativity_weight": 0.5, "cycle_weight": 0.5}])
def test_bf16_autocast_runs_and_stays_near_float32(switches):
    config, data, netG, netD = make_case(n=60, batch=16, **switches)
    data = TrainingData(data.features.float(), data.labels, data.text.float(), data.centroids.float())
    logs = []
    for bf16 in ("off", "on"):
        g, d = copy.deepcopy(netG).float(), copy.deepcopy(netD).float()
        opt_g, opt_d = optimisers(g, d, config)
        inputs = draw_inputs(EpochSampler(60, 16, seed=1), config, torch.Generator().manual_seed(2), DEVICE, n_classes=S)
        logs.append(fast_step(g, d, opt_g, opt_d, data, inputs, config.replace(bf16=bf16)))
        # master weights and optimiser state stay float32; so do the losses (reductions) and what is logged
        assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in [*g.parameters(), *d.parameters()])
        assert all(v.dtype == torch.float32 for opt in (opt_g, opt_d) for state in opt.state.values()
                   for v in state.values() if v.is_floating_point() and v.dim() > 0)
        assert all(v.dtype == torch.float32 for k, v in logs[-1].items() if k not in ("acc_real", "acc_fake")), logs[-1]
    for key in ("critic_aux", "gp", "g_loss", "pivot", "wasserstein", *(("cycle",) if switches else ())):
        assert torch.allclose(logs[0][key], logs[1][key], rtol=0.05, atol=0.01), key


def test_fast_step_needs_auto_resolved_first():
    config, data, netG, netD = make_case(n=60, batch=16, bf16="auto")
    opt_g, opt_d = optimisers(netG, netD, config)
    inputs = draw_inputs(EpochSampler(60, 16, seed=1), config, torch.Generator().manual_seed(2), DEVICE)
    with pytest.raises(ValueError, match="gazsl.generator.precision.resolve"):
        fast_step(netG, netD, opt_g, opt_d, data, inputs, config)


def test_log_false_makes_the_same_update_and_leaves_out_the_log_only_losses():
    config, data, netG, netD = make_case(n=60, batch=16)
    runs = []
    for log in (True, False):
        g, d = copy.deepcopy(netG), copy.deepcopy(netD)
        opt_g, opt_d = optimisers(g, d, config)
        sampler, rng = EpochSampler(60, 16, seed=1), torch.Generator().manual_seed(2)
        logs = [fast_step(g, d, opt_g, opt_d, data, draw(sampler, config, rng), config, log=log) for _ in range(2)]
        runs.append((g, d, opt_g, opt_d, logs))
    assert set(runs[0][4][-1]) - set(runs[1][4][-1]) == {"g_loss", "g_aux"}
    for _, _, _, _, logs in runs:
        for entry, key in itertools.product(logs, ("g_loss", "g_aux")):
            entry.pop(key, None)
    assert_same_trajectory(*runs)


def test_a_layout_fast_step_does_not_model_is_refused_and_the_reference_step_trains_it():
    config, data, netG, netD = make_case(n=30, batch=8)
    netD.shared = torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.ReLU(), torch.nn.Linear(H, H), torch.nn.ReLU()).double()
    opt_g, opt_d = optimisers(netG, netD, config)
    inputs = draw(EpochSampler(30, 8, seed=1), config, torch.Generator().manual_seed(2))
    with pytest.raises(GazslError, match="got a critic made of Linear, ReLU, Linear, ReLU, .*set fast_step to false"):
        fast_step(netG, netD, opt_g, opt_d, data, inputs, config)
    second = netD.shared[2].weight.detach().clone()
    reference_step(netG, netD, opt_g, opt_d, data, inputs, config)  # every critic layer gets its gradient
    assert not torch.equal(netD.shared[2].weight, second)
