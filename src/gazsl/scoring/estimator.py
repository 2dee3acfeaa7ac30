"""The interface every zero-shot method shares (scikit-learn style), and its input checks.

    model = Method(...).fit(text_seen, features, labels)  # (S, T), (N, D), (N,) in [0, S)
    scores = model.scores(text, features_test)            # (M, C) for C candidate classes
    pred = model.predict(text, features_test)             # (M,) indices into text's rows
    gzsl = model.gzsl_scores(text, features_test)         # (M, C) scores a GZSL calibration is added to

A class is its text vector: ``text`` holds one row per candidate class, and
labels index the rows of ``text_seen``. The protocols (``gazsl.protocols.protocol``)
evaluate any method through this interface alone: GAZSL (``gazsl.generator.gan``) and
the baselines (``gazsl.scoring.baselines``) alike. Hyper-parameters are constructor
arguments, never changed by ``fit``; what ``fit`` learns ends in ``_``.
"""

from __future__ import annotations

import numpy as np

from gazsl.io import GazslError


def as_matrix(where: str, name: str, a, shape_hint: str, dtype=np.float64) -> np.ndarray:
    """``a`` as a finite, non-empty 2-d ``dtype`` array, or a GazslError naming ``where`` and ``name``."""
    try:
        arr = np.asarray(a)
    except Exception as err:  # e.g. ragged lists
        raise GazslError(f"{where}: {name} is not an array ({err})") from None
    if arr.ndim != 2:
        raise GazslError(f"{where}: {name} must be a 2-d array {shape_hint}, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise GazslError(f"{where}: {name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(dtype)
    if not np.isfinite(arr).all():
        row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise GazslError(f"{where}: {name} has a non-finite value (NaN or inf) in row {row}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise GazslError(f"{where}: {name} is empty, shape {arr.shape}")
    return arr


class ZeroShotEstimator:
    """Input checks, ``predict`` and ``gzsl_scores`` shared by every method; subclasses write ``fit`` and ``scores``."""

    dtype = np.float64  # what inputs are checked into (GAZSL's networks compute in float32)

    def _check_params(self) -> None:
        """Subclasses check their own hyper-parameters here (called by ``_validate_fit``)."""

    def _validate_fit(self, text_seen, features, labels):
        where = f"{type(self).__name__}.fit"
        self._check_params()
        text = as_matrix(where, "text_seen", text_seen, "(S, T)", self.dtype)
        X = as_matrix(where, "features", features, "(N, D)", self.dtype)
        y = np.asarray(labels)
        if y.ndim != 1:
            raise GazslError(f"{where}: labels must be a 1-d array (N,), got shape {y.shape}")
        if y.shape[0] != X.shape[0]:
            raise GazslError(f"{where}: {y.shape[0]} labels for {X.shape[0]} feature rows")
        if not np.issubdtype(y.dtype, np.integer):
            raise GazslError(f"{where}: labels must be integers, got dtype {y.dtype}")
        n_seen = text.shape[0]
        bad = np.flatnonzero((y < 0) | (y >= n_seen))
        if bad.size:
            raise GazslError(
                f"{where}: label {int(y[bad[0]])} at position {int(bad[0])} is out of range [0, {n_seen}) "
                f"(labels index the rows of text_seen)"
            )
        return text, X, y.astype(np.int64)

    def _check_fitted(self, where: str) -> None:
        if not hasattr(self, "n_text_dims_"):
            raise GazslError(f"{where}: this {type(self).__name__} is not fitted yet; call fit first")

    def _validate_text(self, text, where: str) -> np.ndarray:
        self._check_fitted(where)
        text = as_matrix(where, "text", text, "(C, T)", self.dtype)
        if text.shape[1] != self.n_text_dims_:
            raise GazslError(f"{where}: text has {text.shape[1]} dimensions, the model was fitted on {self.n_text_dims_}")
        return text

    def _validate_scores(self, text, features, where: str | None = None):
        where = where or f"{type(self).__name__}.scores"
        text = self._validate_text(text, where)
        X = as_matrix(where, "features", features, "(M, D)", self.dtype)
        if X.shape[1] != self.n_features_in_:
            raise GazslError(f"{where}: features have {X.shape[1]} dimensions, the model was fitted on {self.n_features_in_}")
        return text, X

    def scores(self, text, features) -> np.ndarray:
        raise NotImplementedError

    def gzsl_scores(self, text, features) -> np.ndarray:
        """(M, C) scores over seen and unseen classes together, fit to be shifted by a calibration constant."""
        return self.scores(text, features)

    def predict(self, text, features) -> np.ndarray:
        """(M,) index of the best-scoring row of ``text`` for each row of ``features``."""
        return self.scores(text, features).argmax(axis=1)

    def get_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"
