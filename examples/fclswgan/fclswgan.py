"""f-CLSWGAN (Xian, Lorenz, Schiele and Akata, "Feature Generating Networks for Zero-Shot Learning", CVPR 2018) as a
gazsl method plugin, written against the plugin interface alone (docs/own-method.md): nothing of gazsl but
``gazsl.scoring.estimator.Params`` (scikit-learn's get_params / set_params) is used.

A conditional WGAN-GP generates visual features from a class's vector (its text, here): generator G(z, t) and critic
D(x, t) are MLPs with one hidden layer (LeakyReLU 0.2; G's output ReLU, as features after min-max scaling are in
[0, 1]); the critic's loss is Wasserstein's with a gradient penalty (lambda 10), and the generator's adds
``cls_weight`` times the negative log-likelihood of its features under a softmax classifier pre-trained on the real
features of the seen classes. To classify, a softmax is trained on ``synthetic_per_class`` generated features of each
candidate class (ZSL); for GZSL (``gzsl_scores``), on the real training features of the candidates that are seen
classes (rows of the fitted ``text_seen``) and generated features of the others.

    python -m gazsl benchmark --design DESIGN cell ...   # with "methods": {"fclswgan": "fclswgan:FCLSWGAN"}
    PYTHONPATH=examples/fclswgan                          # the folder that holds this module

Defaults are the paper's CUB settings (its code's run script: lr 1e-4, Adam beta1 0.5, batch 64, 5 critic steps,
lambda 10, cls_weight 0.01, 300 synthetic features per class, noise of 312 dimensions, min-max scaled features; the
classifiers: lr 1e-3, beta1 0.5, 50 epochs of pre-training, 25 epochs of the final softmax) except, for a CPU:
``hidden`` 1024 instead of 4096 units, ``epochs`` 40 instead of 56 passes over the seen training features, and
``text_basis`` "seen": class vectors enter G and D as coordinates in an orthonormal basis of the seen classes' vectors
(at most one dimension per seen class instead of thousands of TF-IDF terms; see README.md beside this file).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gazsl.scoring.estimator import Params

__version__ = "1.2.0"


def _mlp(inputs: int, hidden: int, outputs: int, out_activation: nn.Module | None) -> nn.Sequential:
    layers = [nn.Linear(inputs, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, outputs)]
    net = nn.Sequential(*layers, *([out_activation] if out_activation is not None else []))
    for layer in net:
        if isinstance(layer, nn.Linear):  # the paper's code: N(0, 0.02) weights, zero biases
            nn.init.normal_(layer.weight, 0.0, 0.02)
            nn.init.zeros_(layer.bias)
    return net


def _softmax(X: torch.Tensor, y: torch.Tensor, n_classes: int, epochs: int, generator: torch.Generator,
             lr: float = 1e-3, batch: int = 64) -> nn.Linear:
    """A linear softmax classifier trained with Adam (beta1 0.5) for ``epochs`` passes, as the paper's CLASSIFIER."""
    model = nn.Linear(X.shape[1], n_classes)
    with torch.no_grad():
        model.weight.normal_(0.0, 0.02, generator=generator)
        model.bias.zero_()
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.5, 0.999))
    loss = nn.CrossEntropyLoss()
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch):
            idx = order[start:start + batch]
            opt.zero_grad()
            loss(model(X[idx]), y[idx]).backward()
            opt.step()
    return model


class FCLSWGAN(Params):
    """f-CLSWGAN: fit(text_seen, X, y) trains the feature generator; scores(text, X) are a softmax's log-probabilities
    over the rows of ``text``, trained on generated features (and, in ``gzsl_scores``, real ones of seen classes)."""

    # chosen on validation classes by the honest protocol: the classification loss's weight, which the paper tunes
    param_grid = {"cls_weight": [0.01, 0.1]}

    def __init__(self, cls_weight: float = 0.01, hidden: int = 1024, noise_dim: int = 312, epochs: int = 40,
                 critic_steps: int = 5, gp_weight: float = 10.0, lr: float = 1e-4, batch_size: int = 64,
                 synthetic_per_class: int = 300, pretrain_epochs: int = 50, classifier_epochs: int = 25,
                 text_basis: str = "seen", random_state: int = 0):
        self.cls_weight = cls_weight
        self.hidden = hidden
        self.noise_dim = noise_dim
        self.epochs = epochs
        self.critic_steps = critic_steps
        self.gp_weight = gp_weight
        self.lr = lr
        self.batch_size = batch_size
        self.synthetic_per_class = synthetic_per_class
        self.pretrain_epochs = pretrain_epochs
        self.classifier_epochs = classifier_epochs
        self.text_basis = text_basis
        self.random_state = random_state

    # ------------------------------------------------------------------ training
    def _scale(self, X) -> torch.Tensor:
        """Min-max scaling fitted on the training features (the paper's --preprocessing), clipped to [0, 1]."""
        X = torch.as_tensor(np.asarray(X, dtype=np.float32))
        return ((X - self.feature_min_) / self.feature_range_).clamp(0.0, 1.0)

    @staticmethod
    def _unit(text) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(text, dtype=np.float32))
        return t / t.norm(dim=1, keepdim=True).clamp_min(1e-12)  # class vectors of unit length

    def _text(self, text) -> torch.Tensor:
        """(C, T) class vectors as the networks take them: of unit length, in ``text_basis_`` coordinates (C, r)."""
        units = self._unit(text)
        return units if self.text_basis_ is None else units @ self.text_basis_

    def fit(self, text_seen, X, y) -> "FCLSWGAN":
        for _ in self.staged_fit(text_seen, X, y):
            pass
        return self

    def staged_fit(self, text_seen, X, y):
        """``fit``, yielding the number of epochs done after each: between yields the model scores as if fitted for
        that many epochs (development curves in one training, e.g. experiments/fclswgan_development.py)."""
        if self.text_basis not in ("seen", "full"):
            raise ValueError(f"text_basis must be 'seen' or 'full', got {self.text_basis!r}")
        text, X, y = np.asarray(text_seen, dtype=np.float32), np.asarray(X, dtype=np.float32), np.asarray(y)
        if text.ndim != 2 or X.ndim != 2 or y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"expected text (S, T), features (N, D) and integer labels (N,); got {text.shape}, "
                             f"{X.shape}, {y.shape} {y.dtype}")
        if y.min() < 0 or y.max() >= len(text):
            raise ValueError(f"labels must index the {len(text)} rows of text_seen")
        torch.manual_seed(self.random_state)
        generator = torch.Generator().manual_seed(self.random_state)
        self.feature_min_ = torch.as_tensor(X.min(axis=0))
        self.feature_range_ = torch.as_tensor(np.maximum(X.max(axis=0) - X.min(axis=0), 1e-8))
        # a linear first layer learns from seen classes only along their vectors' span, so "seen" keeps that span's
        # coordinates (r <= S) and drops the rest of a new class's vector, which would meet only random weights
        self.text_basis_ = torch.linalg.qr(self._unit(text).T).Q if self.text_basis == "seen" else None  # (T, r)
        features, labels, classes = self._scale(X), torch.as_tensor(y, dtype=torch.long), self._text(text)
        self.text_seen_ = text
        self.seen_features_, self.seen_labels_ = features, labels
        self.n_text_dims_, self.n_features_in_ = text.shape[1], X.shape[1]

        classifier = _softmax(features, labels, len(text), self.pretrain_epochs, generator)  # fixed from here on
        classifier.requires_grad_(False)
        self.generator_ = _mlp(self.noise_dim + classes.shape[1], self.hidden, X.shape[1], nn.ReLU())
        critic = _mlp(X.shape[1] + classes.shape[1], self.hidden, 1, None)
        opt_g = torch.optim.Adam(self.generator_.parameters(), lr=self.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(critic.parameters(), lr=self.lr, betas=(0.5, 0.999))
        nll = nn.CrossEntropyLoss()
        n, batch = len(features), min(self.batch_size, len(features))

        def sample() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            idx = torch.randint(n, (batch,), generator=generator)
            return features[idx], classes[labels[idx]], labels[idx]

        def noise() -> torch.Tensor:
            return torch.randn(batch, self.noise_dim, generator=generator)

        steps_per_epoch = max(1, n // batch)
        for step in range(1, self.epochs * steps_per_epoch + 1):
            for _ in range(self.critic_steps):
                real, t, _ = sample()
                fake = self.generator_(torch.cat([noise(), t], 1)).detach()
                mix = torch.rand(batch, 1, generator=generator)
                between = (mix * real + (1 - mix) * fake).requires_grad_(True)
                grad, = torch.autograd.grad(critic(torch.cat([between, t], 1)).sum(), between, create_graph=True)
                penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
                loss_d = (critic(torch.cat([fake, t], 1)).mean() - critic(torch.cat([real, t], 1)).mean()
                          + self.gp_weight * penalty)
                opt_d.zero_grad()
                loss_d.backward()
                opt_d.step()
            _, t, target = sample()
            fake = self.generator_(torch.cat([noise(), t], 1))
            loss_g = -critic(torch.cat([fake, t], 1)).mean() + self.cls_weight * nll(classifier(fake), target)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            if step % steps_per_epoch == 0:
                yield step // steps_per_epoch
        self.generator_.requires_grad_(False)

    # ------------------------------------------------------------------ classifying
    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_"):
            raise ValueError("this FCLSWGAN is not fitted yet; call fit first")

    def _classify(self, text, X, real_seen: bool) -> np.ndarray:
        """(M, C) log-probabilities of a softmax over the rows of ``text``, trained on generated features of each
        (with ``real_seen``: the real training features of those that are seen classes instead)."""
        self._check_fitted()
        text = np.asarray(text, dtype=np.float32)
        # the same candidates give the same classifier, however often and after a save and load
        generator = torch.Generator().manual_seed(self.random_state + 1)
        seen_row = {row.tobytes(): i for i, row in enumerate(self.text_seen_)}
        classes = self._text(text)
        parts_x, parts_y = [], []
        for c, row in enumerate(text):
            seen = seen_row.get(row.tobytes()) if real_seen else None
            if seen is not None:
                real = self.seen_features_[self.seen_labels_ == seen]
                parts_x.append(real)
                parts_y.append(torch.full((len(real),), c))
            else:
                z = torch.randn(self.synthetic_per_class, self.noise_dim, generator=generator)
                with torch.no_grad():  # also between the epochs of staged_fit, while the generator still learns
                    parts_x.append(self.generator_(torch.cat([z, classes[c].expand(len(z), -1)], 1)))
                parts_y.append(torch.full((len(z),), c))
        softmax = _softmax(torch.cat(parts_x), torch.cat(parts_y), len(text), self.classifier_epochs, generator)
        with torch.no_grad():
            return torch.log_softmax(softmax(self._scale(X)), dim=1).double().numpy()

    def scores(self, text, X) -> np.ndarray:
        return self._classify(text, X, real_seen=False)

    def gzsl_scores(self, text, X) -> np.ndarray:
        return self._classify(text, X, real_seen=True)

    # ------------------------------------------------------------------ saved models
    def save(self, path) -> None:
        """Settings and what fit learned, in one file that ``load`` reads (torch.save of tensors and numbers)."""
        self._check_fitted()
        buffer = io.BytesIO()
        torch.save({"params": self.get_params(deep=False), "generator": self.generator_.state_dict(),
                    "text_seen": torch.as_tensor(self.text_seen_), "seen_features": self.seen_features_,
                    "seen_labels": self.seen_labels_, "feature_min": self.feature_min_,
                    "feature_range": self.feature_range_, "text_basis": self.text_basis_}, buffer)
        Path(path).write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path) -> "FCLSWGAN":
        state = torch.load(path, weights_only=True)
        model = cls(**state["params"])
        model.text_seen_ = state["text_seen"].numpy()
        model.seen_features_, model.seen_labels_ = state["seen_features"], state["seen_labels"]
        model.feature_min_, model.feature_range_ = state["feature_min"], state["feature_range"]
        model.text_basis_ = state["text_basis"]
        model.n_text_dims_, model.n_features_in_ = model.text_seen_.shape[1], model.seen_features_.shape[1]
        conditions = model.n_text_dims_ if model.text_basis_ is None else model.text_basis_.shape[1]
        model.generator_ = _mlp(model.noise_dim + conditions, model.hidden, model.n_features_in_, nn.ReLU())
        model.generator_.load_state_dict(state["generator"])
        model.generator_.requires_grad_(False)
        return model
