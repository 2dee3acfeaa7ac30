"""Search spaces of gazsl.tune: one JSON per method (gazsl/tuning/spaces/<method>.json), checked value by value."""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazsl.generator import config as config_module
from gazsl.generator.config import Config
from gazsl.io import GazslError, data_error, read_utf8
from gazsl.scoring import baselines, methods as method_plugins

METHODS = ("gazsl", *baselines.BASELINES)  # and method plugins (gazsl.scoring.methods), with a space of their own
SPACES_DIR = Path(__file__).parent / "spaces"  # the default search space of each method: <method>.json
NOT_TUNABLE = {"seed": "the study's seed (--seed)", "device": "the machine's, not a setting"}


@dataclass
class Param:
    """One dimension of a search space: a range ``low``..``high`` (``log`` or ``step`` optional) or ``choices``."""

    name: str
    kind: type  # the setting's type: int and float take ranges, anything takes choices
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list | None = None

    def suggest(self, trial):
        if self.choices is not None:
            return trial.suggest_categorical(self.name, self.choices)
        if self.kind is int:
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def values_to_check(self) -> list:
        return list(self.choices) if self.choices is not None else [self.low, self.high]


def tunable(method: str) -> dict[str, type]:
    """The settings a search space may name for ``method``, with their types."""
    if method == "gazsl":
        hints = typing.get_type_hints(Config)
        return {f.name: hints[f.name] for f in dataclasses.fields(Config) if f.name not in NOT_TUNABLE}
    parameters = inspect.signature(method_plugins.resolve(method).cls).parameters
    return {name: type(p.default) for name, p in parameters.items() if name != "random_state"}  # the seed's


def load_space(method: str, path=None) -> tuple[dict[str, Param], dict]:
    """The search space of ``method`` (default: the one shipped with gazsl) and its JSON, checked value by value."""
    if path is None and method not in METHODS:
        raise GazslError(f"method {method}: a plugin has no search space shipped with gazsl; give one (--space)")
    path = Path(path) if path else SPACES_DIR / f"{method}.json"
    form = '{"method": M, "params": {NAME: {"low": L, "high": H[, "log": true][, "step": S]} or {"choices": [..]}}}'
    try:
        raw = json.loads(read_utf8(path, "search space"))
    except json.JSONDecodeError as err:
        raise data_error(path, f"invalid JSON ({err.msg})", f"line {err.lineno}") from None
    if not isinstance(raw, dict) or set(raw) - {"method", "params", "note"} or not isinstance(raw.get("params"), dict):
        raise data_error(path, f"a search space looks like {form}")
    if raw.get("method", method) != method:
        raise data_error(path, f"a search space for method '{raw['method']}'; pass --method {raw['method']}", "method")
    if not raw["params"]:
        raise data_error(path, "no parameter to tune", "params")
    known = tunable(method)
    space = {}
    for name, spec in raw["params"].items():
        key = f"params/{name}"
        if name in NOT_TUNABLE and method == "gazsl":
            raise data_error(path, f"'{name}' is not tuned: it is {NOT_TUNABLE[name]}", key)
        if name not in known:
            raise data_error(path, f"unknown parameter '{name}' for method {method} (known: {', '.join(known)})", key)
        space[name] = parse_param(name, spec, known[name], path, key, form)
        for value in space[name].values_to_check():
            check_value(method, name, value, f"{path} [{key}]")
    return space, raw


def parse_param(name: str, spec, kind: type, path: Path, key: str, form: str) -> Param:
    if not isinstance(spec, dict):
        raise data_error(path, f"expected an object, as in {form}", key)
    if "choices" in spec:
        if set(spec) != {"choices"}:
            raise data_error(path, f"choices take no other key (got {sorted(set(spec) - {'choices'})})", key)
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise data_error(path, "empty or malformed list of choices", key)
        if not all(c is None or isinstance(c, (bool, int, float, str)) for c in choices):
            raise data_error(path, "choices must be numbers, strings, booleans or null", key)
        return Param(name, kind, choices=choices)
    unknown = set(spec) - {"low", "high", "log", "step"}
    if unknown or not {"low", "high"} <= set(spec):
        raise data_error(path, f"a range has low, high and optionally log or step (got {sorted(spec)})", key)
    if kind not in (int, float):
        raise data_error(path, f"'{name}' takes {kind.__name__} values: give its choices instead of a range", key)
    number = int if kind is int else (int, float)
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    for bound in (low, high) + ((step,) if step is not None else ()):
        if isinstance(bound, bool) or not isinstance(bound, number) or not np.isfinite(bound):
            raise data_error(path, f"'{name}' takes {kind.__name__} values, got {bound!r}", key)
    if low > high:
        raise data_error(path, f"empty range: low {low} > high {high}", key)
    if not isinstance(log, bool):
        raise data_error(path, f"log must be true or false, got {log!r}", key)
    if log and step is not None:
        raise data_error(path, "a range is on a log scale or has a step, not both", key)
    if log and low <= 0:
        raise data_error(path, f"a log-scale range needs low > 0, got {low}", key)
    if step is not None and step <= 0:
        raise data_error(path, f"step must be positive, got {step}", key)
    return Param(name, kind, low=low, high=high, log=log, step=step)


def check_value(method: str, name: str, value, where: str) -> None:
    """Refuse, before any trial runs, a value the method itself would refuse."""
    if method == "gazsl":
        config_module.from_mapping(Config(), {name: value}, where)
        return
    if method not in baselines.BASELINES:  # a plugin checks its settings when its trials fit it
        return
    try:  # a tiny fit: the baselines check their settings when fitted
        baselines.BASELINES[method](**{name: value}).fit(np.eye(2), np.eye(2), np.arange(2))
    except (GazslError, TypeError) as err:
        raise GazslError(f"{where}: {err}") from None

