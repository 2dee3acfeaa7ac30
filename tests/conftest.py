"""Shared fixtures: the real data in ../shared/data, skipped with a reason where it is absent."""

import re
from pathlib import Path

import pytest
import torch

# Tests use small tensors: one thread avoids OpenMP spin-waiting when the machine is busy.
torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared/data not found: real-data test skipped")
    return SHARED


def make_toy_store(path: Path, n_classes: int = 24, per_class: int = 20, seed: int = 0) -> Path:
    """A small linear world: text determines attributes, attributes determine features."""
    import numpy as np

    from gazsl.store.feature_store import FeatureStore, TextVectors
    from gazsl.store.splits import make_split

    rng = np.random.default_rng(seed)
    attributes = rng.random((n_classes, 12)).astype(np.float32)
    labels = np.repeat(np.arange(n_classes), per_class)
    features = np.maximum(attributes[labels] @ rng.normal(size=(12, 32)) + 0.3 * rng.normal(size=(len(labels), 32)), 0)
    text = attributes @ rng.normal(size=(12, 40)) + 0.1 * rng.normal(size=(n_classes, 40))
    store = FeatureStore("toy", features.astype(np.float32), labels, np.arange(1, n_classes + 1),
                         [f"Bird_{i}" for i in range(n_classes)], np.arange(n_classes) % 3, ["A", "B", "C"])
    n_unseen = n_classes // 4
    store.splits["toy_easy"] = make_split("toy_easy", np.arange(n_classes - n_unseen), np.arange(n_classes - n_unseen, n_classes), labels)
    store.texts["tfidf"] = TextVectors(text.astype(np.float32), {"encoder": "toy"})
    store.save(path)
    return path


@pytest.fixture
def toy_store(tmp_path) -> Path:
    return make_toy_store(tmp_path / "toy.h5")


@pytest.fixture
def tiny_config_file(tmp_path) -> Path:
    """Config overrides that make a GAZSL run take seconds on the toy store.

    float32 forced: bf16 'auto' times a probe, whose decision at these tiny shapes may differ between two runs
    that a test compares (tests/test_precision.py covers 'auto').
    """
    import json

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"text_reduced_dim": 16, "generator_hidden": 32, "critic_hidden": 32, "batch_size": 64,
                                "critic_steps": 2, "eval_start": 10, "eval_every": 10, "log_every": 5,
                                "checkpoint_every": 5, "samples_per_class": 10, "knn_k": 5, "patience": 0, "lr": 3e-3,
                                "bf16": "off"}))
    return path


@pytest.fixture
def toy_configs(toy_store, tiny_config_file, tmp_path) -> Path:
    """An experiment-config folder with one cell, ``toy_easy``: the toy store, tiny settings, 20 iterations."""
    import json

    configs = tmp_path / "configs"
    configs.mkdir()
    overrides = {**json.loads(tiny_config_file.read_text()), "iterations": 20}
    (configs / "toy_easy.json").write_text(json.dumps({"split": "toy_easy", "preset": "cpu", "store": str(toy_store),
                                                       "overrides": overrides}))
    return configs


# What a training prints on stderr before an error that stops it mid-run: the protocol's plan, then gazsl.progress's
# lines off a terminal ("select (phase 1 of 2): iteration 60/600 (10%), 0:12 elapsed, ...").
PROGRESS_LINE = re.compile(r".*: (honest|paper) protocol: .*|.*: \w+ \d+/\d+ \(\d+%\), [\d:]+ elapsed.*")


def cli_error_line(capsys, main, argv, after_progress: bool = False) -> str:
    """The one error line a command's ``main`` prints for ``argv`` through ``gazsl.io.run_cli``, which must exit 2.

    ``after_progress``: the error stops a training that has begun, so the lines of its progress come first."""
    from gazsl.io import run_cli

    with pytest.raises(SystemExit) as stop:
        run_cli(main, argv)
    err = capsys.readouterr().err
    if after_progress:
        *progress, last = err.splitlines(keepends=True)
        assert progress and all(PROGRESS_LINE.fullmatch(line.strip()) for line in progress), err
        err = last
    assert stop.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def load_experiment(name: str):
    """The module of ``experiments/<name>.py`` (a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"experiment_{name}",
                                                  Path(__file__).resolve().parents[1] / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
