"""GAZSL's configuration: the model apart from the run's settings, one flat ``Config`` of both, two presets
(``paper`` and ``cpu``), and the readers of config files."""

from __future__ import annotations

import dataclasses
import json
import math
import types as types_module
import typing
from dataclasses import dataclass, fields
from pathlib import Path

from gazsl.io import GazslError, data_error, read_utf8
from gazsl.scoring.feature_scaling import INVERTIBLE


@dataclass
class ModelConfig:
    """The model: what GAZSL learns from its seed and data, and how it classifies. The networks and the training
    steps receive this part alone (``Config.model``)."""

    # networks (paper: Zhu et al. 2018 and its released code)
    text_reduced_dim: int = 1000  # text layer: Linear(text_dim, 1000), no activation
    noise_dim: int = 100  # z ~ N(0, I)
    generator_hidden: int = 4096
    critic_hidden: int = 4096
    # losses
    gp_lambda: float = 10.0  # WGAN-GP
    critic_steps: int = 5  # critic updates per generator update
    pivot_weight: float = 1.0  # visual-pivot regulariser
    weight_decay_g: float = 1e-3  # ||W||^2 over generator weights
    text_l21: float = 1e-4  # L2,1 norm of the text layer's weights
    # extensions (0 = off: the paper's model)
    creativity_weight: float = 0.0  # CIZSL: entropy of the aux classifier on mixed-text samples
    cycle_weight: float = 0.0  # CANZSL-style: regress generated features back to the reduced text
    # optimisation
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.9
    batch_size: int = 1000
    iterations: int = 3000  # what GAZSL.fit trains for; a protocol's selection chooses fewer
    # inputs
    text: str = "tfidf"  # which text vectors of the store to use
    feature_norm: str = "mean_var"  # gazsl.scoring.feature_scaling; mean_var: (x - mean) / var as the original code
    # classifier of generated features
    knn_k: int = 20
    samples_per_class: int = 60  # generated features per class at test time
    classifier: str = "knn"  # knn | pivot | softmax | pivot+regression | softmax+regression
    # a "+regression" classifier adds the generated-feature scores to those of a ridge regression from text to class
    # mean features (gazsl.scoring.baselines.PrototypeRegression, z-scored features), each standardised per image
    regression_alpha: float = 1.0  # its ridge penalty
    fusion_weight: float = 0.5  # the generated-feature scores' share; the regression's is 1 - fusion_weight


@dataclass
class RunSettings:
    """How a run goes, not what model it is: the protocol's evaluations and early stopping, the seed, where and in
    which precision it computes, and its bookkeeping (``Config.settings``)."""

    # evaluation during training (the honest protocol chooses the iteration count on these)
    eval_every: int = 40
    eval_start: int = 100
    patience: int = 5  # honest protocol: stop selection after this many evaluations without progress (0: never)
    seed: int = 0
    # computation
    device: str = "auto"  # auto | cpu | cuda
    fast_step: bool = True  # the optimised training step (same updates, see gazsl/generator/fast_step.py)
    compile: bool = False  # torch.compile the networks (GPU)
    bf16: str = "auto"  # auto | on | off: bf16 autocast of the products; auto: where it is faster (gazsl/generator/precision.py)
    # bookkeeping
    checkpoint_every: int = 100
    log_every: int = 20


def _part(config, cls):
    return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})


@dataclass
class Config(RunSettings, ModelConfig):
    """A run's configuration: the model (``ModelConfig``) and the run's settings (``RunSettings``), under one flat
    set of field names, as config files, the command line, the tuning spaces and saved models spell them."""

    @property
    def model(self) -> ModelConfig:
        return _part(self, ModelConfig)

    @property
    def settings(self) -> RunSettings:
        return _part(self, RunSettings)

    def __post_init__(self):
        """A config is checked when it is made: a bad value fails here, not at the first evaluation."""
        types = typing.get_type_hints(Config)
        for f in fields(self):  # Config(lr=1) means 1.0, as a 1 in a JSON config file does
            if types[f.name] is float and type(getattr(self, f.name)) is int:
                setattr(self, f.name, float(getattr(self, f.name)))
        validate(self, "Config")

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


KNOWN_FEATURE_NORMS = INVERTIBLE  # the generated features are given back in the features' own scale: no l2
KNOWN_CLASSIFIERS = ("knn", "pivot", "softmax", "pivot+regression", "softmax+regression")
KNOWN_DEVICES = ("auto", "cpu", "cuda")
KNOWN_BF16 = ("auto", "on", "off")


def from_mapping(base: Config, values: dict, source: str = "config") -> Config:
    """Overlay ``values`` on ``base``, rejecting unknown fields and ill-typed values."""
    types = typing.get_type_hints(Config)
    known = {f.name for f in fields(Config)}
    changes = {}
    for key, value in upgrade(values).items():
        if key not in known:
            raise data_error(source, f"unknown config field '{key}'")
        expected = types[key]
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected in (int, float) and isinstance(value, bool) or not isinstance(value, expected):
            raise data_error(source, f"field '{key}' must be {expected.__name__}, got {value!r}")
        changes[key] = value
    merged = types_module.SimpleNamespace(**{**base.to_dict(), **changes})
    validate(merged, source)  # before Config() checks it again, so that the message names the source
    return Config(**vars(merged))


# An experiment config (experiments/configs/<split>.json, gazsl.tune --best-config): Config fields under "overrides",
# with the preset they apply to, the store, a note for the tables and what gazsl.tune chose ("tuned").
EXPERIMENT_KEYS = ("split", "preset", "store", "overrides", "note", "tuned")


def upgrade(values: dict) -> dict:
    """Config values as this version spells them: ``bf16`` was true/false before it had ``auto``."""
    if isinstance(values.get("bf16"), bool):
        return {**values, "bf16": "on" if values["bf16"] else "off"}
    return values


def _json_object(path: Path) -> dict:
    text = read_utf8(path, "config")
    try:
        values = json.loads(text)
    except json.JSONDecodeError as err:
        raise data_error(path, f"invalid JSON ({err.msg})", f"line {err.lineno}") from None
    if not isinstance(values, dict):
        raise data_error(path, "a config file holds one JSON object")
    return values


def _checked_experiment(path: Path, values: dict) -> dict:
    unknown = sorted(set(values) - set(EXPERIMENT_KEYS))
    if unknown:
        raise data_error(path, f"unknown key(s) {unknown} in an experiment config")
    if not isinstance(values.get("overrides", {}), dict):
        raise data_error(path, "'overrides' must be a JSON object of config fields", "overrides")
    return values


def read_experiment(path) -> dict:
    """An experiment config (``EXPERIMENT_KEYS``) as written, checked: the one reader of these files."""
    path = Path(path)
    return _checked_experiment(path, _json_object(path))


def load(path, base: Config) -> Config:
    """``base`` overlaid with a config file: Config fields, or an experiment config whose "overrides" are taken."""
    path = Path(path)
    values = _json_object(path)
    if "overrides" in values:
        values = _checked_experiment(path, values)["overrides"]
    return from_mapping(base, values, str(path))


def validate(config, source: str = "config") -> None:
    """Raise a GazslError naming ``source`` and the first bad field of ``config`` (a Config or any object with its fields)."""
    types = typing.get_type_hints(Config)
    for f in fields(Config):
        value, expected = getattr(config, f.name), types[f.name]
        if expected in (int, float) and isinstance(value, bool) or not isinstance(value, expected):
            raise data_error(source, f"field '{f.name}' must be {expected.__name__}, got {value!r}")
    positive = ("text_reduced_dim", "noise_dim", "generator_hidden", "critic_hidden", "critic_steps",
                "batch_size", "knn_k", "samples_per_class", "eval_every", "log_every", "checkpoint_every")
    for key in positive:
        if getattr(config, key) <= 0:
            raise data_error(source, f"field '{key}' must be positive, got {getattr(config, key)}")
    for key in ("creativity_weight", "cycle_weight"):
        if getattr(config, key) < 0:
            raise data_error(source, f"field '{key}' must be >= 0 (0: off), got {getattr(config, key)}")
    if config.patience < 0:
        raise data_error(source, f"field 'patience' must be >= 0, got {config.patience}")
    if config.iterations < 0:
        raise data_error(source, f"field 'iterations' must be >= 0, got {config.iterations}")
    if config.feature_norm not in KNOWN_FEATURE_NORMS:
        raise data_error(source, f"field 'feature_norm' must be one of {KNOWN_FEATURE_NORMS}, got {config.feature_norm!r}")
    if config.classifier not in KNOWN_CLASSIFIERS:
        raise data_error(source, f"field 'classifier' must be one of {KNOWN_CLASSIFIERS}, got {config.classifier!r}")
    if config.lr <= 0:
        raise data_error(source, f"field 'lr' must be positive, got {config.lr}")
    if config.regression_alpha <= 0:
        raise data_error(source, f"field 'regression_alpha' must be positive, got {config.regression_alpha}")
    if not 0 <= config.fusion_weight <= 1:
        raise data_error(source, f"field 'fusion_weight' must be in [0, 1], got {config.fusion_weight}")
    for f in fields(Config):  # NaN or inf here would train silently into NaN losses
        value = getattr(config, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise data_error(source, f"field '{f.name}' must be a finite number, got {value}")
    for key in ("beta1", "beta2"):
        if not 0 <= getattr(config, key) < 1:
            raise data_error(source, f"field '{key}' must be in [0, 1), got {getattr(config, key)}")
    if config.device not in KNOWN_DEVICES:
        raise data_error(source, f"field 'device' must be one of {KNOWN_DEVICES}, got {config.device!r}")
    if config.bf16 not in KNOWN_BF16:
        raise data_error(source, f"field 'bf16' must be one of {KNOWN_BF16}, got {config.bf16!r}")


# Made last: a preset is a Config, checked when it is made.
PRESETS: dict[str, Config] = {
    "paper": Config(),
    # Small enough for two CPU cores: the aviary end to end in about a minute.
    "cpu": Config(
        text_reduced_dim=256,
        generator_hidden=512,
        critic_hidden=512,
        batch_size=256,
        iterations=600,
        lr=5e-4,
        feature_norm="minmax",
        eval_every=50,
        eval_start=100,
    ),
}
# The cpu preset for text that says what the birds look like (CUB's visual descriptions, an attribute table): a ten
# times heavier visual pivot and twice the iteration cap, chosen on the validation classes of cub100_easy and
# cub100_hard with the descriptions (experiments/results/generator_diagnosis.md). Not the cpu default: with the
# articles a heavier pivot helped on one split's validation classes and hurt on the other's.
PRESETS["descriptions"] = PRESETS["cpu"].replace(pivot_weight=10.0, iterations=1200)


def preset(name: str) -> Config:
    if name not in PRESETS:
        raise GazslError(f"unknown preset '{name}' (available: {', '.join(PRESETS)})")
    return PRESETS[name]
