"""What a run leaves in its folder besides figures: checkpoints, the record of its settings, provenance, logs.

A run folder (``gazsl.train``) holds ``config.json`` (what was asked),
``checkpoint_<phase>.pt`` (to resume), ``metrics.json`` (written last: a run
is finished when it exists), ``model.gazsl`` (``gazsl.model_file``) and
TensorBoard logs in ``tb/``.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from gazsl.config import Config
from gazsl.io import GazslError, atomic_path, one_line, sha256_file
from gazsl.store import FeatureStore
from gazsl.version import __version__

# Settings that may differ when a run is resumed without changing its results.
RESUMABLE_CHANGES = ("device", "checkpoint_every", "log_every", "threads")


def save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path, suffix=".pt") as tmp, open(tmp, "wb") as f:
        torch.save(state, f)  # through a Python file: a full disk raises OSError (torch's own writer: RuntimeError)


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a torn or foreign file: tell the user which one
        raise GazslError(f"{path}: unreadable checkpoint, truncated or not a gazsl checkpoint ({one_line(err, 160)}); "
                         "delete it to start over") from None


def finished_run(out: Path, config: Config) -> dict | None:
    """The metrics of the finished run in ``out`` (None if it has none), refused when made with other settings."""
    if not (out / "metrics.json").exists():
        return None
    metrics = json.loads((out / "metrics.json").read_text())
    recorded, expected = metrics.get("config", {}), config.to_dict()
    changed = [k for k, v in expected.items() if k not in RESUMABLE_CHANGES and recorded.get(k) != v]
    if changed:  # a stale run must not stand in for the one asked for
        key = changed[0]
        raise GazslError(f"{out / 'metrics.json'}: a finished run with other settings ({key}: {recorded.get(key)!r}, "
                         f"now {expected[key]!r}); delete {out} to rerun it")
    return metrics


def check_same_run(path: Path, record: dict) -> None:
    """Refuse to resume a run with other settings: its metrics would mix two runs under the new settings' name."""
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
        old = {**{k: v for k, v in before.items() if k != "config"}, **before["config"]}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise GazslError(f"{path}: unreadable record of the run to resume ({one_line(err, 160)})") from None
    new = {**{k: v for k, v in record.items() if k != "config"}, **record["config"]}
    if old.get("threads") not in (None, new.get("threads")):
        print(f"note: {path.parent}: resuming with {new.get('threads')} threads, the run began with {old['threads']}; "
              "CPU float sums split by thread count, so its figures may differ from an uninterrupted run's", file=sys.stderr)
    changed = [k for k in sorted(old.keys() | new.keys()) if k not in RESUMABLE_CHANGES and old.get(k) != new.get(k)]
    if changed:
        k = changed[0]
        raise GazslError(f"{path}: --resume with other settings than the run in this folder ({k}: {old.get(k)!r} -> "
                         f"{new.get(k)!r}); use the same options, or another --out")


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
