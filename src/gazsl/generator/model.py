"""The GAZSL networks and their losses, as in the paper and its released code.

Generator:  text (T) -> Linear(T, R)            the denoising text layer, no activation
            [reduced text (R), z (Z)] -> Linear(R+Z, H) -> LeakyReLU -> Linear(H, D) -> Tanh
Critic:     x (D) -> Linear(D, H) -> ReLU -> { WGAN head: Linear(H, 1), aux classifier: Linear(H, S) }
Optional:   regressor x (D) -> Linear(D, R), the cycle term's map back to the reduced text
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from gazsl.generator.config import ModelConfig


def owned_tensor(array, device) -> torch.Tensor:
    """``array`` copied into PyTorch's own memory on ``device``. ``torch.from_numpy`` shares NumPy's buffer, whose
    alignment (16 bytes guaranteed, 64 by chance) follows the process's allocation history, and a matrix kernel may
    sum in an order that depends on it; PyTorch aligns its own to 64 bytes, so a resumed process, whose history
    differs, sums alike."""
    return torch.tensor(array, device=device)


def _init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_normal_(m.weight)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self, text_dim: int, feature_dim: int, config: ModelConfig):
        super().__init__()
        self.noise_dim = config.noise_dim
        self.text_layer = nn.Linear(text_dim, config.text_reduced_dim)
        self.main = nn.Sequential(
            nn.Linear(config.text_reduced_dim + config.noise_dim, config.generator_hidden),
            nn.LeakyReLU(),
            nn.Linear(config.generator_hidden, feature_dim),
            nn.Tanh(),
        )
        _init(self)
        # cycle term only: generated feature -> reduced text. Part of G so that optG trains it (and ||W||^2
        # decays it); made after the paper's layers are initialised, so that theirs stay as without it.
        self.regressor = nn.Linear(feature_dim, config.text_reduced_dim) if config.cycle_weight > 0 else None
        if self.regressor is not None:
            _init(self.regressor)

    def reduce_text(self, text: torch.Tensor) -> torch.Tensor:
        return self.text_layer(text)  # (B, T) -> (B, R)

    def from_reduced(self, reduced: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.main(torch.cat([z, reduced], dim=1))  # (B, Z + R) -> (B, D)

    def forward(self, text: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.from_reduced(self.reduce_text(text), z)

    def weight_l2(self) -> torch.Tensor:
        """Sum of squared weights (biases excluded), the paper's ||W||^2."""
        return sum(p.pow(2).sum() for name, p in self.named_parameters() if name.endswith("weight"))

    def text_l21(self) -> torch.Tensor:
        """L2,1 norm of the text layer: the sum over input terms of each term's weight-column norm.

        It drives whole text dimensions (noisy terms) to zero.
        """
        return self.text_layer.weight.pow(2).sum(dim=0).sqrt().sum()


@torch.no_grad()
def generate(netG: Generator, text: torch.Tensor, per_class: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` synthetic features for every row of ``text`` (C, T).

    Returns features (C * per_class, D) and labels (C * per_class,) in [0, C).
    The text layer runs once per class; the rest in one batch.
    """
    n_classes = text.shape[0]
    with torch.autocast(text.device.type, enabled=False):  # float32 whatever training used (gazsl.scoring.evaluate)
        reduced = netG.reduce_text(text)  # (C, R)
        labels = torch.arange(n_classes, device=text.device).repeat_interleave(per_class)  # (C * n,)
        z = torch.randn(len(labels), netG.noise_dim, generator=generator).to(text.device)
        return netG.from_reduced(reduced[labels], z), labels


class Critic(nn.Module):
    def __init__(self, feature_dim: int, n_seen: int, config: ModelConfig):
        super().__init__()
        self.shared = nn.Sequential(nn.Linear(feature_dim, config.critic_hidden), nn.ReLU())
        self.gan_head = nn.Linear(config.critic_hidden, 1)
        self.aux_head = nn.Linear(config.critic_hidden, n_seen)
        _init(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.shared(x)  # (B, H)
        return self.gan_head(h).squeeze(1), self.aux_head(h)  # (B,), (B, S)


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """WGAN-GP: mean over the batch of (||grad_x D(x_hat)||_2 - 1)^2 at x_hat = alpha real + (1 - alpha) fake.

    ``alpha`` is (B, 1), drawn by the caller so that tests can fix it. Not yet scaled by lambda.
    """
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores, _ = critic(interpolates)
    (grads,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
    return ((grads.norm(2, dim=1) - 1) ** 2).mean()


def pivot_loss(fake: torch.Tensor, labels: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Visual-pivot regulariser: distance of each class's mean generated feature to its real centroid.

    fake (B, D), labels (B,) in [0, S), centroids (S, D). Summed over the classes
    present in the batch and divided by S, as the original code does. A class with
    a single sample contributes the distance of that sample (the original code's
    ``squeeze`` turned such a sample into a scalar mean; we do not repeat that).
    """
    total = fake.new_zeros(())
    for c in torch.unique(labels):
        class_mean = fake[labels == c].mean(dim=0)
        total = total + (class_mean - centroids[c]).pow(2).sum().sqrt()
    return total / centroids.shape[0]


def aux_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(dim=1) == labels).float().mean()


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean entropy of softmax(logits), used by the creativity (CIZSL) term."""
    logp = F.log_softmax(logits, dim=1)
    return -(logp.exp() * logp).sum(dim=1).mean()
