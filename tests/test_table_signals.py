"""A table command (here gazsl.reproduce, built on run_cells as every table command is) stopped by SIGTERM or Ctrl-C
says in one line how to resume, exits as train does, and resumed gives the figures of an uninterrupted run."""

import json
import os
import shlex
import signal
import subprocess
import sys

import pytest

from conftest import make_toy_store
from test_run_safety import DEFAULT_THREADS_ENV, FIGURES, wait_for

CELLS = [("honest", "seed0"), ("paper", "seed0")]


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    """One experiment config, toy_easy, wide enough that a cell lasts the seconds a signal needs to land in it."""
    root = tmp_path_factory.mktemp("table")
    store = make_toy_store(root / "toy.h5", n_classes=24, per_class=40)
    folder = root / "configs"
    folder.mkdir()
    overrides = {"text_reduced_dim": 64, "generator_hidden": 256, "critic_hidden": 256, "batch_size": 128,
                 "critic_steps": 2, "eval_start": 10, "eval_every": 10, "log_every": 5, "checkpoint_every": 5,
                 "samples_per_class": 20, "knn_k": 5, "patience": 0, "lr": 1e-3, "bf16": "off", "iterations": 30,
                 "device": "cpu"}
    (folder / "toy_easy.json").write_text(json.dumps({"split": "toy_easy", "preset": "cpu", "store": str(store),
                                                      "overrides": overrides}))
    return folder


def reproduce_args(configs, root, jobs):
    return ["--splits", "toy_easy", "--seeds", "1", "--configs", str(configs), "--runs", str(root / "runs"),
            "--results", str(root / "results"), "--jobs", str(jobs)]


def figures(runs):
    metrics = {cell: json.loads((runs / "toy_easy" / cell[0] / cell[1] / "metrics.json").read_text()) for cell in CELLS}
    return {cell: {k: m[k] for k in FIGURES if k in m} for cell, m in metrics.items()}  # paper: no GZSL H


@pytest.fixture(scope="module")
def reference(configs, tmp_path_factory):
    root = tmp_path_factory.mktemp("uninterrupted")
    result = subprocess.run([sys.executable, "-m", "gazsl.reproduce", *reproduce_args(configs, root, 1)],
                            capture_output=True, text=True, env=DEFAULT_THREADS_ENV, timeout=600)
    assert result.returncode == 0, result.stderr
    return figures(root / "runs")


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_cell_prints_one_resume_line_and_the_rerun_matches(configs, reference, tmp_path, signum, code,
                                                                         jobs):
    args = reproduce_args(configs, tmp_path, jobs)
    process = subprocess.Popen([sys.executable, "-m", "gazsl.reproduce", *args], env=DEFAULT_THREADS_ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(tmp_path / "runs" / "toy_easy" / "honest" / "seed0" / "checkpoint_select.pt", process)
    process.send_signal(signum)  # to the command alone, as `kill` sends it (Ctrl-C: the command then forwards it)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == code, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted "), stderr
    command = shlex.split(lines[0].split("; resume with: ", 1)[1])
    assert command == ["python", "-m", "gazsl.reproduce", *args]
    assert not (tmp_path / "results" / "toy_easy.md").exists()
    assert list((tmp_path / "runs").rglob("checkpoint_*.pt"))  # what was trained is kept
    resumed = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True, env=DEFAULT_THREADS_ENV,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "taking over" not in resumed.stderr  # a clean stop releases its locks
    assert figures(tmp_path / "runs") == reference
