"""Paired comparisons of two methods over the same cross-validation folds, with an interval for the class draw.

The folds of a cross-validation over classes are not independent draws: any two share most of their seen
(training) classes, so their differences are positively correlated and the naive t interval over folds is too
narrow. The corrected resampled t interval (Nadeau and Bengio 2003, "Inference for the generalization error";
Bouckaert and Frank 2004 for repeated k-fold) inflates the variance of the mean by that overlap:

    mean(d) +- t(J - 1, 0.975) * sqrt((1 / J + n_test / n_train) * var(d))

over the J = folds x repeats paired differences d, with n_test / n_train the share of unseen to seen classes of a
fold. It answers "would this gap hold on another draw of classes", the question a benchmark of 100 classes asks;
a std over seeds of one split does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Paired:
    """What one method gains over another on the same folds: mean difference, its 95 % interval, wins and losses."""

    mean: float
    low: float
    high: float
    wins: int  # folds where the first method is ahead
    losses: int
    ties: int
    n: int  # folds

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def to_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "half_width": self.half_width,
                "wins": self.wins, "losses": self.losses, "ties": self.ties, "folds": self.n}


def folds_test_to_train(folds) -> float:
    """n_test / n_train of folds given as (n_unseen, n_seen) class counts, their mean (family folds differ in size)."""
    return float(np.mean([unseen / seen for unseen, seen in folds]))


def corrected_interval(differences, test_to_train: float, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the corrected resampled t interval over ``differences`` (J,) of J >= 2 folds.

    ``test_to_train`` is n_test / n_train of a fold (0 gives the plain t interval of independent draws).
    """
    from scipy.stats import t

    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or len(d) < 2:
        raise ValueError(f"a paired interval needs at least 2 folds, got {d.shape}")
    mean = float(d.mean())
    half = float(t.ppf(0.5 + level / 2, len(d) - 1) * np.sqrt((1 / len(d) + test_to_train) * d.var(ddof=1)))
    return mean, mean - half, mean + half


def paired(a, b, test_to_train: float) -> Paired:
    """Method a minus method b over the same folds ((J,) figures each, e.g. top-1 per fold averaged over seeds)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired figures must come from the same folds: shapes {a.shape} and {b.shape}")
    d = a - b
    mean, low, high = corrected_interval(d, test_to_train)
    return Paired(mean, low, high, int((d > 0).sum()), int((d < 0).sum()), int((d == 0).sum()), len(d))
