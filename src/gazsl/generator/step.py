"""One GAZSL training iteration: ``critic_steps`` critic updates, then one generator update.

``reference_step`` is the plain formulation, line by line as the paper's code
does it (text layer once per sample, critic run on real features in the
generator step, a Python loop for the pivot loss). It is kept as the reference
that ``fast_step`` (gazsl/generator/fast_step.py) is tested against.

All randomness of an iteration (batch indices, z, gradient-penalty alphas, and
the creativity term's class pairs and mixing weights) is drawn up front by
``draw_inputs`` so that both formulations can be fed the very same draws.

Two optional generator terms extend the paper's model (both off at weight 0,
and then nothing extra is drawn or computed):

creativity (CIZSL, Elhoseiny & Elfeki 2019)  features generated from a convex
    mixture a t_i + (1 - a) t_j of two different seen classes' texts should look
    real to the critic yet like none of the seen classes:
    creativity_weight * (-mean D(x_mix) - entropy(aux(x_mix))). The critic never
    trains on them.
cycle (in the spirit of CANZSL, Chen et al. 2020)  a regressor maps generated
    features back to the reduced text that made them:
    cycle_weight * mse(regressor(x_fake), reduced_text), the target detached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gazsl.generator.config import ModelConfig
from gazsl.generator.model import Critic, Generator, aux_accuracy, entropy, gradient_penalty, pivot_loss


@dataclass
class TrainingData:
    """Everything a step reads, resident on the training device."""

    features: torch.Tensor  # (N, D) normalised features of training images
    labels: torch.Tensor  # (N,) int64 seen-class index in [0, S)
    text: torch.Tensor  # (S, T) text vectors of the seen classes
    centroids: torch.Tensor  # (S, D) mean real feature per seen class


@dataclass
class StepInputs:
    critic_batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]  # (idx (B,), z (B, Z), alpha (B, 1))
    generator_batch: tuple[torch.Tensor, torch.Tensor]  # (idx (B,), z (B, Z))
    # creativity term only: (class i (B,), class j != i (B,), a (B, 1) in [0.2, 0.8], z (B, Z))
    creative: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None


class EpochSampler:
    """Shuffled batches without replacement; a new permutation when an epoch runs out (as the original data layer)."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size = n, min(batch_size, n)
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(n)
        self.position = 0

    def next(self) -> np.ndarray:
        if self.position + self.batch_size > self.n:
            self.order = self.rng.permutation(self.n)
            self.position = 0
        batch = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return batch

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "order": self.order.copy(), "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.order = np.asarray(state["order"])
        self.position = int(state["position"])


def draw_inputs(sampler: EpochSampler, config: ModelConfig, generator: torch.Generator, device,
                n_classes: int | None = None) -> StepInputs:
    """One iteration's draws; ``n_classes`` (seen classes in training) is needed by the creativity term only."""
    def z(b):
        return torch.randn(b, config.noise_dim, generator=generator).to(device)

    critic_batches = []
    for _ in range(config.critic_steps):
        idx = torch.from_numpy(sampler.next()).to(device)
        critic_batches.append((idx, z(len(idx)), torch.rand(len(idx), 1, generator=generator).to(device)))
    idx = torch.from_numpy(sampler.next()).to(device)
    inputs = StepInputs(critic_batches, (idx, z(len(idx))))
    if config.creativity_weight > 0:  # drawn last and only when on: the paper's model keeps its random stream
        if n_classes is None or n_classes < 2:
            raise ValueError(f"the creativity term mixes two different seen classes; got n_classes={n_classes}")
        b = len(idx)
        first = torch.randint(n_classes, (b,), generator=generator)
        second = (first + torch.randint(1, n_classes, (b,), generator=generator)) % n_classes  # uniform over the others
        a = 0.2 + 0.6 * torch.rand(b, 1, generator=generator)
        inputs.creative = (first.to(device), second.to(device), a.to(device), z(b))
    return inputs


def generator_regularisers(netG: Generator, config: ModelConfig) -> torch.Tensor:
    return config.weight_decay_g * netG.weight_l2() + config.text_l21 * netG.text_l21()


def reference_step(netG: Generator, netD: Critic, optG, optD, data: TrainingData,
                   inputs: StepInputs, config: ModelConfig) -> dict[str, torch.Tensor]:
    """The plain formulation. Returns the losses of the last critic step and of the generator step."""
    for idx, z, alpha in inputs.critic_batches:
        x, y = data.features[idx], data.labels[idx]
        text = data.text[y]  # (B, T): the text layer will run once per sample
        optD.zero_grad(set_to_none=True)
        d_real, c_real = netD(x)
        fake = netG(text, z).detach()
        d_fake, c_fake = netD(fake)
        wgan = d_fake.mean() - d_real.mean()
        aux = F.cross_entropy(c_real, y) + F.cross_entropy(c_fake, y)
        gp = gradient_penalty(netD, x, fake, alpha)
        (wgan + aux + config.gp_lambda * gp).backward()
        optD.step()
    critic_log = {"wasserstein": -wgan.detach(), "critic_aux": aux.detach(), "gp": gp.detach(),
                  "acc_real": aux_accuracy(c_real, y).detach()}

    idx, z = inputs.generator_batch
    x, y = data.features[idx], data.labels[idx]
    optG.zero_grad(set_to_none=True)
    reduced = netG.reduce_text(data.text[y])  # (B, R)
    fake = netG.from_reduced(reduced, z)
    d_fake, c_fake = netD(fake)
    _, c_real = netD(x)
    aux = (F.cross_entropy(c_real, y) + F.cross_entropy(c_fake, y)) / 2
    pivot = pivot_loss(fake, y, data.centroids)
    loss = -d_fake.mean() + aux + config.pivot_weight * pivot + generator_regularisers(netG, config)
    extra = {}
    if config.creativity_weight > 0:
        i, j, a, z_mix = inputs.creative
        d_mix, c_mix = netD(netG(a * data.text[i] + (1 - a) * data.text[j], z_mix))
        extra["creative_entropy"] = entropy(c_mix)
        loss = loss + config.creativity_weight * (-d_mix.mean() - extra["creative_entropy"])
    if config.cycle_weight > 0:
        extra["cycle"] = F.mse_loss(netG.regressor(fake), reduced.detach())
        loss = loss + config.cycle_weight * extra["cycle"]
    loss.backward()
    optG.step()
    optD.zero_grad(set_to_none=True)  # the generator step's critic gradients are discarded
    return {**critic_log, "g_loss": loss.detach(), "g_aux": aux.detach(), "pivot": pivot.detach(),
            "acc_fake": aux_accuracy(c_fake, y).detach(), **{k: v.detach() for k, v in extra.items()}}
