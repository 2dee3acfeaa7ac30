"""Training that diverges (NaN or inf losses) stops with one clear line, exit code 2, and a good checkpoint kept."""

import json
import math

import pytest
import torch

from conftest import cli_error_line
from gazsl.io import run_cli
from gazsl.generator.checkpoint import load_checkpoint
from gazsl.train import main
from gazsl.generator.trainer import GazslTrainer


def tiny(tmp_path, **changes):
    values = {"text_reduced_dim": 16, "generator_hidden": 32, "critic_hidden": 32, "batch_size": 64, "critic_steps": 2,
              "eval_start": 100, "eval_every": 10, "log_every": 5, "checkpoint_every": 5, "samples_per_class": 10,
              "knn_k": 5, "patience": 0, "lr": 3e-3, "bf16": "off", **changes}  # off: as tests/conftest.py says
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(values))
    return path


def poison_after(monkeypatch, step: int) -> None:
    """Make the generator's weights NaN right after training step ``step`` of the first phase, as a blow-up would."""
    real, calls = GazslTrainer.step, {"n": 0}

    def step_then_poison(self, *args, **kwargs):
        logs = real(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == step:
            with torch.no_grad():
                next(self.netG.parameters()).fill_(float("nan"))
        return logs

    monkeypatch.setattr(GazslTrainer, "step", step_then_poison)


def all_finite(state: dict) -> bool:
    return all(torch.isfinite(t).all() for net in ("netG", "netD") for t in state["trainer"][net].values())


def test_divergence_stops_naming_iteration_and_last_good_checkpoint(toy_store, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    args = ["--split", "toy_easy", "--store", str(toy_store), "--config", str(tiny(tmp_path)), "--iters", "20",
            "--device", "cpu", "--out", str(out)]
    poison_after(monkeypatch, 12)
    line = cli_error_line(capsys, main, args, after_progress=True)
    checkpoint = out / "checkpoint_select.pt"
    assert "training diverged at iteration 15 of phase 'select'" in line, line
    assert f"last good checkpoint kept: {checkpoint} (iteration 10)" in line, line
    assert not (out / "metrics.json").exists()

    state = load_checkpoint(checkpoint)  # kept, loadable, and from before the blow-up
    assert state["iteration"] == 10 and all_finite(state)

    monkeypatch.undo()  # e.g. after lowering the learning rate: the run resumes from the good checkpoint
    with pytest.raises(SystemExit) as stop:
        run_cli(main, args + ["--resume"])
    assert stop.value.code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert math.isfinite(metrics["zsl_top1"])


def test_real_divergence_from_an_absurd_learning_rate(toy_store, tmp_path, capsys):
    out = tmp_path / "run"
    config = tiny(tmp_path, lr=1e10, log_every=1, checkpoint_every=1)
    line = cli_error_line(capsys, main, ["--split", "toy_easy", "--store", str(toy_store), "--config", str(config), "--iters", "20",
                              "--device", "cpu", "--out", str(out)], after_progress=True)
    assert line.startswith("error: training diverged at iteration ") and "not finite" in line, line
    # never a checkpoint of a diverged model: any checkpoint left behind holds finite weights only
    checkpoint = out / "checkpoint_select.pt"
    if checkpoint.exists():
        assert all_finite(load_checkpoint(checkpoint)) and str(checkpoint) in line
    else:
        assert "last good checkpoint kept: none yet" in line


def test_no_evaluation_or_checkpoint_sees_a_diverged_model(toy_store, tmp_path, monkeypatch, capsys):
    """Losses are checked before every evaluation too, not only on the log schedule (here every 7 iterations)."""
    out = tmp_path / "run"
    config = tiny(tmp_path, log_every=7, checkpoint_every=100, eval_start=10, eval_every=10)
    poison_after(monkeypatch, 8)
    line = cli_error_line(capsys, main, ["--split", "toy_easy", "--store", str(toy_store), "--config", str(config), "--iters", "30",
                              "--device", "cpu", "--out", str(out)], after_progress=True)
    assert "training diverged at iteration 10 of phase 'select'" in line and "none yet" in line, line
    assert not (out / "checkpoint_select.pt").exists()
