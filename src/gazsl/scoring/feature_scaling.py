"""Image-feature scaling, one vocabulary for every model: ``feature_norm`` names the same transform in GAZSL's
config and in each baseline, and its statistics are fitted on the training features only.

    none      the features as they are
    l2        each row to unit length (nothing is fitted, and a length lost cannot be given back: not invertible)
    zscore    per dimension, (x - mean) / std; a constant dimension (common for ReLU features) is left unscaled
    mean_var  (x - mean) / var with one scalar mean and variance over every value, as GAZSL's original code
    minmax    each dimension mapped to [-1, 1], the range of GAZSL's Tanh output

    scaling = FeatureScaling.fit("zscore", X_train)  # X_train (N, D)
    Z = scaling(X)                                    # (M, D), in X's dtype
    X_again = scaling.inverse(Z)                      # GAZSL's generated features, back in the features' own scale
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gazsl.io import GazslError

FEATURE_NORMS = ("none", "l2", "zscore", "mean_var", "minmax")
INVERTIBLE = tuple(kind for kind in FEATURE_NORMS if kind != "l2")


@dataclass
class FeatureScaling:
    kind: str
    shift: float | np.ndarray = 0.0  # mean_var: a Python float, so that numpy computes x - shift in x's precision
    scale: float | np.ndarray = 1.0

    @classmethod
    def fit(cls, kind: str, train: np.ndarray) -> "FeatureScaling":
        if kind in ("none", "l2"):
            return cls(kind)
        if kind == "zscore":
            std = train.std(axis=0)
            return cls(kind, train.mean(axis=0), np.where(std > 1e-12, std, 1.0))
        if kind == "mean_var":
            return cls(kind, float(train.mean()), float(train.var()))
        if kind == "minmax":
            lo, hi = train.min(axis=0), train.max(axis=0)
            return cls(kind, (hi + lo) / 2, np.maximum((hi - lo) / 2, 1e-8))
        raise GazslError(f"feature_norm must be one of {', '.join(map(repr, FEATURE_NORMS))}, got {kind!r}")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "none":
            return x
        if self.kind == "l2":
            return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return ((x - self.shift) / self.scale).astype(x.dtype, copy=False)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "l2":
            raise GazslError("feature_norm 'l2' cannot be undone: the rows' lengths are not kept")
        return (x * self.scale + self.shift).astype(x.dtype, copy=False)
