"""What a run leaves in its folder besides figures: checkpoints, the record of its settings, provenance, logs.

A run folder (``gazsl.train``) holds ``config.json`` (what was asked),
``checkpoint_<phase>.pt`` (to resume; ``gazsl.generator.checkpoint``), ``metrics.json`` (written last: a run
is finished when it exists), ``model.gazsl`` (``gazsl.generator.model_file``) and
TensorBoard logs in ``tb/``. An honest run's metrics hold the figures of its
``classifier`` at the top level and, under ``by_classifier``, those of every
classifier scored on the same training (``gazsl.protocols.protocol.CLASSIFIERS``).
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from gazsl.generator.config import Config
from gazsl.io import GazslError, one_line, sha256_file
from gazsl.store.feature_store import FeatureStore
from gazsl.version import __version__

# Config fields that may differ between a run and the one asked for without changing its results.
RESUMABLE_CHANGES = ("device", "checkpoint_every", "log_every")
# What, besides its config, decides a run's figures.
RUN_KEYS = ("split", "protocol", "preset", "inputs_sha256")


def run_record(split: str, protocol: str, preset: str, config: Config, store: FeatureStore) -> dict:
    """What decides a run's figures: written to config.json, kept in metrics.json, compared by ``run_difference``."""
    return {"split": split, "protocol": protocol, "preset": preset,
            "inputs_sha256": store.inputs_sha256(split, config.text), "config": config.to_dict()}


def run_difference(recorded: dict, wanted: dict) -> str | None:
    """How the run ``recorded`` (its config.json or metrics.json) differs from the run ``wanted`` (a ``run_record``):
    'key: old -> new' for the first difference in settings or inputs, None when it is the same run."""
    def flat(record):
        config = record.get("config")
        return {**{k: record.get(k) for k in RUN_KEYS}, **(config if isinstance(config, dict) else {})}

    old, new = flat(recorded), flat(wanted)
    for key in (*RUN_KEYS, *sorted((old.keys() | new.keys()) - set(RUN_KEYS))):
        if key not in RESUMABLE_CHANGES and old.get(key) != new.get(key):
            if key == "inputs_sha256" and old.get(key) is None:
                return "inputs_sha256: not recorded, a run of an older gazsl"
            if key == "inputs_sha256":  # a hash alone would not tell the user what happened
                return (f"inputs_sha256: {str(old[key])[:12]} -> {str(new[key])[:12]}, the features, labels, "
                        "split or text vectors it reads from the store differ: rebuilt store?")
            return f"{key}: {old.get(key)!r} -> {new.get(key)!r}"
    return None


def finished_run(out: Path, split: str, protocol: str, preset: str, config: Config, store_path=None) -> dict | None:
    """The metrics of the finished run in ``out`` (None if it has none), refused when made with other settings or data.

    Refused rather than rerun: the run may come from another device (a table says which device made its runs) or
    be quoted by another table, so only its owner should discard it.
    """
    from gazsl.datasets.stores import open_store

    path = out / "metrics.json"
    if not path.exists():
        return None
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(metrics, dict):
            raise ValueError("not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise GazslError(f"{path}: unreadable metrics of a finished run ({one_line(err, 160)}); delete {out} to rerun it") from None
    change = run_difference(metrics, run_record(split, protocol, preset, config, open_store(split, store_path)))
    if change:  # a stale run must not stand in for the one asked for
        raise GazslError(f"{path}: a finished run of other settings or data ({change}); delete {out} to rerun it")
    return metrics


def check_resumable(out: Path) -> None:
    """Refuse to resume a folder that holds no checkpoint: training it from scratch instead would hide a mistyped
    ``--out`` behind a run that starts over. Reads the folder only, so a refused one is left as it was."""
    if not any(Path(out).glob("checkpoint_*.pt")):
        raise GazslError(f"{out}: nothing to resume (no checkpoint); drop --resume to start a new run")


def check_same_run(path: Path, wanted: dict) -> dict:
    """The record of the run to resume, refused with other settings or data: its metrics would mix two runs under
    the new one's name.

    A run resumed with another thread count is the same run, but its float sums split otherwise: it says so.
    """
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise GazslError(f"{path}: unreadable record of the run to resume ({one_line(err, 160)})") from None
    recorded = recorded if isinstance(recorded, dict) else {}
    change = run_difference(recorded, wanted)
    if change:
        raise GazslError(f"{path}: --resume with other settings or data than the run in this folder ({change}); "
                         "use the same options and store, or another --out")
    if recorded.get("threads") not in (None, wanted.get("threads")):
        print(f"note: {path.parent}: resuming with {wanted.get('threads')} threads, the run began with "
              f"{recorded['threads']}; CPU float sums split by thread count, so its figures may differ from an "
              "uninterrupted run's", file=sys.stderr)
    return recorded


def provenance(store: FeatureStore) -> dict:
    return {
        "versions": {"gazsl": __version__, "python": platform.python_version(), "torch": torch.__version__,
                     "numpy": np.__version__},
        "data": {"store": str(store.path), "store_sha256": sha256_file(store.path)},
    }


def tensorboard_writer(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is a dependency, but a broken install should not stop training
        return None
    return SummaryWriter(str(out / "tb"))
