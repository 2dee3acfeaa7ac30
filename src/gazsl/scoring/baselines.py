"""Classic zero-shot baselines: closed form or tiny, on the same features and text vectors.

* ``ESZSL``: Romera-Paredes & Torr, "An embarrassingly simple approach to
  zero-shot learning", ICML 2015. A bilinear compatibility x^T V s fitted in
  closed form.
* ``PrototypeRegression``: ridge regression from a class's text vector to the
  mean feature of its images; classify by cosine to the predicted prototypes.
* ``WACLinear``: Elhoseiny et al., "Write a Classifier", ICCV 2013, linear
  version: a linear map from text to the weights of a classifier, trained with a
  softmax (or squared hinge) loss on the seen classes.

All three share GAZSL's interface (``gazsl.scoring.estimator``, scikit-learn style)::

    model = ESZSL().fit(text_seen, features, labels)  # (S, T), (N, D), (N,) in [0, S)
    scores = model.scores(text, features_test)        # (M, C) for C candidate classes
    pred = model.predict(text, features_test)         # (M,) indices into text's rows

Features can be preprocessed (``feature_norm``, ``gazsl.scoring.feature_scaling``): "none", "l2" (each row
to unit length), "zscore" (per-dimension mean and standard deviation of the training features), or GAZSL's
"mean_var" and "minmax". The statistics are fitted on the training features only; the grids search the first three.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.linalg

from gazsl.scoring.estimator import ZeroShotEstimator
from gazsl.scoring.feature_scaling import FEATURE_NORMS, FeatureScaling
from gazsl.io import GazslError

GRID_FEATURE_NORMS = ("none", "l2", "zscore")  # what the baselines' grids search: the scalings made for them
SOLVERS = ("auto", "direct", "woodbury")


# ------------------------------------------------------------------ helpers
def ridge_solve(A: np.ndarray, B: np.ndarray, alpha: float, solver: str = "auto") -> np.ndarray:
    """(A^T A + alpha I)^-1 A^T B for A (n, p), B (n, k) -> (p, k), in float64.

    "direct" solves the (p, p) system as written; "woodbury" uses the
    push-through identity A^T (A A^T + alpha I)^-1 B, an (n, n) system;
    "auto" picks the smaller one. Both are Cholesky solves (alpha > 0).
    """
    n, p = A.shape
    if solver == "auto":
        solver = "woodbury" if n < p else "direct"
    if solver == "direct":
        gram = A.T @ A  # (p, p)
        gram[np.diag_indices_from(gram)] += alpha
        return scipy.linalg.solve(gram, A.T @ B, assume_a="pos")
    gram = A @ A.T  # (n, n)
    gram[np.diag_indices_from(gram)] += alpha
    return A.T @ scipy.linalg.solve(gram, B, assume_a="pos")


def _check_positive(where: str, **params) -> None:
    for name, value in params.items():
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise GazslError(f"{where}: {name} must be a positive number, got {value!r}")


def _check_choice(where: str, name: str, value, choices) -> None:
    if value not in choices:
        raise GazslError(f"{where}: {name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


class _Baseline(ZeroShotEstimator):
    """Feature preprocessing shared by the baselines."""

    feature_norm: str

    def _validate_fit(self, text_seen, features, labels):
        _check_choice(f"{type(self).__name__}.fit", "feature_norm", self.feature_norm, FEATURE_NORMS)
        return super()._validate_fit(text_seen, features, labels)

    def _fit_preprocessing(self, X: np.ndarray) -> np.ndarray:
        self.n_features_in_ = X.shape[1]
        self.feature_scaling_ = FeatureScaling.fit(self.feature_norm, X)
        return self.feature_scaling_(X)


# ------------------------------------------------------------------ ESZSL
class ESZSL(_Baseline):
    """Embarrassingly simple ZSL: score(x, s) = x^T V s with V in closed form.

    With X (N, D) features, Y (N, S) targets and Sm (T, S) the seen classes'
    text vectors as columns, the objective

        ||X V Sm - Y||^2 + gamma ||V Sm||^2 + lam ||X V||^2 + gamma lam ||V||^2

    is minimised by V = (X^T X + gamma I)^-1 X^T Y Sm^T (Sm Sm^T + lam I)^-1.
    Both inverses are ridge solves; ``solver`` picks the form of each ("auto":
    the smaller system, e.g. (S, S) instead of (T, T) for TF-IDF text).

    targets: "zero_one" (Y = one-hot) or "plus_minus_one" (the paper's
    2 * one-hot - 1). On raw non-negative CNN features the constant -1 part of
    the targets dominates and "plus_minus_one" collapses (cub100, TF-IDF: 1-4
    of 23 classes ever predicted); on centred features ("zscore") X^T 1 = 0 and
    both give the same ranking.
    """

    def __init__(self, lam: float = 1.0, gamma: float = 1.0, targets: str = "zero_one",
                 feature_norm: str = "none", solver: str = "auto"):
        self.lam = lam
        self.gamma = gamma
        self.targets = targets
        self.feature_norm = feature_norm
        self.solver = solver

    def _check_params(self) -> None:
        where = "ESZSL.fit"
        _check_positive(where, lam=self.lam, gamma=self.gamma)
        _check_choice(where, "targets", self.targets, ("zero_one", "plus_minus_one"))
        _check_choice(where, "solver", self.solver, SOLVERS)

    def fit(self, text_seen, features, labels) -> "ESZSL":
        text, X, y = self._validate_fit(text_seen, features, labels)
        X = self._fit_preprocessing(X)  # (N, D)
        n_seen = text.shape[0]
        Y = np.eye(n_seen)[y]  # (N, S)
        if self.targets == "plus_minus_one":
            Y = 2.0 * Y - 1.0
        left = ridge_solve(X, Y, self.gamma, self.solver)  # (D, S) = (X^T X + gamma I)^-1 X^T Y
        # Sm^T (Sm Sm^T + lam I)^-1 = [(Sm Sm^T + lam I)^-1 Sm]^T, a ridge solve with A = Sm^T = text
        right = ridge_solve(text, np.eye(n_seen), self.lam, self.solver).T  # (S, T)
        self.V_ = left @ right  # (D, T)
        self.n_text_dims_ = text.shape[1]
        return self

    def scores(self, text, features) -> np.ndarray:
        text, X = self._validate_scores(text, features)
        return self.feature_scaling_(X) @ (self.V_ @ text.T)  # (M, C); (V s) first: C << M, T


# ------------------------------------------------------------------ text -> prototype
class PrototypeRegression(_Baseline):
    """Ridge regression text -> mean feature of a class; nearest prototype by cosine.

    W = argmin ||Sm W + 1 b - P||^2 + alpha ||W||^2 with Sm (S', T) the text
    of the seen classes that have training images and P (S', D) their mean
    (preprocessed) features. An unseen class's prototype is t W + b. The
    intercept b is not penalised (``fit_intercept=False`` drops it): features
    are not centred, so a prototype is mostly their common mean, which text
    alone cannot produce.
    """

    def __init__(self, alpha: float = 1.0, fit_intercept: bool = True, feature_norm: str = "none",
                 solver: str = "auto"):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.feature_norm = feature_norm
        self.solver = solver

    def _check_params(self) -> None:
        _check_positive("PrototypeRegression.fit", alpha=self.alpha)
        _check_choice("PrototypeRegression.fit", "solver", self.solver, SOLVERS)

    def fit(self, text_seen, features, labels) -> "PrototypeRegression":
        text, X, y = self._validate_fit(text_seen, features, labels)
        X = self._fit_preprocessing(X)
        present = np.unique(y)  # classes without images have no prototype to regress onto
        counts = np.bincount(y, minlength=text.shape[0])[present]
        prototypes = np.zeros((text.shape[0], X.shape[1]))
        np.add.at(prototypes, y, X)
        prototypes = prototypes[present] / counts[:, None]  # (S', D)
        text = text[present]
        text_mean = text.mean(axis=0) if self.fit_intercept else np.zeros(text.shape[1])
        proto_mean = prototypes.mean(axis=0) if self.fit_intercept else np.zeros(prototypes.shape[1])
        self.W_ = ridge_solve(text - text_mean, prototypes - proto_mean, self.alpha, self.solver)  # (T, D)
        self.intercept_ = proto_mean - text_mean @ self.W_  # (D,)
        self.n_text_dims_ = text.shape[1]
        return self

    def prototypes(self, text) -> np.ndarray:
        """(C, D) predicted mean feature of each class, in the preprocessed feature space."""
        return self._validate_text(text, "PrototypeRegression.prototypes") @ self.W_ + self.intercept_

    def scores(self, text, features) -> np.ndarray:
        text, X = self._validate_scores(text, features)
        P = text @ self.W_ + self.intercept_  # (C, D)
        X = self.feature_scaling_(X)
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        P = P / np.maximum(np.linalg.norm(P, axis=1, keepdims=True), 1e-12)
        return X @ P.T  # (M, C) cosine


# ------------------------------------------------------------------ WAC-linear
class WACLinear(_Baseline):
    """Write a Classifier, linear: class weights w(t) = M^T t, trained on seen classes.

    score(x, t) = [x, 1] M^T t, with M (T, D + 1) minimising the mean loss over
    the training images plus ``weight_decay * ||M||^2``. The loss only sees M
    through the seen texts, so the optimum lies in their span: M = U B with U
    (T, r) an orthonormal basis of the seen texts. We optimise B (r, D + 1),
    which is exact and turns a (T x D) problem into an (r x D) one (r <= S).
    The problem is convex; full-batch L-BFGS (scipy, float64, analytic gradient)
    solves it. ``random_state`` seeds the starting point.

    loss: "softmax" (cross-entropy over the seen classes) or "squared_hinge"
    (one-vs-rest, targets +-1).
    """

    def __init__(self, weight_decay: float = 1e-3, loss: str = "softmax", feature_norm: str = "none",
                 max_iter: int = 300, tol: float = 1e-7, random_state: int = 0):
        self.weight_decay = weight_decay
        self.loss = loss
        self.feature_norm = feature_norm
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _check_params(self) -> None:
        where = "WACLinear.fit"
        _check_positive(where, weight_decay=self.weight_decay, max_iter=self.max_iter, tol=self.tol)
        _check_choice(where, "loss", self.loss, ("softmax", "squared_hinge"))
        if not isinstance(self.random_state, (int, np.integer)):
            raise GazslError(f"{where}: random_state must be an integer seed, got {self.random_state!r}")

    def fit(self, text_seen, features, labels) -> "WACLinear":
        import scipy.optimize

        text, X, y = self._validate_fit(text_seen, features, labels)
        X = self._fit_preprocessing(X)
        # orthonormal basis of the seen texts' span; drop directions with no energy
        U, sv, _ = np.linalg.svd(text.T, full_matrices=False)  # U (T, S)
        U = U[:, sv > sv[0] * 1e-10]  # (T, r)
        Z = text @ U  # (S, r) seen texts in that basis
        Xa = np.hstack([X, np.ones((X.shape[0], 1))])  # (N, D + 1)
        onehot = np.eye(text.shape[0])[y]  # (N, S)
        signs = 2.0 * onehot - 1.0
        n = len(y)
        shape = (U.shape[1], Xa.shape[1])  # B: (r, D + 1)

        def loss_and_grad(b):
            B = b.reshape(shape)
            logits = Xa @ (B.T @ Z.T)  # (N, S)
            if self.loss == "softmax":
                logits -= logits.max(axis=1, keepdims=True)
                log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
                data_loss = -(log_p * onehot).sum() / n
                d_logits = (np.exp(log_p) - onehot) / n
            else:
                margin = np.maximum(1.0 - signs * logits, 0.0)
                data_loss = (margin ** 2).sum() / n
                d_logits = -2.0 * signs * margin / n
            grad = ((Xa.T @ d_logits) @ Z).T + 2.0 * self.weight_decay * B  # (r, D + 1)
            return data_loss + self.weight_decay * (B ** 2).sum(), grad.ravel()

        rng = np.random.default_rng(self.random_state)
        result = scipy.optimize.minimize(loss_and_grad, 0.01 * rng.standard_normal(shape).ravel(), jac=True,
                                         method="L-BFGS-B", options={"maxiter": self.max_iter, "gtol": self.tol})
        self.loss_ = float(result.fun)
        self.n_iter_ = int(result.nit)
        self.converged_ = bool(result.success)
        self.M_ = U @ result.x.reshape(shape)  # (T, D + 1)
        self.n_text_dims_ = text.shape[1]
        return self

    def scores(self, text, features) -> np.ndarray:
        text, X = self._validate_scores(text, features)
        weights = text @ self.M_  # (C, D + 1) one classifier per class
        return self.feature_scaling_(X) @ weights[:, :-1].T + weights[:, -1]  # (M, C)


BASELINES = {"eszsl": ESZSL, "prototype": PrototypeRegression, "wac_linear": WACLinear}

# Hyper-parameters to choose on validation classes (never on test classes), each crossed with GRID_FEATURE_NORMS.
PARAM_GRIDS = {
    "eszsl": {"lam": (0.1, 1.0, 10.0), "gamma": (0.1, 1.0, 10.0)},
    "prototype": {"alpha": (0.01, 0.1, 1.0, 10.0)},
    "wac_linear": {"weight_decay": (1e-4, 1e-3, 1e-2)},
}


def candidates(name: str) -> list[dict]:
    """Every setting of ``PARAM_GRIDS[name]`` and ``feature_norm``, as keyword arguments for BASELINES[name]."""
    if name not in BASELINES:
        raise GazslError(f"unknown baseline '{name}' (available: {', '.join(BASELINES)})")
    grid = {**PARAM_GRIDS[name], "feature_norm": GRID_FEATURE_NORMS}
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
