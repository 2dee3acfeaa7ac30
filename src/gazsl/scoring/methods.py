"""Zero-shot methods by name: a built-in baseline, or a plugin found by import path or entry point.

A plugin is any class with the interface of ``gazsl.scoring.estimator`` (docs/own-method.md)::

    class MyMethod:
        param_grid = {"alpha": (0.1, 1.0)}            # settings the honest protocol chooses among (optional)
        def __init__(self, alpha=1.0, random_state=0): ...   # hyper-parameters only; random_state gets the seed
        def get_params(self, deep=True) / set_params(self, **params)   # scikit-learn's (Params gives both)
        def fit(self, text_seen, X, y): ...; return self   # (S, T), (N, D), (N,) labels in [0, S)
        def scores(self, text, X): ...                     # (M, C): higher is more likely, one column per row of text
        def gzsl_scores(self, text, X): ...                # optional: scores a GZSL calibration is added to
        def save(self, path) / @classmethod load(cls, path)   # optional: saved models

named ``package.module:Class`` (its folder on ``sys.path``) or by the name of an entry point in the group
``gazsl.methods`` of an installed package. The protocols call a plugin only through ``CheckedMethod``, which turns
a plugin that raises, or answers scores of the wrong shape or non-finite ones, into one line naming it.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
from dataclasses import dataclass

import numpy as np

from gazsl.io import GazslError, one_line
from gazsl.plugins import entry_point_names, load_plugin, module_distribution
from gazsl.scoring import baselines

ENTRY_POINT_GROUP = "gazsl.methods"
UNVERSIONED = "unversioned"


@dataclass(frozen=True)
class MethodSpec:
    """A method as the protocols use it: how to make one, which settings to choose among, where it came from."""

    name: str  # as the user named it: a baseline, 'package.module:Class' or an entry point's name
    cls: type
    source: str  # 'package.module:Class', the class's import path
    version: str  # its distribution's version, else its module's __version__, else "unversioned"
    builtin: bool

    def candidates(self) -> list[dict]:
        """The settings the honest protocol chooses among: a baseline's grid, or a plugin's ``param_grid``
        (a dict of name -> values, every combination; or a list of settings), the defaults alone without one."""
        if self.builtin:
            return baselines.candidates(self.name)
        grid = getattr(self.cls, "param_grid", None)
        if grid is None:
            return [{}]
        if isinstance(grid, dict) and all(isinstance(v, (list, tuple)) and v for v in grid.values()):
            return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
        if isinstance(grid, (list, tuple)) and grid and all(isinstance(g, dict) for g in grid):
            return [dict(g) for g in grid]
        raise GazslError(f"method {self.source}: param_grid must map each parameter to a non-empty list of values, "
                         f"or be a non-empty list of settings; got {grid!r}")

    def seeded(self) -> bool:
        return "random_state" in inspect.signature(self.cls).parameters

    def maker(self, seed: int):
        """params -> an unfitted method; ``seed`` goes to its ``random_state`` argument where it has one."""
        def make(params: dict):
            settings = {**({"random_state": seed} if self.seeded() else {}), **params}
            try:
                model = self.cls(**settings)
            except Exception as err:  # a plugin's constructor: any error is the plugin's
                if self.builtin:
                    raise
                raise GazslError(f"method {self.source}: {self.cls.__name__}(**{settings}) raised {one_line(err)}") from None
            return model if self.builtin else CheckedMethod(model, self.source)
        return make

    def record(self) -> dict:
        """What a result records of a plugin: its import path and version."""
        return {"import": self.source, "version": self.version}


class CheckedMethod:
    """A plugin as the protocols call it: what it raises, and scores of the wrong shape or not finite, become a
    GazslError naming it; ``model`` is the plugin itself (what a saved model holds)."""

    def __init__(self, model, source: str):
        self.model = model
        self.source = source

    def _call(self, what: str, *args):
        try:
            return getattr(self.model, what)(*args)
        except GazslError as err:
            raise GazslError(f"method {self.source}: {err}") from None
        except Exception as err:
            raise GazslError(f"method {self.source}: {what} raised {one_line(err)}") from None

    def fit(self, text_seen, features, labels) -> "CheckedMethod":
        self._call("fit", text_seen, features, labels)
        return self

    def _checked(self, what: str, text, features) -> np.ndarray:
        scores = self._call(what, text, features)
        expected = (len(features), len(text))
        try:
            scores = np.asarray(scores, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise GazslError(f"method {self.source}: {what} returned no array of numbers ({one_line(err)})") from None
        if scores.shape != expected:
            raise GazslError(f"method {self.source}: {what} returned scores of shape {scores.shape}, expected "
                             f"{expected} (one row per image, one column per class)")
        if not np.isfinite(scores).all():
            row = int(np.flatnonzero(~np.isfinite(scores).all(axis=1))[0])
            raise GazslError(f"method {self.source}: {what} returned a non-finite score (NaN or inf) in row {row}")
        return scores

    def scores(self, text, features) -> np.ndarray:
        return self._checked("scores", text, features)

    def gzsl_scores(self, text, features) -> np.ndarray:
        return self._checked("gzsl_scores" if hasattr(self.model, "gzsl_scores") else "scores", text, features)

    def predict(self, text, features) -> np.ndarray:
        return self.scores(text, features).argmax(axis=1)


def is_plugin(name: str) -> bool:
    """Whether ``name`` names a plugin (an import path or an entry point) rather than a built-in baseline."""
    return name not in baselines.BASELINES


def resolve(name: str) -> MethodSpec:
    """The method ``name``: a baseline (``gazsl.scoring.baselines.BASELINES``), ``package.module:Class``, or an
    entry point of the group ``gazsl.methods``; a GazslError in one line when there is none."""
    if name in baselines.BASELINES:
        cls = baselines.BASELINES[name]
        return MethodSpec(name, cls, f"{cls.__module__}:{cls.__qualname__}", _module_version(cls.__module__), True)
    if ":" not in name and name not in entry_point_names(ENTRY_POINT_GROUP):
        known = sorted({*baselines.BASELINES, *entry_point_names(ENTRY_POINT_GROUP)})
        raise GazslError(f"unknown method '{name}': not a baseline, an entry point of '{ENTRY_POINT_GROUP}' or an "
                         f"import path package.module:Class (known: {', '.join(known)})")
    plugin = load_plugin(name, ENTRY_POINT_GROUP, "method")
    version = plugin.version or _module_version(plugin.import_path.partition(":")[0])
    return _checked_spec(name, plugin.target, plugin.import_path, version)


def _checked_spec(name: str, cls, source: str, version: str) -> MethodSpec:
    if not inspect.isclass(cls) or not all(callable(getattr(cls, m, None)) for m in ("fit", "scores", "get_params")):
        raise GazslError(f"method {source}: not a zero-shot method class (it needs fit, scores and get_params; "
                         "see docs/own-method.md)")
    return MethodSpec(name, cls, source, version, False)


def _module_version(module_name: str) -> str:
    """The version of the distribution that installs ``module_name``'s top package, else the module's (or its top
    package's) ``__version__``, else "unversioned"."""
    _, version = module_distribution(module_name)
    if version is not None:
        return version
    for candidate in (module_name, module_name.split(".")[0]):
        version = getattr(importlib.import_module(candidate), "__version__", None)
        if isinstance(version, str):
            return version
    return UNVERSIONED
