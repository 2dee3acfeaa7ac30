"""The GAZSL training iteration without avoidable work: the same updates as ``gazsl.generator.step.reference_step``.

Every saving below is exact algebra (tests/test_fast_step.py compares losses,
parameters and optimiser states with the reference); ``reference_gemm_flops``
and ``fast_gemm_flops`` count what each formulation multiplies.

1. The generator is constant during an iteration (only ``optG.step()`` at the
   end changes it). Its first layer is ``Linear(cat[z, r]) = W_z z + (W_r r + b)``,
   so the text layer and the ``W_r r + b`` part run once per seen class per
   iteration and are gathered per sample (the reference runs both once per
   sample, six times per iteration). The fake features of all critic steps come
   from one pass without a graph.
2. The critic's first layer is linear: real and fake share one GEMM, and the
   pre-activation on the gradient-penalty interpolates is the same interpolation
   of theirs, so the interpolates are never pushed through the critic.
3. The gradient penalty in closed form. With D(x) = w . relu(W1 x + b1) + b and
   the ReLU mask m = 1[W1 x + b1 > 0] (piecewise constant: zero derivative):
       grad_x D = W1^T (w * m)                  G = (m * w) @ W1          (B, D)
       gp = mean_i (|G_i| - 1)^2               U = dgp/dG = 2 (|G_i| - 1) / (B |G_i|) G_i
       dgp/dW1 = diag(w) m^T U                 dgp/dw = rowsum(W1 * (m^T U))
   Two GEMMs (G and m^T U), where autograd's double backward runs five (and two
   of them only multiply the mask's zero derivative).
4. The critic's backward written out: one GEMM for the first layer's weight
   gradient over real and fake together; no input gradients.
5. Generator step: the critic's weights are detached (their gradient would be
   thrown away); the real features only feed the logged auxiliary loss, which
   has no gradient with respect to G, so they run without a graph and only
   through the auxiliary head.
6. Pivot loss by index_add over all seen classes, masked: no Python loop and no
   data-dependent shapes, hence no host sync anywhere in the step.
7. The optional creativity term (gazsl/generator/step.py) mixes two classes' texts. The
   text layer and ``W_r r + b`` are affine, so the mixture's first-layer part is
   the same mixture of two ``class_part`` rows; the mixed rows ride along in the
   generator step's GEMMs. The cycle term's targets are rows of the per-class
   reduced text.

``compile`` (torch.compile of the critic's closed form, meant for GPUs) is
optional. ``bf16`` (autocast, ``config.bf16 == "on"``; gazsl.generator.precision turns
``auto`` into on or off before a run) multiplies in bf16; the master weights,
the optimiser state, the gradients handed to Adam and every reduction of the
losses and the gradient penalty stay float32 (``_at_least_fp32``).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gazsl.generator.config import Config, ModelConfig
from gazsl.io import GazslError
from gazsl.generator.model import Critic, Generator, aux_accuracy, entropy
from gazsl.generator.step import StepInputs, TrainingData


def _at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    """bf16 -> float32 for reductions under autocast; float32 and float64 unchanged."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def _critic_update(xf: torch.Tensor, y: torch.Tensor, alpha: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor,
                   wh: torch.Tensor, bh: torch.Tensor, gp_lambda: float, d_w1_out: torch.Tensor | None = None):
    """Losses and gradients of one critic step: wgan + aux + gp_lambda * gp, forward and backward by hand.

    xf (2B, D): real rows then fake rows; y (B,); alpha (B, 1); w1 (H, D), b1 (H,);
    wh (1 + S, H), bh (1 + S,): the WGAN head stacked on the aux head so both run as one GEMM.
    d_w1_out (H, D), optional: where to write the gradient of w1.
    """
    b = y.shape[0]
    pre = torch.addmm(b1, xf, w1.t())  # (2B, H)
    h = pre.relu()
    out = torch.addmm(bh, h, wh.t())  # (2B, 1 + S): WGAN score, aux logits
    d, c = _at_least_fp32(out[:, 0]), out[:, 1:]
    wgan = d[b:].mean() - d[:b].mean()
    ce_real, ce_fake = F.cross_entropy(c[:b], y), F.cross_entropy(c[b:], y)
    aux = ce_real + ce_fake

    # d(wgan + aux)/d(out): -1/B, +1/B on the scores; (softmax - onehot)/B on the logits
    y2 = torch.cat([y, y])[:, None]
    dc = _at_least_fp32(c).softmax(dim=1)
    dc = dc.scatter_add(1, y2, torch.full(y2.shape, -1.0, dtype=dc.dtype, device=dc.device)) / b
    dd = torch.full((2 * b, 1), 1.0 / b, dtype=dc.dtype, device=dc.device)
    dd[:b] = -1.0 / b
    dout_fp32 = torch.cat([dd, dc], dim=1)  # (2B, 1 + S)
    dout = dout_fp32.to(out.dtype)
    dpre = torch.ops.aten.threshold_backward(dout @ wh, h, 0)  # (2B, H): through the ReLU

    # gradient penalty (saving 3 in the module docstring)
    w = wh[0]
    pre_interp = torch.lerp(pre[b:], pre[:b], alpha.to(pre.dtype))  # = alpha pre_real + (1 - alpha) pre_fake
    mask = (pre_interp > 0).to(pre.dtype)  # (B, H)
    g = (mask * w) @ w1  # (B, D): grad_x D at the interpolates
    norm = torch.linalg.vector_norm(_at_least_fp32(g), dim=1)  # (B,)
    gp = (norm - 1).pow(2).mean()
    # autograd's norm backward sets the gradient to 0 where the norm is 0; so do we
    coef = torch.where(norm == 0, 0.0, (2 * gp_lambda / b) * (norm - 1) / norm)
    p = torch.mm(mask.t(), (g * coef[:, None]).to(mask.dtype), out=d_w1_out)  # (H, D) = m^T U
    d_w = torch.einsum("hd,hd->h", w1, p)  # (H,): dgp/dw, row-wise dot products

    d_w1 = p.mul_(w[:, None]).addmm_(dpre.t(), xf.to(dpre.dtype))  # (H, D): diag(w) m^T U + dpre^T [x; fake]
    d_wh = dout.t() @ h  # (1 + S, H)
    d_wh[0] += d_w
    grads = (d_w1, _at_least_fp32(dpre).sum(dim=0), d_wh, dout_fp32.sum(dim=0))
    acc_real = aux_accuracy(c[:b], y)
    return grads, (wgan, aux, gp, acc_real)


class _GatherRows(torch.autograd.Function):
    """``table[index]`` whose backward sums rows with ``index_add_`` instead of ``index_put_(accumulate=True)``.

    On the CPU the latter adds in an order that depends on thread scheduling
    (different bits from run to run at two threads); ``index_add_`` adds each
    index's rows in index order, so a run repeats exactly at any fixed thread count.
    """

    @staticmethod
    def forward(ctx, table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(index)
        ctx.rows = table.shape[0]
        return table.index_select(0, index)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (index,) = ctx.saved_tensors
        return grad.new_zeros(ctx.rows, *grad.shape[1:]).index_add_(0, index, grad), None


def gather_rows(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows ``table[index]`` (len(index), ...) with a backward that repeats bit for bit on the CPU."""
    return _GatherRows.apply(table, index)


def pivot_loss_masked(fake: torch.Tensor, labels: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """``gazsl.generator.model.pivot_loss`` with fixed shapes: every seen class computed, absent ones masked out.

    It never indexes by a data-dependent mask, so it does not make the host wait
    for the device. Absent classes get a dummy difference of 1 so that no gradient
    flows through sqrt(0).
    """
    n_classes = centroids.shape[0]
    fake = fake.to(centroids.dtype)
    sums = fake.new_zeros(n_classes, fake.shape[1]).index_add_(0, labels, fake)  # (S, D)
    counts = fake.new_zeros(n_classes).index_add_(0, labels, torch.ones_like(fake[:, 0]))  # (S,)
    present = counts > 0
    diff = torch.where(present[:, None], sums / counts.clamp(min=1)[:, None] - centroids, 1.0)
    return (diff.pow(2).sum(dim=1).sqrt() * present).sum() / n_classes


def make_optimizers(netG: Generator, netD: Critic, config: ModelConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """The paper's Adam for both networks, as one fused kernel per step where PyTorch has it.

    Same update rule as the default Adam, up to float rounding; on the CPU the
    default for-loop Adam takes several passes over every weight matrix per step.
    """
    betas = (config.beta1, config.beta2)
    fused = next(netG.parameters()).device.type in ("cpu", "cuda")
    return (torch.optim.Adam(netG.parameters(), lr=config.lr, betas=betas, fused=fused),
            torch.optim.Adam(netD.parameters(), lr=config.lr, betas=betas, fused=fused))


def _weights(netG: Generator) -> list[torch.Tensor]:
    return [p for name, p in netG.named_parameters() if name.endswith("weight")]  # as Generator.weight_l2


@torch.no_grad()
def _regularisers(netG: Generator, config: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``gazsl.generator.step.generator_regularisers`` without a graph, and the text layer's column norms (T,).

    Its gradient is simple enough to add by hand (``_add_regulariser_gradients``),
    one pass over each weight instead of autograd's several.
    """
    column_norms = torch.linalg.vector_norm(netG.text_layer.weight, dim=0)  # (T,)
    l2 = sum(torch.linalg.vector_norm(w).square() for w in _weights(netG))
    return config.weight_decay_g * l2 + config.text_l21 * column_norms.sum(), column_norms


@torch.no_grad()
def _add_regulariser_gradients(netG: Generator, config: ModelConfig, column_norms: torch.Tensor) -> None:
    """Adds d(weight_decay_g |W|^2)/dW = 2 weight_decay_g W to every weight's gradient, and
    d(text_l21 sum_t |W[:, t]|)/dW[:, t] = text_l21 W[:, t] / |W[:, t]| to the text layer's."""
    for w in _weights(netG):
        if w.grad is None:  # a weight only the regulariser reaches
            w.grad = torch.zeros_like(w)
        w.grad.add_(w, alpha=2 * config.weight_decay_g)
    text = netG.text_layer.weight
    text.grad.addcdiv_(text, column_norms, value=config.text_l21)


_COMPILED: dict = {}
_D_W1_BUFFERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # critic -> (H, D) gradient buffer


def _critic_fn(compile_: bool):
    if not compile_:
        return _critic_update
    if "critic" not in _COMPILED:
        _COMPILED["critic"] = torch.compile(_critic_update, dynamic=False)
    return _COMPILED["critic"]


PAPER_LAYOUT = ("generator: text Linear; Linear, LeakyReLU, Linear, Tanh (and the cycle term's Linear); "
                "critic: Linear, ReLU, then a Linear WGAN head with one output and a Linear aux head")


def _layers(module: torch.nn.Module) -> str:
    return ", ".join(type(m).__name__ for m in module) if isinstance(module, torch.nn.Sequential) else type(module).__name__


def unmodelled_layout(netG: Generator, netD: Critic) -> str | None:
    """What of these networks ``fast_step`` does not model; None for the paper's layout, the only one it writes out.

    Its critic update is the closed form of one ReLU layer and its generator step
    reads the layers by position, so any other layout would train wrongly and
    silently (a deeper critic would get gradients for its first layer only).
    """
    if type(netG) is not Generator or type(netD) is not Critic:
        return f"networks of type {type(netG).__name__} and {type(netD).__name__}, not gazsl.generator.model's Generator and Critic"
    generator = [type(m) for m in netG.main] if isinstance(netG.main, torch.nn.Sequential) else []
    if generator != [torch.nn.Linear, torch.nn.LeakyReLU, torch.nn.Linear, torch.nn.Tanh] \
            or type(netG.text_layer) is not torch.nn.Linear or netG.regressor is not None and type(netG.regressor) is not torch.nn.Linear:
        return f"a generator made of {_layers(netG.text_layer)}; {_layers(netG.main)}"
    shared = [type(m) for m in netD.shared] if isinstance(netD.shared, torch.nn.Sequential) else []
    heads = (netD.gan_head, netD.aux_head)
    if shared != [torch.nn.Linear, torch.nn.ReLU] or any(type(h) is not torch.nn.Linear for h in heads) \
            or netD.gan_head.out_features != 1:
        return f"a critic made of {_layers(netD.shared)}, then heads {_layers(netD.gan_head)} and {_layers(netD.aux_head)}"
    if len(list(netD.parameters())) != 6 or len(list(netG.parameters())) != 6 + 2 * (netG.regressor is not None):
        return "networks with parameters outside the paper's layers"
    return None


def fast_step(netG: Generator, netD: Critic, optG, optD, data: TrainingData,
              inputs: StepInputs, config: Config, log: bool = True) -> dict[str, torch.Tensor]:
    """Same contract, losses and updates as ``reference_step``; see the module docstring for what differs.

    ``config``: the model's losses and optimisation, and of the run's settings ``bf16`` and ``compile``.

    ``log=False`` skips the one piece of work that only the log needs, the critic
    on the generator batch's real features (its aux loss has no gradient w.r.t. G):
    the update is the same, and the returned dict lacks ``g_loss`` and ``g_aux``.
    Networks of another layout than the paper's are refused (``unmodelled_layout``).
    """
    unmodelled = unmodelled_layout(netG, netD)
    if unmodelled is not None:
        raise GazslError(f"fast_step writes out the paper's layout only ({PAPER_LAYOUT}); got {unmodelled}: "
                         "set fast_step to false to train it with the reference step")
    first, act, last, squash = netG.main  # Linear(Z + R, Hg), LeakyReLU, Linear(Hg, D), Tanh
    w_z, w_r = first.weight[:, :netG.noise_dim], first.weight[:, netG.noise_dim:]  # the input is cat[z, r]
    if config.bf16 not in ("on", "off"):
        raise ValueError(f"fast_step needs bf16 'on' or 'off', got {config.bf16!r} (gazsl.generator.precision.resolve decides 'auto')")
    bf16 = config.bf16 == "on"
    autocast = torch.autocast(data.features.device.type, dtype=torch.bfloat16, enabled=bf16)
    critic_update = _critic_fn(config.compile)

    with autocast:
        # (S, Hg): text layer and its share of the first layer once per seen class; the graph serves the G step
        reduced = netG.reduce_text(data.text)  # (S, R)
        class_part = F.linear(reduced, w_r, first.bias)
        with torch.no_grad():
            noise = torch.cat([z for _, z, _ in inputs.critic_batches])  # (K B, Z)
            labels = torch.cat([data.labels[idx] for idx, _, _ in inputs.critic_batches])  # (K B,)
            hidden = class_part[labels]  # (K B, Hg), then + z W_z^T in place
            hidden = F.leaky_relu_(hidden.addmm_(noise.to(hidden.dtype), w_z.t().to(hidden.dtype)), act.negative_slope)
            fakes = last(hidden).tanh_().split([len(idx) for idx, _, _ in inputs.critic_batches])  # squash: Tanh

    d_params = (netD.shared[0].weight, netD.shared[0].bias, netD.gan_head.weight, netD.gan_head.bias,
                netD.aux_head.weight, netD.aux_head.bias)
    # The CPU has no caching allocator: a fresh (H, D) block (59 MB at paper sizes) comes from mmap and
    # page-faults inside the GEMM that first writes it, every step. Keep one per critic (GPUs, bf16 and
    # torch.compile manage their own memory).
    d_w1_out = None
    if d_params[0].device.type == "cpu" and not (bf16 or config.compile):
        d_w1_out = _D_W1_BUFFERS.get(netD)
        if d_w1_out is None or d_w1_out.shape != d_params[0].shape or d_w1_out.dtype != d_params[0].dtype:
            d_w1_out = _D_W1_BUFFERS[netD] = torch.empty_like(d_params[0])
    xf = data.features.new_empty(2 * len(inputs.critic_batches[0][0]), data.features.shape[1])  # (2B, D)
    for (idx, _, alpha), fake in zip(inputs.critic_batches, fakes):
        w1, b1, wg, bg, wa, ba = (p.detach() for p in d_params)
        if len(xf) != 2 * len(idx):
            xf = data.features.new_empty(2 * len(idx), data.features.shape[1])
        torch.index_select(data.features, 0, idx, out=xf[:len(idx)])  # real rows, then fake rows
        xf[len(idx):] = fake
        with autocast:
            grads, critic_losses = critic_update(xf, data.labels[idx], alpha, w1, b1, torch.cat([wg, wa]),
                                                 torch.cat([bg, ba]), config.gp_lambda, d_w1_out)
        d_w1, d_b1, d_wh, d_bh = (grad.to(w1.dtype) for grad in grads)
        for p, grad in zip(d_params, (d_w1, d_b1, d_wh[:1], d_bh[:1], d_wh[1:], d_bh[1:])):
            p.grad = grad
        optD.step()
    wgan, aux, gp, acc_real = critic_losses
    critic_log = {"wasserstein": -wgan.detach(), "critic_aux": aux.detach(), "gp": gp.detach(),
                  "acc_real": acc_real}

    idx, z = inputs.generator_batch
    y = data.labels[idx]
    optG.zero_grad(set_to_none=True)
    regularisers, text_column_norms = _regularisers(netG, config)
    w1, b1, wg, bg, wa, ba = (p.detach() for p in d_params)  # the critic after its last update, as a constant
    b = len(idx)
    with autocast:
        rows, noise = gather_rows(class_part, y), z  # (B, Hg), (B, Z)
        if config.creativity_weight > 0:  # saving 7: B mixed-text rows after the B real-text ones
            i, j, a, z_mix = inputs.creative
            rows = torch.cat([rows, torch.lerp(gather_rows(class_part, j), gather_rows(class_part, i), a.to(class_part.dtype))])
            noise = torch.cat([z, z_mix])
        generated = squash(last(act(torch.addmm(rows, noise, w_z.t()))))  # (B or 2B, D)
        out = F.linear(F.linear(generated, w1, b1).relu(), torch.cat([wg, wa]), torch.cat([bg, ba]))  # (B or 2B, 1 + S)
        fake, d_fake, c_fake = generated[:b], out[:b, 0], out[:b, 1:]
        aux = F.cross_entropy(c_fake, y) / 2
        if log:
            with torch.no_grad():
                c_real = F.linear(F.linear(data.features[idx], w1, b1).relu_(), wa, ba)  # only the log reads it
            aux = aux + F.cross_entropy(c_real, y) / 2
        pivot = pivot_loss_masked(fake, y, data.centroids)
        loss = -_at_least_fp32(d_fake).mean() + aux + config.pivot_weight * pivot + regularisers
        extra = {}
        if config.creativity_weight > 0:
            extra["creative_entropy"] = entropy(_at_least_fp32(out[b:, 1:]))
            loss = loss + config.creativity_weight * (-_at_least_fp32(out[b:, 0]).mean() - extra["creative_entropy"])
        if config.cycle_weight > 0:
            extra["cycle"] = F.mse_loss(netG.regressor(fake), reduced.detach()[y])
            loss = loss + config.cycle_weight * extra["cycle"]
    loss.backward()
    _add_regulariser_gradients(netG, config, text_column_norms)
    optG.step()
    optD.zero_grad(set_to_none=True)  # as the reference leaves it
    generator_log = {"g_loss": loss.detach(), "g_aux": aux.detach()} if log else {}
    return {**critic_log, **generator_log, "pivot": pivot.detach(), "acc_fake": aux_accuracy(c_fake, y).detach(),
            **{k: v.detach() for k, v in extra.items()}}


# --------------------------------------------------------------------------- FLOP accounting
@dataclass(frozen=True)
class StepShape:
    batch: int  # B
    text: int  # T
    reduced: int  # R
    noise: int  # Z
    gen_hidden: int  # Hg
    features: int  # D
    critic_hidden: int  # H
    seen: int  # S
    critic_steps: int  # K


def _mm(m: int, k: int, n: int) -> int:
    """(m, k) @ (k, n): m n k multiply-adds, 2 m n k FLOPs."""
    return 2 * m * k * n


def reference_gemm_flops(s: StepShape) -> dict[str, int]:
    """GEMM FLOPs that ``reference_step`` executes per iteration, by part (the paper's model: extensions off).

    Autograd computes, for each Linear y = x W^T + b, the forward GEMM, the weight
    gradient GEMM, and the input gradient GEMM only where the input needs a
    gradient. tests/test_fast_step.py checks this formula against the GEMMs the
    reference actually dispatches.
    """
    B, T, R, Z, Hg, D, H, S, K = (s.batch, s.text, s.reduced, s.noise, s.gen_hidden, s.features,
                                  s.critic_hidden, s.seen, s.critic_steps)
    gen_fwd = _mm(B, T, R) + _mm(B, Z + R, Hg) + _mm(B, Hg, D)  # text layer once per sample
    critic_fwd = _mm(B, D, H) + _mm(B, H, 1) + _mm(B, H, S)  # first layer, WGAN head, aux head
    heads_bwd = 2 * _mm(B, 1, H) + 2 * _mm(B, S, H)  # input and weight gradients of both heads
    critic_step = {
        "critic: generator forward": gen_fwd,
        "critic: critic forward (real, fake, interpolates)": 3 * critic_fwd,
        "critic: gp grad_x (create_graph)": _mm(B, 1, H) + _mm(B, H, D),
        "critic: backward real + fake": 2 * (heads_bwd + _mm(H, B, D)),  # x and fake need no gradient
        "critic: gp double backward": _mm(H, B, D) + _mm(B, D, H) + _mm(1, B, H),  # dW1, d(w*m), dw
        # ReLU's backward has a zero derivative w.r.t. its input; autograd still pushes those
        # zeros through the first layer: weight gradient and the interpolates' gradient.
        "critic: gp zeros through first layer": _mm(H, B, D) + _mm(B, H, D),
    }
    flops = {k: K * v for k, v in critic_step.items()}
    flops |= {
        "generator: generator forward": gen_fwd,
        "generator: critic forward (fake, real)": 2 * critic_fwd,
        # fake: both heads' gradients, first-layer weight and input gradients; real: aux head and W1 weight only
        "generator: critic backward": heads_bwd + _mm(H, B, D) + _mm(B, H, D) + 2 * _mm(B, S, H) + _mm(H, B, D),
        # last and first layers: weight and input gradients; text layer: weight gradient only
        "generator: generator backward": 2 * _mm(B, Hg, D) + 2 * _mm(B, Z + R, Hg) + _mm(R, B, T),
    }
    return flops


def fast_gemm_flops(s: StepShape, log: bool = True) -> dict[str, int]:
    """GEMM FLOPs that ``fast_step(..., log=log)`` executes per iteration, extensions off.

    Checked against the dispatched GEMMs.
    """
    B, T, R, Z, Hg, D, H, S, K = (s.batch, s.text, s.reduced, s.noise, s.gen_hidden, s.features,
                                  s.critic_hidden, s.seen, s.critic_steps)
    critic_step = (_mm(2 * B, D, H) + _mm(2 * B, H, 1 + S)  # forward, real and fake together
                   + _mm(2 * B, 1 + S, H)  # d out -> d h
                   + _mm(B, H, D) + _mm(H, B, D) + _mm(H, D, 1)  # gradient penalty: G, m^T U, rowsum(W1 * m^T U)
                   + _mm(H, 2 * B, D) + _mm(1 + S, 2 * B, H))  # weight gradients
    return {
        "per class: text layer and first layer's text part": _mm(S, T, R) + _mm(S, R, Hg),
        "critic: fake features": K * (_mm(B, Z, Hg) + _mm(B, Hg, D)),
        "critic: closed-form steps": K * critic_step,
        "generator: forward": _mm(B, Z, Hg) + _mm(B, Hg, D) + _mm(B, D, H) + _mm(B, H, 1 + S),
        "generator: real features, aux head, no graph (log only)": (_mm(B, D, H) + _mm(B, H, S)) * log,
        "generator: backward": (_mm(B, 1 + S, H) + _mm(B, H, D)  # through the constant critic
                                + 2 * _mm(B, Hg, D) + _mm(Hg, B, Z)  # last layer; W_z (z needs no gradient)
                                + 2 * _mm(S, R, Hg) + _mm(R, S, T)),  # per class: W_r, its input, text layer
    }
