import json
import subprocess
import sys

import numpy as np
import pytest

from gazsl.generator.config import PRESETS
from gazsl.store.feature_store import FeatureStore
from gazsl.protocols.protocol import build_runs
from gazsl.io import GazslError
from gazsl.protocols.training import train
from gazsl.train import main

from conftest import cli_error_line

from test_run_safety import DEFAULT_THREADS_ENV as ENV  # the thread count a user gets


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gazsl.train", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=600)


def test_honest_run_writes_metrics(toy_store, tiny_config_file, tmp_path, capsys):
    out = tmp_path / "run"
    main(["--split", "toy_easy", "--store", str(toy_store), "--config", str(tiny_config_file), "--iters", "80", "--out", str(out)])
    metrics = json.loads((out / "metrics.json").read_text())
    # the final line: every figure in percent, chance beside top-1, and what the iteration count is
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert f"top-1 {metrics['zsl_top1']:.1f}% (chance 16.7%;" in line
    assert f"AUSUC {100 * metrics['ausuc']:.1f}%, H {metrics['gzsl_h']:.1f}%" in line
    assert f"{metrics['iterations']} generator iterations, chosen on validation classes" in line
    assert metrics["classifier"] == "knn" and metrics["gzsl_classifier"] == "pivot"
    assert "too coarse to calibrate" in metrics["classifiers_note"]
    for key in ("split", "seed", "iterations", "n_unseen_classes", "zsl_top1", "zsl_top1_per_class", "ausuc",
                "seconds", "config", "gzsl_seen", "gzsl_unseen", "gzsl_h", "protocol", "preset", "versions", "data"):
        assert key in metrics, key
    assert metrics["protocol"] == "honest" and metrics["n_unseen_classes"] == 6
    assert 0 <= metrics["ausuc"] <= 1 and 0 <= metrics["zsl_top1"] <= 100
    assert metrics["iterations"] in range(10, 81, 10)  # chosen on validation classes
    assert metrics["zsl_top1"] > 100 / 6  # the toy world is easy: well above chance
    assert len(metrics["data"]["store_sha256"]) == 64


def test_paper_protocol_reports_oracle_best_and_last(toy_store, tiny_config_file, tmp_path, capsys):
    out = tmp_path / "run"
    main(["--split", "toy_easy", "--store", str(toy_store), "--config", str(tiny_config_file), "--iters", "30",
          "--out", str(out), "--protocol", "paper", "--preset", "paper"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["protocol"] == "paper" and metrics["preset"] == "paper"
    assert metrics["zsl_top1_best"] >= metrics["zsl_top1"]
    assert metrics["ausuc_best"] >= metrics["ausuc"]
    assert "oracle" in metrics["best_selected_on"]
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert f"AUSUC {100 * metrics['ausuc']:.1f}%; best {metrics['zsl_top1_best']:.1f}% at iteration " in line
    assert f"(oracle: chosen on the unseen test classes); {metrics['iterations']} generator iterations, the last" in line


def test_honest_phases_never_train_on_heldout_or_validation_data(toy_store):
    store = FeatureStore.open(toy_store)
    split = store.split("toy_easy")
    runs, _ = build_runs(store, "toy_easy", PRESETS["cpu"], "honest")
    selection, final = runs
    for run in runs:
        assert not np.isin(run.images, split.heldout_images).any()
        assert not np.isin(store.labels[run.images], split.unseen).any()
    assert not np.isin(store.labels[selection.images], split.val).any()
    assert not np.isin(selection.classes, split.val).any()
    assert set(store.labels[final.images]) == set(split.seen)


def test_unknown_split_exits_2_with_one_line(tmp_path):
    result = run_cli("--split", "moon_easy", "--out", tmp_path / "r", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "moon_easy" in result.stderr and "Traceback" not in result.stderr


def test_unknown_config_field_exits_2(tmp_path, toy_store):
    bad = tmp_path / "bad.json"
    bad.write_text('{"learning_rate": 0.1}')
    result = run_cli("--split", "toy_easy", "--store", toy_store, "--config", bad, "--out", tmp_path / "r")
    assert result.returncode == 2 and "learning_rate" in result.stderr and str(bad) in result.stderr


def test_existing_run_is_not_overwritten_without_resume(toy_store, tiny_config_file, tmp_path):
    out = tmp_path / "run"
    args = ["--split", "toy_easy", "--store", toy_store, "--config", tiny_config_file, "--iters", "10", "--out", out]
    assert run_cli(*args).returncode == 0
    again = run_cli(*args)
    assert again.returncode == 2 and "--resume" in again.stderr


def test_every_classifier_scored_on_one_training_gives_what_a_run_of_its_own_gives(toy_store, tiny_config_file,
                                                                                    tmp_path, monkeypatch):
    """One honest run scores every classifier on the same trained generators; a run that scores one classifier alone
    (the protocol before it scored several) gives exactly the figures, iteration count and calibration it reports."""
    from gazsl.protocols import protocol

    config = tmp_path / "patient.json"  # early stopping on: each classifier must stop as it would alone
    config.write_text(json.dumps({**json.loads(tiny_config_file.read_text()), "patience": 2}))
    argv = ["--split", "toy_easy", "--store", str(toy_store), "--config", str(config), "--iters", "120"]
    main([*argv, "--out", str(tmp_path / "shared")])
    shared = json.loads((tmp_path / "shared" / "metrics.json").read_text())
    assert set(shared["by_classifier"]) == set(protocol.CLASSIFIERS)
    chosen = {c: figures["iterations"] for c, figures in shared["by_classifier"].items()}
    assert len(set(chosen.values())) > 1  # the classifiers stop and choose apart: the final run serves several
    for classifier in ("knn", "softmax", "pivot+regression"):
        monkeypatch.setattr(protocol, "CLASSIFIERS", (classifier,))
        main([*argv, "--classifier", classifier, "--out", str(tmp_path / classifier)])
        alone = json.loads((tmp_path / classifier / "metrics.json").read_text())
        for key in (*protocol.FINAL_KEYS, "iterations", "val_top1", "val_top1_per_class", "gzsl_classifier",
                    "temperature", "gzsl_temperature"):
            assert alone[key] == shared["by_classifier"][classifier][key], (classifier, key)
    assert {k: shared[k] for k in protocol.FINAL_KEYS} == {k: shared["by_classifier"]["knn"][k] for k in protocol.FINAL_KEYS}


def folder_state(root) -> dict:
    """Every path under ``root``: its bytes (None for a folder) and modification time, to see that nothing touched it."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes(), p.stat().st_mtime_ns)
            for p in [root, *sorted(root.rglob("*"))]}


@pytest.mark.parametrize("state", ["absent", "empty", "unrelated files"])
def test_resume_with_nothing_to_resume_is_one_line_and_leaves_the_folder_as_it_was(toy_store, tmp_path, capsys, state):
    out = tmp_path / "run"
    if state != "absent":
        out.mkdir()
    if state == "unrelated files":
        (out / "notes.txt").write_text("my notes")
        (out / "tb").mkdir()
        (out / "tb" / "events.bin").write_bytes(b"\x00\x01")
    before = folder_state(tmp_path)
    err = cli_error_line(capsys, main, ["--split", "toy_easy", "--store", str(toy_store), "--out", str(out), "--resume"])
    assert err == f"error: {out}: nothing to resume (no checkpoint); drop --resume to start a new run"
    assert folder_state(tmp_path) == before


def test_the_library_refuses_to_resume_a_folder_without_checkpoints(toy_store, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(GazslError, match="nothing to resume"):
        train("toy_easy", PRESETS["cpu"], out, store_path=toy_store, resume=True)
    assert not out.exists()
