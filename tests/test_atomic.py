"""A killed or failing writer leaves the previous file intact: feature stores, JSON (metrics, tables), checkpoints.

Writers run in a child process that is SIGKILLed half-way: at a pause point
inside the write (deterministic), and at random moments of a large write.
Afterwards the target is byte-identical to the previous version and loads,
or (killed after the rename) is the complete new version.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_toy_store
from gazsl.io import GazslError, atomic_path, write_json_atomic
from gazsl.store.feature_store import FeatureStore
from gazsl.generator.checkpoint import load_checkpoint, save_checkpoint

from test_run_safety import DEFAULT_THREADS_ENV as ENV  # the thread count a user gets

# Child programs: write a new version of PATH with the real writer; PAUSE makes it stop half-way and say so.
CHILD = {
    # the JSON text is half on disk when the child pauses
    "json": """
        import pathlib, sys, time
        from gazsl.io import write_json_atomic
        path, pause = sys.argv[1], sys.argv[2] == "pause"
        real = pathlib.Path.write_text
        def half_then_pause(self, text, **kw):
            with open(self, "w", encoding="utf-8") as f:
                f.write(text[: len(text) // 2])
                f.flush()
            print("paused", flush=True)
            time.sleep(60)
        if pause:
            pathlib.Path.write_text = half_then_pause
        write_json_atomic(path, {"version": 2, "rows": [[i, i * 0.5, str(i)] for i in range(50_000)]})
    """,
    # the features are written, the labels and the rest are not, when the child pauses
    "store": """
        import sys, time, h5py, numpy as np
        from gazsl.store.feature_store import FeatureStore
        path, pause = sys.argv[1], sys.argv[2] == "pause"
        store = FeatureStore.open(path)
        store.features = np.random.default_rng(1).random((len(store.labels), 4096), dtype=np.float32)
        store.info = {"version": 2}
        real = h5py.Group.create_dataset
        def create_then_pause(self, name, *args, **kw):
            out = real(self, name, *args, **kw)
            if name == "labels":
                self.file.flush()
                print("paused", flush=True)
                time.sleep(60)
            return out
        if pause:
            h5py.Group.create_dataset = create_then_pause
        print("writing", flush=True)
        store.save(path)
    """,
    # the whole checkpoint is in the temporary file but not yet renamed when the child pauses
    "checkpoint": """
        import os, sys, time, torch
        from gazsl.generator.checkpoint import save_checkpoint
        path, pause = sys.argv[1], sys.argv[2] == "pause"
        real = os.fsync
        def sync_then_pause(fd):
            real(fd)
            print("paused", flush=True)
            time.sleep(60)
        if pause:
            os.fsync = sync_then_pause
        save_checkpoint(path, {"iteration": 2, "w": torch.ones(512, 512)})
    """,
}


def write_previous(kind: str, path: Path) -> None:
    if kind == "json":
        write_json_atomic(path, {"version": 1, "rows": [[0, 0.0, "0"]]})
    elif kind == "store":
        make_toy_store(path, n_classes=8, per_class=50)
    else:
        save_checkpoint(path, {"iteration": 1, "w": torch.zeros(3)})


def load(kind: str, path: Path):
    """The version number held by a complete, loadable file."""
    if kind == "json":
        return json.loads(path.read_text())["version"]
    if kind == "store":
        return FeatureStore.open(path).info.get("version", 1)
    return load_checkpoint(path)["iteration"]


def start_child(kind: str, path: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD[kind]), str(path), mode],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("kind", ["json", "store", "checkpoint"])
def test_writer_killed_half_way_leaves_previous_file(kind, tmp_path):
    path = tmp_path / {"json": "metrics.json", "store": "toy.h5", "checkpoint": "checkpoint_select.pt"}[kind]
    write_previous(kind, path)
    before = path.read_bytes()

    child = start_child(kind, path, "pause")
    line = child.stdout.readline()  # blocks until the child is half-way
    while line.strip() == "writing":
        line = child.stdout.readline()
    assert line.strip() == "paused", child.stderr.read()
    strays = list(tmp_path.glob(f".{path.name}.*.tmp"))
    assert strays and strays[0].stat().st_size > 0  # the new version was being written beside the target
    child.send_signal(signal.SIGKILL)
    child.wait()

    assert path.read_bytes() == before
    assert load(kind, path) == 1
    # the stray temporary file does not block the next write
    write_previous(kind, path)
    assert load(kind, path) == 1


def test_writer_killed_at_random_moments_leaves_a_whole_file(tmp_path):
    """Kills at any moment of a large store write: the target is always the old or the new complete file."""
    path = tmp_path / "toy.h5"
    rng = np.random.default_rng(0)
    for delay in rng.uniform(0.0, 0.3, size=3):
        write_previous("store", path)
        before = path.read_bytes()
        child = start_child("store", path, "run")
        assert child.stdout.readline().strip() == "writing", child.stderr.read()
        time.sleep(delay)  # a large write takes about this long: the kill lands before, during or after it
        child.send_signal(signal.SIGKILL)
        child.wait()
        version = load("store", path)
        assert version in (1, 2)
        if version == 1:
            assert path.read_bytes() == before


# ------------------------------------------------------------------ failures inside the writer (no kill)
def test_failing_store_write_keeps_previous_and_cleans_up(tmp_path, monkeypatch):
    import h5py

    path = make_toy_store(tmp_path / "toy.h5", n_classes=8, per_class=5)
    before = path.read_bytes()
    store = FeatureStore.open(path)
    real = h5py.Group.create_dataset

    def fail_at_labels(self, name, *args, **kw):
        if name == "labels":
            raise OSError(28, "No space left on device")
        return real(self, name, *args, **kw)

    monkeypatch.setattr(h5py.Group, "create_dataset", fail_at_labels)
    with pytest.raises(GazslError, match=r"toy.h5: cannot write \(No space left on device\); the previous file is intact"):
        store.save(path)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.tmp"))  # the half-written temporary file is removed


def test_invalid_store_is_never_written(tmp_path):
    path = make_toy_store(tmp_path / "toy.h5", n_classes=8, per_class=5)
    before = path.read_bytes()
    store = FeatureStore.open(path)
    store.features[3, 1] = np.nan
    with pytest.raises(GazslError, match=r"\[features\]: non-finite value \(NaN or inf\) in row 3"):
        store.save(path)
    assert path.read_bytes() == before


def test_failing_json_and_checkpoint_writes_keep_previous(tmp_path, monkeypatch):
    metrics, checkpoint = tmp_path / "metrics.json", tmp_path / "checkpoint_select.pt"
    write_json_atomic(metrics, {"version": 1})
    save_checkpoint(checkpoint, {"iteration": 1})
    before = metrics.read_bytes(), checkpoint.read_bytes()

    with pytest.raises(TypeError):  # not JSON-serialisable: fails before anything is written
        write_json_atomic(metrics, {"version": 2, "bad": object()})

    def torn_save(obj, f, *args, **kw):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(GazslError, match="cannot write \\(No space left on device\\); the previous file is intact"):
        save_checkpoint(checkpoint, {"iteration": 2})
    assert (metrics.read_bytes(), checkpoint.read_bytes()) == before
    assert load_checkpoint(checkpoint)["iteration"] == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(ZeroDivisionError):
        with atomic_path(target) as tmp:
            tmp.write_text("new, partial")
            1 / 0
    assert target.read_text() == "old\n" and not list(tmp_path.glob("*.tmp"))
    with atomic_path(target) as tmp:
        tmp.write_text("new\n")
    assert target.read_text() == "new\n"


def test_atomic_writes_get_a_plain_files_mode_not_the_temp_files_private_one(tmp_path):
    old = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "metrics.json", {"top1": 1.0})
    finally:
        os.umask(old)
    assert (tmp_path / "metrics.json").stat().st_mode & 0o777 == 0o644
