"""The interface every zero-shot method shares (scikit-learn style), and its input checks.

    model = Method(...).fit(text_seen, features, labels)  # (S, T), (N, D), (N,) in [0, S)
    scores = model.scores(text, features_test)            # (M, C) for C candidate classes
    pred = model.predict(text, features_test)             # (M,) indices into text's rows
    gzsl = model.gzsl_scores(text, features_test)         # (M, C) scores a GZSL calibration is added to

A class is its text vector: ``text`` holds one row per candidate class, and
labels index the rows of ``text_seen``. The protocols (``gazsl.protocols.protocol``)
evaluate any method through this interface alone: GAZSL (``gazsl.generator.gan``) and
the baselines (``gazsl.scoring.baselines``) alike. Hyper-parameters are constructor
arguments, never changed by ``fit``; what ``fit`` learns ends in ``_``. ``get_params`` and ``set_params``
read and write exactly the constructor's arguments, so ``sklearn.base.clone`` copies a method unfitted.

``ClassesOfText`` wraps a method as a scikit-learn classifier of features alone, so that scikit-learn's model
selection (``GridSearchCV``) can choose its hyper-parameters.
"""

from __future__ import annotations

import inspect

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


class Params:
    """Hyper-parameters as scikit-learn reads and writes them: exactly the constructor's arguments."""

    @classmethod
    def _param_names(cls) -> list[str]:
        """The hyper-parameters: the constructor's arguments, in its order (each is kept under its own name)."""
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments; with ``deep``, a nested estimator's as ``name__param`` too (scikit-learn's)."""
        params = {name: getattr(self, name) for name in self._param_names()}
        if deep:
            for name, value in list(params.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    params.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
        return params

    def set_params(self, **params) -> "Params":
        """Set hyper-parameters (``name__param``: a nested estimator's); checked, like the others, by ``fit``."""
        names = self._param_names()
        nested: dict[str, dict] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in names:
                raise GazslError(f"{type(self).__name__}.set_params: unknown parameter '{name}' "
                                 f"(available: {', '.join(names)})")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({params})"


class ZeroShotEstimator(Params):
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


class ClassesOfText(Params):
    """A zero-shot method as a scikit-learn classifier of features ``X`` into the classes of ``text``.

    ``fit(X, y)`` fits a fresh copy of ``estimator`` on (``text``, X, y), y indexing the rows of ``text``;
    ``predict(X)`` picks among all of them. ``score(X, y)`` is zero-shot top-1 accuracy: each row of X against
    the classes present in ``y`` only, as a protocol scores test images against the test classes. With folds
    that hold out whole classes (``GroupKFold`` with ``groups=y``) a grid search therefore chooses on classes
    the method was not fitted on, as choosing on validation classes does; with ordinary folds it would
    score classes it has seen images of, which says little of zero-shot accuracy.
    """

    def __init__(self, estimator=None, text=None):
        self.estimator = estimator
        self.text = text

    def fit(self, X, y) -> "ClassesOfText":
        if not isinstance(self.estimator, ZeroShotEstimator):
            raise GazslError(f"ClassesOfText.fit: estimator must be a zero-shot method (gazsl.scoring.estimator), "
                             f"got {type(self.estimator).__name__}")
        self.estimator_ = type(self.estimator)(**self.estimator.get_params(deep=False)).fit(self.text, X, y)
        return self

    def __sklearn_tags__(self):
        """What scikit-learn (1.6 on) asks of an estimator before searching over it: a classifier of (X, y)."""
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True), classifier_tags=ClassifierTags())

    def _check_fitted(self, where: str) -> None:
        if not hasattr(self, "estimator_"):
            raise GazslError(f"{where}: this ClassesOfText is not fitted yet; call fit first")

    def predict(self, X) -> np.ndarray:
        """(M,) the row of ``text`` each row of ``X`` is classified as."""
        self._check_fitted("ClassesOfText.predict")
        return self.estimator_.predict(self.text, X)

    def score(self, X, y) -> float:
        """Top-1 accuracy of ``X`` among the classes of ``y`` (rows of ``text``)."""
        self._check_fitted("ClassesOfText.score")
        y = np.asarray(y)
        classes = np.unique(y)
        chosen = classes[self.estimator_.predict(np.asarray(self.text)[classes], X)]
        return float(np.mean(chosen == y))
