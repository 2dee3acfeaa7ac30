"""Every table command (reproduce, leaderboard, the benchmark, tune) stopped by SIGTERM or Ctrl-C mid-cell says in
one line how to resume, exits as train does (143 / 130), and resumed gives the figures of an uninterrupted run."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROGRESS_LINE, make_toy_store
from test_run_safety import DEFAULT_THREADS_ENV, FIGURES, wait_for

ROOT = Path(__file__).resolve().parents[1]
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
    lines = [line for line in stderr.splitlines() if line.strip() and not PROGRESS_LINE.fullmatch(line)]
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


# ------------------------------------------------------------------ the other table commands
def stop_mid_cell(command: list[str], checkpoint_root, signum=signal.SIGTERM, env=None):
    """Start a table command, signal it once a GAZSL checkpoint exists under ``checkpoint_root``: (exit code, the
    lines it wrote to stderr that are not progress)."""
    process = subprocess.Popen([sys.executable, "-m", *command], env=env or DEFAULT_THREADS_ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not list(checkpoint_root.rglob("checkpoint_*.pt")) and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=300)
    lines = [line for line in stderr.splitlines() if line.strip() and not PROGRESS_LINE.fullmatch(line)
             and not line.startswith(("+ gazsl benchmark", "done: gazsl benchmark"))]  # the benchmark's cell lines
    return process.returncode, lines


def resume_line(lines: list[str], module: str, args: list[str]) -> list[str]:
    assert len(lines) == 1 and lines[0].startswith("interrupted "), lines
    command = shlex.split(lines[0].split("; resume with: ", 1)[1])
    assert command == ["python", "-m", module, *args]
    return command


def test_the_leaderboard_stopped_mid_cell_resumes_to_the_uninterrupted_figures(configs, reference, tmp_path):
    args = ["--splits", "toy_easy", "--seeds", "1", "--methods", "gazsl", "prototype", "--configs", str(configs),
            "--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "results"), "--jobs", "2"]
    code, lines = stop_mid_cell(["gazsl.leaderboard", *args], tmp_path / "runs")
    assert code == 143
    command = resume_line(lines, "gazsl.leaderboard", args)
    assert not (tmp_path / "results" / "leaderboard.md").exists()
    resumed = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True, env=DEFAULT_THREADS_ENV,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    # the leaderboard's plain GAZSL training is reproduce's honest run of the same config
    honest = json.loads((tmp_path / "runs" / "toy_easy" / "honest" / "seed0" / "metrics.json").read_text())
    assert {k: honest[k] for k in FIGURES if k in honest} == reference[("honest", "seed0")]


@pytest.fixture(scope="module")
def benchmark_design(configs, tmp_path_factory):
    """A benchmark of the toy store: 3 folds, GAZSL and prototype regression; and its uninterrupted cells' rows."""
    root = tmp_path_factory.mktemp("benchmark")
    cell = json.loads((configs / "toy_easy.json").read_text())
    (root / "features").mkdir()
    os.symlink(cell["store"], root / "features" / "toy.h5")
    design = json.loads((ROOT / "experiments" / "benchmark.json").read_text())
    design.update(protocols={"toy_scs": {"store": "toy", "text": "tfidf", "rule": "random", "folds": 3, "repeats": 1,
                                         "seed": 0}},
                  validation_folds=2, baselines=["prototype"], trainings={"gazsl": cell["overrides"]})
    (root / "design.json").write_text(json.dumps(design))
    env = {**DEFAULT_THREADS_ENV, "GAZSL_FEATURES": str(root / "features")}
    made = subprocess.run([sys.executable, "-m", "gazsl.benchmark", "--design", str(root / "design.json"), "--runs",
                           str(root / "runs"), "run", "--results", str(root / "results")], capture_output=True,
                          text=True, env=env, timeout=600)
    assert made.returncode == 0, made.stderr
    return root / "design.json", env, benchmark_rows(root / "results")


def benchmark_rows(results) -> dict:
    cells = json.loads((results / "benchmark.json").read_text())["cells"]
    return {json.dumps(c["cell"], sort_keys=True): c["rows"] for c in cells}


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_benchmark_stopped_mid_cell_resumes_to_the_uninterrupted_rows(benchmark_design, tmp_path, jobs):
    design, env, uninterrupted = benchmark_design
    args = ["--design", str(design), "--runs", str(tmp_path / "runs"), "run", "--results", str(tmp_path / "results"),
            "--jobs", str(jobs)]
    code, lines = stop_mid_cell(["gazsl.benchmark", *args], tmp_path / "runs", env=env)
    assert code == 143
    command = resume_line(lines, "gazsl.benchmark", args)
    assert not (tmp_path / "results" / "benchmark.md").exists()
    resumed = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert benchmark_rows(tmp_path / "results") == uninterrupted


def test_tune_stopped_mid_trial_says_one_line_and_the_rerun_fills_the_study(configs, tmp_path):
    pytest.importorskip("optuna", reason="gazsl tune needs the tune extra: pip install -e '.[tune]'")
    args = ["--split", "toy_easy", "--trials", "3", "--configs", str(configs), "--storage",
            str(tmp_path / "study.log"), "--results", str(tmp_path / "results")]
    scratch = tmp_path / "scratch"  # a trial checkpoints into a temporary folder of its own
    scratch.mkdir()
    code, lines = stop_mid_cell(["gazsl.tune", *args], scratch, signum=signal.SIGINT,
                                env={**DEFAULT_THREADS_ENV, "TMPDIR": str(scratch)})
    assert code == 130
    command = resume_line(lines, "gazsl.tune", args)
    resumed = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True, env=DEFAULT_THREADS_ENV,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "3 of 3 trials" in resumed.stdout and "0 failed" in resumed.stdout  # the stopped trial's slot was rerun
