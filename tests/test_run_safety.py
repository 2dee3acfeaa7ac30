"""Runs repeat at the default thread count, stop cleanly on SIGTERM/SIGINT, own their folder, and survive a full disk."""

import errno
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

from conftest import PROGRESS_LINE, cli_error_line, make_toy_store
from gazsl.io import GazslError, exclusive_lock

# The environment a user has: no thread count set by hand (conftest's set_num_threads(1) is this process's only).
DEFAULT_THREADS_ENV = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
DEFAULT_THREADS_ENV["PYTHONUNBUFFERED"] = "1"
ONE_THREAD_ENV = {**DEFAULT_THREADS_ENV, "OMP_NUM_THREADS": "1"}
FIGURES = ("zsl_top1", "zsl_top1_per_class", "ausuc", "gzsl_h", "gzsl_seen", "gzsl_unseen", "iterations", "calibration",
           "val_top1_per_class")


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    """A toy store and a config wide enough that PyTorch splits its CPU kernels over threads.

    At the tiny test sizes every kernel runs on one thread, and thread-order float sums
    (the reason runs did not repeat) never show. Precision is pinned: bf16 'auto' times a
    probe, whose decision is recorded but may differ between two runs on a loaded machine.
    """
    root = tmp_path_factory.mktemp("wide")
    store = make_toy_store(root / "toy.h5", n_classes=24, per_class=40)
    config = root / "wide.json"
    config.write_text(json.dumps({"text_reduced_dim": 64, "generator_hidden": 512, "critic_hidden": 512,
                                  "batch_size": 256, "critic_steps": 2, "eval_start": 10, "eval_every": 10,
                                  "log_every": 5, "checkpoint_every": 5, "samples_per_class": 20, "knn_k": 5,
                                  "patience": 0, "lr": 1e-3, "bf16": "off"}))
    return ["--split", "toy_easy", "--store", str(store), "--config", str(config), "--device", "cpu"]


def train_cli(args, env, **kwargs):
    return subprocess.run([sys.executable, "-m", "gazsl.train", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600, **kwargs)


def start(args, env):
    return subprocess.Popen([sys.executable, "-m", "gazsl.train", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def figures(out):
    metrics = json.loads((out / "metrics.json").read_text())
    return {key: metrics[key] for key in FIGURES}


def wait_for(path, process, timeout=300):
    deadline = time.time() + timeout
    while not path.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert path.exists(), f"{path} never appeared"


@pytest.fixture(scope="module")
def reference(wide_run, tmp_path_factory):
    """The uninterrupted run at the default thread count, which every other run must match."""
    out = tmp_path_factory.mktemp("reference") / "run"
    result = train_cli([*wide_run, "--iters", "60", "--out", out], DEFAULT_THREADS_ENV)
    assert result.returncode == 0, result.stderr
    return out


def test_rerun_at_the_default_thread_count_repeats_every_figure(wide_run, reference, tmp_path):
    metrics = json.loads((reference / "metrics.json").read_text())
    default = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                             capture_output=True, text=True, env=DEFAULT_THREADS_ENV, check=True).stdout
    assert metrics["threads"] == int(default)  # the user's default, not this test process's single thread
    again = train_cli([*wide_run, "--iters", "60", "--out", tmp_path / "again"], DEFAULT_THREADS_ENV)
    assert again.returncode == 0, again.stderr
    assert figures(tmp_path / "again") == figures(reference)


def test_rerun_in_bf16_at_the_default_thread_count_repeats_every_figure(wide_run, tmp_path):
    runs = [tmp_path / "a", tmp_path / "b"]
    for out in runs:
        result = train_cli([*wide_run, "--iters", "30", "--bf16", "on", "--out", out], DEFAULT_THREADS_ENV)
        assert result.returncode == 0, result.stderr
    assert figures(runs[0]) == figures(runs[1])
    assert json.loads((runs[0] / "metrics.json").read_text())["bf16"] is True


def test_rerun_at_one_thread_repeats_every_figure(wide_run, tmp_path):
    runs = [tmp_path / "a", tmp_path / "b"]
    for out in runs:
        assert train_cli([*wide_run, "--iters", "30", "--out", out], ONE_THREAD_ENV).returncode == 0
    assert figures(runs[0]) == figures(runs[1])
    assert json.loads((runs[0] / "metrics.json").read_text())["threads"] == 1


@pytest.mark.parametrize("env", [DEFAULT_THREADS_ENV, ONE_THREAD_ENV], ids=["default-threads", "one-thread"])
def test_sigkill_and_resume_gives_the_uninterrupted_metrics(wide_run, reference, tmp_path, env):
    if env is ONE_THREAD_ENV:  # its own reference: float sums are split by thread count
        reference = tmp_path / "whole"
        assert train_cli([*wide_run, "--iters", "60", "--out", reference], env).returncode == 0
    out = tmp_path / "killed"
    process = start([*wide_run, "--iters", "60", "--out", out], env)
    wait_for(out / "checkpoint_select.pt", process)
    time.sleep(0.2)  # into unsaved work
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    resumed = train_cli([*wide_run, "--iters", "60", "--out", out, "--resume"], env)
    assert resumed.returncode == 0, resumed.stderr
    assert "taking over the lock" in resumed.stderr  # the killed run's lock named a process that is gone
    assert figures(out) == figures(reference)


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_signal_checkpoints_prints_the_resume_command_and_resuming_matches(wide_run, reference, tmp_path, signum, code):
    out = tmp_path / "stopped"
    process = start([*wide_run, "--iters", "60", "--out", out], DEFAULT_THREADS_ENV)
    wait_for(out / "checkpoint_select.pt", process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == code, stderr
    lines = [line for line in stderr.splitlines() if line.strip() and not PROGRESS_LINE.fullmatch(line)]
    assert len(lines) == 1 and lines[0].startswith("interrupted at iteration ") and " of phase select" in lines[0], stderr
    assert not (out / "metrics.json").exists()
    command = shlex.split(lines[0].split("; resume with: ", 1)[1])
    assert command[:3] == ["python", "-m", "gazsl.train"] and "--resume" in command
    resumed = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True, env=DEFAULT_THREADS_ENV,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "taking over" not in resumed.stderr  # a clean stop releases its lock
    assert figures(out) == figures(reference)


def test_a_second_run_on_the_same_folder_exits_2_naming_the_holder(wide_run, tmp_path):
    out = tmp_path / "shared"
    first = start([*wide_run, "--iters", "400", "--out", out, "--seed", "5"], DEFAULT_THREADS_ENV)
    try:
        wait_for(out / "config.json", first)
        second = train_cli([*wide_run, "--iters", "400", "--out", out, "--seed", "6"], DEFAULT_THREADS_ENV)
        assert second.returncode == 2
        assert second.stderr.count("\n") == 1 and f"process {first.pid}" in second.stderr, second.stderr
        assert json.loads((out / "config.json").read_text())["config"]["seed"] == 5
    finally:
        first.kill()
        first.communicate()


def test_lock_is_held_once_and_released(tmp_path):
    lock = tmp_path / ".lock"
    with exclusive_lock(lock, "a test folder"):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        held = subprocess.run([sys.executable, "-c", "import sys; from gazsl.io import exclusive_lock, run_cli\n"
                               "def main(argv):\n"
                               f"    with exclusive_lock({str(lock)!r}, 'a test folder'): pass\n"
                               "run_cli(main)"], capture_output=True, text=True)
        assert held.returncode == 2 and f"process {os.getpid()}" in held.stderr and "a test folder" in held.stderr
    assert lock.read_text() == ""
    with exclusive_lock(lock, "a test folder"):  # free again
        pass


def test_table_commands_share_a_runs_folder_one_at_a_time(tmp_path):
    from gazsl.protocols.cells import run_cells

    with exclusive_lock(tmp_path / ".lock", f"runs folder {tmp_path}"):
        with pytest.raises(GazslError, match="in use by process"):
            run_cells([], tmp_path, tmp_path, jobs=1)


def test_store_writers_wait_or_refuse(tmp_path, toy_store):
    from gazsl.store.feature_store import store_lock

    with store_lock(toy_store):
        result = subprocess.run([sys.executable, "-m", "gazsl.text", "encode", "--corpus", str(tmp_path),
                                 "--store", str(toy_store)], capture_output=True, text=True)
    assert result.returncode == 2 and "feature store" in result.stderr and "in use" in result.stderr, result.stderr


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_during_a_checkpoint_leaves_the_last_one_intact(tmp_path, toy_store, tiny_config_file, monkeypatch,
                                                                   capsys):
    import torch

    from gazsl import train as train_module

    out = tmp_path / "run"
    checkpoint = out / "checkpoint_select.pt"
    real_save, saved = torch.save, []

    def third_save_fills_the_disk(obj, f, *a, **k):  # checkpoints at iterations 5, 10, then 15 fails half-way
        if len(saved) == 2:
            saved.append(checkpoint.read_bytes())
            real_save(obj, f, *a, **k)
            f.truncate(100)
            _enospc()
        saved.append(obj["iteration"])
        real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", third_save_fills_the_disk)  # the one torch.save every checkpoint goes through
    err = cli_error_line(capsys, train_module.main, ["--split", "toy_easy", "--store", str(toy_store), "--config",
                                                     str(tiny_config_file), "--iters", "40", "--out", str(out)],
                         after_progress=True)
    assert f"{checkpoint}: cannot write (No space left on device); the previous file is intact" in err
    assert saved[:2] == [5, 10] and checkpoint.read_bytes() == saved[2]
    assert torch.load(checkpoint, weights_only=False)["iteration"] == 10
    assert not list(out.glob(".*.tmp")) and not (out / "metrics.json").exists()


def test_full_disk_or_no_permission_while_writing_metrics_keeps_the_old_file(tmp_path, monkeypatch):
    from pathlib import Path

    from gazsl.io import write_json_atomic

    metrics = tmp_path / "metrics.json"
    write_json_atomic(metrics, {"zsl_top1": 1.0})
    monkeypatch.setattr(Path, "write_text", _enospc)
    with pytest.raises(GazslError, match=r"metrics.json: cannot write \(No space left on device\); the previous file is intact"):
        write_json_atomic(metrics, {"zsl_top1": 2.0})
    monkeypatch.undo()
    assert json.loads(metrics.read_text()) == {"zsl_top1": 1.0}

    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(errno.EACCES, "Permission denied")))
    with pytest.raises(GazslError, match="Permission denied"):
        write_json_atomic(metrics, {"zsl_top1": 3.0})


def _stopped_at(phase: str, iteration: int, monkeypatch):
    """SIGTERM to this process right after ``iteration`` of ``phase``: the stop lands where it is asked to, not
    where a loaded machine's timing puts it (the timed tests above reach these windows only by chance)."""
    from gazsl.generator import trainer

    real = trainer.run_phase

    def run_phase(ph, model, *args, **kwargs):
        if ph.name == phase:
            step = model.step

            def stepping(*a, **k):
                logs = step(*a, **k)
                if model.n_iter_ == iteration:
                    os.kill(os.getpid(), signal.SIGTERM)
                return logs
            model.step = stepping
        return real(ph, model, *args, **kwargs)

    monkeypatch.setattr("gazsl.protocols.training.run_phase", run_phase)


@pytest.mark.parametrize("phase, iteration", [("select", 7), ("select", 10), ("select", 20), ("final", 10)],
                         ids=["mid-selection", "after-an-evaluation", "end-of-selection", "end-of-final"])
def test_a_stop_in_every_window_resumes_to_the_uninterrupted_figures(toy_store, tiny_config_file, tmp_path,
                                                                      monkeypatch, phase, iteration):
    from gazsl.generator.config import Config, from_mapping
    from gazsl.interrupt import Interrupted
    from gazsl.protocols.training import train

    config = from_mapping(Config(), {**json.loads(tiny_config_file.read_text()), "iterations": 20, "device": "cpu"},
                          "tiny")
    whole = train("toy_easy", config, tmp_path / "whole", store_path=toy_store)
    with monkeypatch.context() as patched:
        _stopped_at(phase, iteration, patched)
        with pytest.raises(Interrupted) as stop:
            train("toy_easy", config, tmp_path / "stopped", store_path=toy_store)
    assert (stop.value.phase, stop.value.iteration) == (phase, iteration)
    resumed = train("toy_easy", config, tmp_path / "stopped", store_path=toy_store, resume=True)
    assert {k: resumed[k] for k in FIGURES} == {k: whole[k] for k in FIGURES}
