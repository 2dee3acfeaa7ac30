"""Classifiers on synthetic features and the ZSL / GZSL metrics.

ZSL:  classify test images of unseen classes among the unseen classes only,
      top-1 per sample (the paper's figure) and mean per class.
GZSL: classify test images of seen and unseen classes among all classes. A
      calibration constant added to unseen-class scores trades seen for unseen
      accuracy (Chao et al., 2016); the area under that seen-unseen curve is
      AUSUC, and H is the harmonic mean of the two at one chosen constant.
      The honest protocol takes mean per-class accuracies on the exact curve
      (gzsl_exact_curve, gzsl_at); the paper protocol per-sample accuracies on
      the authors' grid of constants (paper_gzsl_curve).

Precision: generating the test-time features and scoring them run in float32
(autocast off), whatever precision training used (gazsl.generator.precision). Measured on
aviary_easy (cpu preset, a GAN trained 300 iterations in bf16, one seed):
scoring in bf16 moved kNN top-1 from 48.1 to 45.7 %, pivot from 46.2 to
41.2 %, softmax from 40.8 to 3.9 % and the GZSL AUSUC from 26.5 to 17.4 %: the
cosines of one image to the classes lie closer together than bf16's 8-bit
mantissa resolves, so the top-k ranks and the calibration sweep change.
Generating in bf16 moved each figure by 0.05 to 0.1 points and saves nothing
that shows (a few milliseconds per evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def _float32(device: torch.device):
    """Autocast off: evaluation figures change in bf16 (module docstring)."""
    return torch.autocast(device.type, enabled=False)


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T  # (M, G)


def knn_votes(test: torch.Tensor, train: torch.Tensor, train_labels: torch.Tensor, n_classes: int, k: int,
              chunk: int = 4096) -> torch.Tensor:
    """Share of the k cosine-nearest synthetic features that belong to each class: (M, C)."""
    k = min(k, len(train))
    votes = []
    for start in range(0, len(test), chunk):
        nearest = cosine(test[start:start + chunk], train).topk(k, dim=1).indices  # (m, k)
        counts = torch.zeros(len(nearest), n_classes, device=test.device)
        counts.scatter_add_(1, train_labels[nearest], torch.ones_like(nearest, dtype=counts.dtype))
        votes.append(counts / k)
    return torch.cat(votes)


def class_means(x: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Mean row of ``x`` (N, D) per label in [0, n_classes): (n_classes, D), zeros for an absent class."""
    sums = torch.zeros(n_classes, x.shape[1], device=x.device, dtype=x.dtype).index_add_(0, labels, x)
    return sums / torch.bincount(labels, minlength=n_classes).clamp(min=1)[:, None].to(x.dtype)


def pivot_scores(test: torch.Tensor, train: torch.Tensor, train_labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Cosine similarity to each class's visual pivot (mean synthetic feature): (M, C)."""
    return cosine(test, class_means(train, train_labels, n_classes))


def softmax_scores(test: torch.Tensor, train: torch.Tensor, train_labels: torch.Tensor, n_classes: int,
                   seed: int, epochs: int = 30, lr: float = 1e-3, batch_size: int = 256) -> torch.Tensor:
    """Log-probabilities of a linear softmax classifier trained on synthetic features (f-CLSWGAN style)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.enable_grad():
        layer = torch.nn.Linear(train.shape[1], n_classes).to(train.device)
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
        optimiser = torch.optim.Adam(layer.parameters(), lr=lr, betas=(0.5, 0.999))
        for _ in range(epochs):
            order = torch.randperm(len(train), generator=generator).to(train.device)
            for start in range(0, len(train), batch_size):
                idx = order[start:start + batch_size]
                optimiser.zero_grad(set_to_none=True)
                F.cross_entropy(layer(train[idx]), train_labels[idx]).backward()
                optimiser.step()
    with torch.no_grad():
        return F.log_softmax(layer(test), dim=1)


def class_scores(classifier: str, test, train, train_labels, n_classes: int, k: int, seed: int) -> torch.Tensor:
    with _float32(test.device):
        if classifier == "knn":
            return knn_votes(test, train, train_labels, n_classes, k)
        if classifier == "pivot":
            return pivot_scores(test, train, train_labels, n_classes)
        if classifier == "softmax":
            return softmax_scores(test, train, train_labels, n_classes, seed)
    raise ValueError(f"unknown classifier {classifier!r}")


def fused(generated: np.ndarray, regression: np.ndarray, weight: float) -> np.ndarray:
    """(M, C) ``weight`` times the generated-feature scores plus ``1 - weight`` times a regression's, each
    standardised per image (zero mean, unit spread over the C classes), so that neither scale dominates."""
    def standardised(scores):
        scores = np.asarray(scores, dtype=np.float64)
        spread = scores.std(axis=1, keepdims=True)
        return (scores - scores.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0)

    return (weight * standardised(generated) + (1 - weight) * standardised(regression)).astype(np.float32)


def top1(predictions: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(per-sample accuracy, mean per-class accuracy), both in percent."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    correct = predictions == labels
    per_class = [correct[labels == c].mean() for c in np.unique(labels)]
    return 100.0 * correct.mean(), 100.0 * float(np.mean(per_class))


def per_class_accuracy(correct: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the classes present in ``labels`` of the share of correct samples (0..1)."""
    return float(np.mean([correct[labels == c].mean() for c in np.unique(labels)])) if len(labels) else 0.0


@dataclass
class GzslCurve:
    calibration: np.ndarray  # (P,) constants added to unseen scores
    seen: np.ndarray  # (P,) accuracy on seen test images, 0..1 (per class: honest protocol; per sample: paper)
    unseen: np.ndarray  # (P,) accuracy on unseen test images, 0..1 (likewise)

    def ausuc(self) -> float:
        """Area under the seen-unseen curve: the trapezoid rule over its points, ordered by unseen accuracy.

        Raising the constant never lowers unseen accuracy nor raises seen accuracy, so
        this order is the sweep order, and the area the authors' trapz over their sweep.
        """
        order = np.lexsort((-self.seen, self.unseen))
        return float(np.trapezoid(self.seen[order], self.unseen[order]))


def gzsl_predict(scores: np.ndarray, unseen_mask: np.ndarray, calibration: float) -> np.ndarray:
    return np.argmax(scores + calibration * unseen_mask[None, :], axis=1)


# The authors' sweep of the constant added to unseen-class scores: -2 to 1.99 in steps of 0.01 (400 points, +2 excluded).
PAPER_CALIBRATIONS = np.arange(-2, 2, 0.01)


def paper_gzsl_curve(scores: np.ndarray, labels: np.ndarray, unseen_mask: np.ndarray) -> GzslCurve:
    """The seen-unseen curve of the paper protocol, as the authors' evaluation computes it.

    Per-sample accuracies (the share of seen, resp. unseen, test images classified
    right among all classes) at each constant of ``PAPER_CALIBRATIONS``, in sweep
    order. scores (M, C) over all classes, labels (M,) in [0, C), unseen_mask (C,) bool.
    """
    is_unseen_sample = unseen_mask[labels]
    seen, unseen = [], []
    for gamma in PAPER_CALIBRATIONS:
        correct = gzsl_predict(scores, unseen_mask.astype(scores.dtype), gamma) == labels
        seen.append(correct[~is_unseen_sample].mean())
        unseen.append(correct[is_unseen_sample].mean())
    return GzslCurve(PAPER_CALIBRATIONS.copy(), np.array(seen), np.array(unseen))


def gzsl_exact_curve(scores: np.ndarray, labels: np.ndarray, unseen_mask: np.ndarray) -> GzslCurve:
    """Every point of the seen-unseen curve, found by sorting score gaps (no grid).

    With constant g added to unseen scores a sample is given its best unseen class
    exactly when g > gap = best seen score - best unseen score, so the curve
    changes only at the sorted gaps; between them it is constant.
    """
    unseen_mask = unseen_mask.astype(bool)
    best_seen = np.where(unseen_mask[None, :], -np.inf, scores).max(axis=1)
    best_unseen = np.where(unseen_mask[None, :], scores, -np.inf).max(axis=1)
    seen_right = np.where(unseen_mask[None, :], -np.inf, scores).argmax(axis=1) == labels
    unseen_right = np.where(unseen_mask[None, :], scores, -np.inf).argmax(axis=1) == labels
    gaps = best_seen - best_unseen  # (M,)
    is_unseen_sample = unseen_mask[labels]
    # Each sample's weight in its side's mean per-class accuracy.
    class_counts = np.bincount(labels, minlength=len(unseen_mask))
    n_seen_classes = len(np.unique(labels[~is_unseen_sample])) or 1
    n_unseen_classes = len(np.unique(labels[is_unseen_sample])) or 1
    weight = 1.0 / (class_counts[labels] * np.where(is_unseen_sample, n_unseen_classes, n_seen_classes))

    order = np.argsort(gaps, kind="stable")
    seen_acc = float(np.sum(weight * (~is_unseen_sample & seen_right)))  # g = -inf: all predicted seen
    unseen_acc = 0.0
    calibration, seen, unseen = [-np.inf], [seen_acc], [unseen_acc]
    for i in order:  # raising g past gaps[i] flips sample i to its best unseen class
        if is_unseen_sample[i]:
            unseen_acc += weight[i] * unseen_right[i]
        else:
            seen_acc -= weight[i] * seen_right[i]
        calibration.append(gaps[i])
        seen.append(seen_acc)
        unseen.append(unseen_acc)
    return GzslCurve(np.array(calibration), np.clip(seen, 0, 1), np.clip(unseen, 0, 1))


def harmonic_mean(seen: float, unseen: float) -> float:
    return 0.0 if seen + unseen == 0 else 2 * seen * unseen / (seen + unseen)


def best_calibration(curve: GzslCurve) -> float:
    """The constant that maximises H on this curve (used on validation data only)."""
    h = [harmonic_mean(s, u) for s, u in zip(curve.seen, curve.unseen)]
    i = int(np.argmax(h))
    gamma = curve.calibration[i]
    if not np.isfinite(gamma):  # the g = -inf point: any constant below every gap
        gamma = float(curve.calibration[1]) - 1.0 if len(curve.calibration) > 1 else 0.0
    elif i + 1 < len(curve.calibration):  # the flip happens strictly above the gap: take the midpoint
        gamma = (gamma + curve.calibration[i + 1]) / 2
    else:
        gamma = gamma + 1.0
    return float(gamma)


def gzsl_at(scores: np.ndarray, labels: np.ndarray, unseen_mask: np.ndarray, calibration: float) -> tuple[float, float, float]:
    """(seen, unseen, H) mean per-class accuracies in percent at one calibration constant."""
    correct = gzsl_predict(scores, unseen_mask.astype(scores.dtype), calibration) == labels
    is_unseen_sample = unseen_mask[labels]
    s = per_class_accuracy(correct[~is_unseen_sample], labels[~is_unseen_sample])
    u = per_class_accuracy(correct[is_unseen_sample], labels[is_unseen_sample])
    return 100 * s, 100 * u, 100 * harmonic_mean(s, u)


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """(M, C) probabilities among the C classes of each row: exp(score / temperature), normalised; float64."""
    scaled = np.asarray(scores, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)  # exp of at most 0: no overflow
    weights = np.exp(scaled)
    return weights / weights.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, labels: np.ndarray, sharpest: float = 1e-12, flattest: float = 1e6) -> float:
    """The temperature T that makes softmax(scores / T) most likely to give ``labels`` (M,) their own class: the T
    minimising the mean negative log-likelihood of the true classes (used on validation classes only).

    The negative log-likelihood is convex in b = 1 / T: its slope is the mean over images of (expected score - the
    true class's score) and its curvature the mean variance of the scores under the softmax, so Newton's method,
    kept inside a bracket of the root of the slope, finds b in a few steps. T is kept between ``sharpest`` and
    ``flattest`` times the scores' spread (their mean standard deviation over the classes), so that it is a finite
    number: scores whose true class scores no better than the average class get the flattest (every class as
    likely, to six digits), scores that separate every image's class from the others the sharpest.
    """
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores - scores.max(axis=1, keepdims=True)
    true = scores[np.arange(len(scores)), np.asarray(labels)]
    spread = float(scores.std(axis=1).mean())
    if spread == 0:  # every class scores alike in every row: every temperature gives the same probabilities
        return 1.0
    if np.mean(scores.mean(axis=1) - true) >= 0:  # the slope at b = 0: sharper only lowers the likelihood
        return flattest * spread

    def slope_and_curvature(b: float) -> tuple[float, float]:
        p = softmax(scores, 1.0 / b)
        expected = (p * scores).sum(axis=1)
        return float(np.mean(expected - true)), float(np.mean((p * scores ** 2).sum(axis=1) - expected ** 2))

    low, high, b = 0.0, np.inf, 1.0 / spread
    for _ in range(200):
        slope, curvature = slope_and_curvature(b)
        if slope < 0:
            low = b
        else:
            high = b
        if abs(slope) <= 1e-9 * spread or high - low <= 1e-9 * b:
            break
        step = b - slope / curvature if curvature > 0 else np.inf
        b = step if low < step < high else (2 * low if high == np.inf else (low + high) / 2)
        if b * spread > 1 / sharpest:
            return sharpest * spread
    return float(min(1.0 / b, flattest * spread))
