"""gazsl.tune: honest by construction (the trials see a store view without unseen classes), workers sharing one
study of exactly N trials, surviving a SIGKILL, a best config that round-trips, bad input exiting 2 with one line.

Optuna is an optional extra: every test that needs it is skipped, with the reason, where it is missing."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import cli_error_line, make_toy_store
from gazsl.io import GazslError
from gazsl.store.feature_store import FeatureStore
from gazsl.protocols.protocol import honest_sets
from gazsl.generator.trainer import GazslTrainer

ROOT = Path(__file__).resolve().parents[1]
# One thread, so that a trial and a run of gazsl.train with its config compute bit for bit alike (issue 12 is
# making runs repeat at the default thread count too).
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
TINY = {"text_reduced_dim": 16, "generator_hidden": 32, "critic_hidden": 32, "batch_size": 64, "critic_steps": 2,
        "eval_start": 10, "eval_every": 10, "log_every": 5, "checkpoint_every": 5, "samples_per_class": 10,
        "knn_k": 5, "patience": 0, "lr": 3e-3, "iterations": 40}
SPACE = {"method": "gazsl", "params": {"lr": {"low": 1e-3, "high": 5e-3, "log": True},
                                       "classifier": {"choices": ["knn", "pivot"]}, "knn_k": {"low": 1, "high": 8}}}


@pytest.fixture
def optuna():
    return pytest.importorskip("optuna", reason="Optuna is not installed (pip install 'gazsl[tune]')")


@pytest.fixture
def toy(tmp_path):
    """A toy store, its experiment config (tiny GAZSL settings) and a small search space."""
    store = make_toy_store(tmp_path / "toy.h5")
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "toy_easy.json").write_text(json.dumps({"split": "toy_easy", "preset": "cpu", "store": str(store),
                                                       "overrides": TINY}))
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    return {"store": store, "configs": configs, "space": space}


def tune_args(toy, tmp_path, *extra):
    return ["--split", "toy_easy", "--configs", str(toy["configs"]), "--space", str(toy["space"]),
            "--results", str(tmp_path / "results"), *map(str, extra)]


def tune_process(toy, tmp_path, *extra):
    return subprocess.Popen([sys.executable, "-m", "gazsl.tune", *tune_args(toy, tmp_path, *extra)], cwd=tmp_path,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process, timeout=600):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


def load(optuna, storage: str, name="toy_easy-gazsl"):
    from gazsl.tuning.study import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(storage))


# ------------------------------------------------------------------ without Optuna
def test_without_optuna_it_says_how_to_install_it(tmp_path):
    code = ("import sys; sys.modules['optuna'] = None\n"  # as if it were not installed
            "from gazsl.io import run_cli; from gazsl.tune import main\n"
            "run_cli(main, ['--split', 'toy_easy', '--trials', '1'])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, cwd=tmp_path,
                            timeout=300)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "pip install 'gazsl[tune]'" in result.stderr


# ------------------------------------------------------------------ honest by construction
def test_the_view_holds_only_the_selection_runs_data(toy):
    from gazsl.tuning.trials import VIEW_SPLIT, seen_view

    store = FeatureStore.open(toy["store"])
    split = store.split("toy_easy")
    sets = honest_sets(store, split)
    view = seen_view(store, "toy_easy")
    rows = np.union1d(sets.fit_images, sets.val_images)
    # exactly the training images of seen-minus-validation classes and the validation images, in the store's order
    np.testing.assert_array_equal(view.features, store.features[rows])
    assert not np.isin(rows, images := np.flatnonzero(np.isin(store.labels, split.unseen))).any() and len(images)
    held_out_training = np.setdiff1d(split.heldout_images, sets.val_images)
    assert len(held_out_training) and not np.isin(rows, held_out_training).any()
    # no unseen class at all: not its images, its name, nor its text vector
    assert view.n_classes == len(split.seen) and set(view.class_names) == {store.class_names[c] for c in split.seen}
    assert view.texts["tfidf"].vectors.shape[0] == len(split.seen)
    np.testing.assert_array_equal(view.texts["tfidf"].vectors, store.texts["tfidf"].vectors[np.sort(split.seen)])
    names = np.array(view.class_names)
    part = view.split(VIEW_SPLIT)
    assert set(names[part.seen]) == {store.class_names[c] for c in sets.fit_classes}
    assert list(names[part.unseen]) == [store.class_names[c] for c in split.val]
    assert [store.class_names[c] for c in store.labels[rows]] == list(names[view.labels])


def alter(path: Path, out: Path, which: str) -> Path:
    """A copy of the store whose features of unseen classes / of validation classes are replaced by noise."""
    store = FeatureStore.open(path)
    split = store.split("toy_easy")
    if which == "unseen":
        # unseen images, unseen text and held-out images of training classes: nothing of them may reach a trial
        rows = np.flatnonzero(np.isin(store.labels, split.unseen))
        rows = np.union1d(rows, np.setdiff1d(split.heldout_images, np.flatnonzero(np.isin(store.labels, split.val))))
        store.texts["tfidf"].vectors[split.unseen] = np.random.default_rng(1).random(
            (len(split.unseen), store.texts["tfidf"].vectors.shape[1])).astype(np.float32)
    else:
        rows = np.flatnonzero(np.isin(store.labels, split.val))
    store.features[rows] = np.random.default_rng(0).random((len(rows), store.features.shape[1])).astype(np.float32) * 9
    store.save(out)
    return out


def trial_values(optuna, store_path: Path, space_path: Path, method: str, params: list[dict]) -> list[float]:
    from gazsl.generator import config as config_module
    from gazsl.tuning.trials import baseline_trial, gazsl_trial, seen_view
    from gazsl.tuning.space import load_space

    view = seen_view(FeatureStore.open(store_path), "toy_easy")
    config = config_module.from_mapping(config_module.preset("cpu"), TINY)
    space, _ = load_space(method, space_path)
    study = optuna.create_study(direction="maximize")
    values = []
    for p in params:
        study.enqueue_trial(p)
        trial = study.ask()
        values.append(gazsl_trial(trial, view, config, space) if method == "gazsl"
                      else baseline_trial(trial, view, method, "tfidf", 0, space))
        study.tell(trial, values[-1])
    return values


def test_unseen_data_cannot_change_a_trial(optuna, toy, tmp_path):
    gazsl_params = [{"lr": 3e-3, "classifier": "knn", "knn_k": 5}, {"lr": 2e-3, "classifier": "pivot", "knn_k": 1}]
    prototype_space = tmp_path / "prototype.json"
    prototype_space.write_text(json.dumps({"method": "prototype", "params": {"alpha": {"low": 0.01, "high": 10.0}}}))
    figures = {}
    for which in ("original", "unseen", "validation"):
        path = toy["store"] if which == "original" else alter(toy["store"], tmp_path / f"{which}.h5", which)
        figures[which] = (trial_values(optuna, path, toy["space"], "gazsl", gazsl_params)
                          + trial_values(optuna, path, prototype_space, "prototype", [{"alpha": 1.0}]))
    assert figures["unseen"] == figures["original"]
    # the control: the trials do look at the validation classes, so noise there moves every figure
    assert all(a != b for a, b in zip(figures["validation"], figures["original"])), figures


# ------------------------------------------------------------------ pruning, failures
def run_in_memory(optuna, toy, pruner, n_trials=1, objective=None):
    from gazsl.generator import config as config_module
    from gazsl.tuning.trials import gazsl_trial, seen_view
    from gazsl.tuning.space import load_space
    from gazsl.tuning.study import run_trials

    view = seen_view(FeatureStore.open(toy["store"]), "toy_easy")
    config = config_module.from_mapping(config_module.preset("cpu"), TINY)
    space, _ = load_space("gazsl", toy["space"])
    study = optuna.create_study(direction="maximize", pruner=pruner)
    run_trials(study, objective or (lambda trial, stop: gazsl_trial(trial, view, config, space, stop)), n_trials, seed=7)
    return study


def test_each_evaluation_is_reported_and_weak_trials_are_pruned(optuna, toy):
    study = run_in_memory(optuna, toy, optuna.pruners.NopPruner())
    trial = study.trials[0]
    assert trial.state.name == "COMPLETE" and trial.user_attrs["seed"] == 7
    assert sorted(trial.intermediate_values) == [10, 20, 30, 40]  # every periodic evaluation of the selection run
    assert trial.value == max(trial.intermediate_values.values())  # the evaluation the honest protocol selects
    assert trial.intermediate_values[trial.user_attrs["iteration"]] == trial.value

    pruned = run_in_memory(optuna, toy, optuna.pruners.ThresholdPruner(lower=1000.0)).trials[0]
    assert pruned.state.name == "PRUNED" and list(pruned.intermediate_values) == [10]  # stopped at the first


def test_a_diverged_trial_fails_with_its_reason_and_the_study_goes_on(optuna, toy, monkeypatch):
    real = GazslTrainer.step

    def blow_up_at_high_lr(self, *args, **kwargs):
        logs = real(self, *args, **kwargs)
        if self.config.lr > 4e-3:
            with torch.no_grad():
                next(self.netG.parameters()).fill_(float("nan"))
        return logs

    monkeypatch.setattr(GazslTrainer, "step", blow_up_at_high_lr)
    from gazsl.generator import config as config_module
    from gazsl.tuning.trials import gazsl_trial, seen_view
    from gazsl.tuning.space import load_space
    from gazsl.tuning.study import run_trials, trial_counts

    view = seen_view(FeatureStore.open(toy["store"]), "toy_easy")
    config = config_module.from_mapping(config_module.preset("cpu"), TINY)
    space, _ = load_space("gazsl", toy["space"])
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    for lr in (4.5e-3, 2e-3, 3e-3):
        study.enqueue_trial({"lr": lr, "classifier": "pivot", "knn_k": 3})
    assert run_trials(study, lambda trial, stop: gazsl_trial(trial, view, config, space, stop), 3, seed=0) == 3
    failed, *rest = study.trials
    assert failed.state.name == "FAIL" and [t.state.name for t in rest] == ["COMPLETE", "COMPLETE"]
    assert failed.user_attrs["fail_reason"].startswith("training diverged at iteration 5 of phase 'select'")
    assert "\n" not in failed.user_attrs["fail_reason"]
    assert trial_counts(study)["failed"] == 1  # a result of its settings: it holds one of the 3 slots


def test_running_trials_of_dead_workers_are_released(optuna):
    from gazsl.tuning.study import counted, release_abandoned

    study = optuna.create_study(direction="maximize")
    quiet, alive, dead_here = study.ask(), study.ask(), study.ask()
    quiet.set_user_attr("worker", "another-machine:123")
    quiet.set_user_attr("heartbeat", time.time() - 3600)  # silent for an hour
    quiet.set_user_attr("heartbeat_every", 30.0)
    alive.set_user_attr("worker", "another-machine:124")
    alive.set_user_attr("heartbeat", time.time())
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    dead_here.set_user_attr("worker", f"{socket.gethostname()}:{int(finished.stdout)}")  # its process has exited
    dead_here.set_user_attr("heartbeat", time.time())
    release_abandoned(study)
    states = [t.state.name for t in study.trials]
    assert states == ["FAIL", "RUNNING", "FAIL"], states
    assert [counted(t) for t in study.trials] == [False, True, False]  # the dead ones' slots are free again


# ------------------------------------------------------------------ many workers, one study
@pytest.mark.parametrize("mode", ["two commands, journal file", "--jobs 2, default SQLite"])
def test_workers_on_one_storage_finish_exactly_n_trials(optuna, toy, tmp_path, mode):
    n = 6
    if mode.startswith("two"):
        storage = str(tmp_path / "study.log")
        workers = [tune_process(toy, tmp_path, "--trials", n, "--storage", storage) for _ in range(2)]
        for worker in workers:
            finish(worker)
    else:
        storage = f"sqlite:///{tmp_path / 'runs' / 'tune' / 'toy_easy' / 'optuna.db'}"  # the default, in cwd
        finish(tune_process(toy, tmp_path, "--trials", n, "--jobs", 2))
    trials = load(optuna, storage).trials
    assert [t.number for t in trials] == list(range(len(trials)))
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) == n, [(t.number, t.state.name, t.user_attrs) for t in trials]
    assert all(t.user_attrs.get("surplus") for t in trials if t not in done)  # at most a race's placeholder
    assert len({t.user_attrs["worker"] for t in done}) == 2  # both workers took part
    assert len({tuple(sorted(t.params.items())) for t in done}) == n  # n different settings, none run twice
    if not mode.startswith("two"):
        return
    # a rerun adds only what is missing: nothing when the study is full, the difference for a larger N
    rerun = finish(tune_process(toy, tmp_path, "--trials", n, "--storage", storage))
    assert f"{n} of {n} trials (0 run here" in rerun and len(load(optuna, storage).trials) == len(trials)
    more = finish(tune_process(toy, tmp_path, "--trials", n + 1, "--storage", storage))
    assert f"{n + 1} of {n + 1} trials (1 run here" in more


def test_a_worker_killed_mid_trial_leaves_a_study_that_a_rerun_completes(optuna, toy, tmp_path):
    storage = str(tmp_path / "study.log")
    # trials of 200 iterations: long enough to be killed in the middle of one
    worker = tune_process(toy, tmp_path, "--trials", 3, "--storage", storage, "--iters", 200)
    deadline = time.time() + 300
    while not (tmp_path / "study.log").exists() or not any(
            t.state.name == "RUNNING" and "seed" in t.user_attrs for t in load_quietly(optuna, storage)):
        assert worker.poll() is None and time.time() < deadline, worker.communicate()
        time.sleep(0.2)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    left = load(optuna, storage).trials
    assert left[-1].state.name == "RUNNING"  # what Optuna leaves behind a SIGKILL

    out = finish(tune_process(toy, tmp_path, "--trials", 3, "--storage", storage, "--iters", 200))
    trials = load(optuna, storage).trials
    killed = trials[left[-1].number]
    assert killed.state.name == "FAIL" and "fail_reason" not in killed.user_attrs  # released, not counted
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) == 3
    assert "3 of 3 trials" in out
    assert "abandoned by a dead worker" in (tmp_path / "results" / "toy_easy.md").read_text()


def load_quietly(optuna, storage, name="toy_easy-gazsl"):
    try:
        return load(optuna, storage, name).trials
    except KeyError:  # the study is not written yet
        return []


# ------------------------------------------------------------------ the best trial as a config
def test_best_config_round_trips_through_train_reproduce_and_leaderboard(optuna, toy, tmp_path):
    from gazsl.leaderboard import main as leaderboard
    from gazsl.reproduce import main as reproduce
    from gazsl.tune import main as tune

    tuned = tmp_path / "tuned"
    best = tuned / "toy_easy.json"
    storage = str(tmp_path / "study.log")
    # in this process, at one thread (tests/conftest.py)
    tune(tune_args(toy, tmp_path, "--trials", 3, "--storage", storage, "--best-config", best))
    prototype_space = tmp_path / "prototype.json"
    prototype_space.write_text(json.dumps({"method": "prototype", "params": {
        "alpha": {"low": 0.01, "high": 10.0, "log": True}, "feature_norm": {"choices": ["none", "l2"]}}}))
    tune(["--split", "toy_easy", "--configs", str(toy["configs"]), "--results", str(tmp_path / "results"),
          "--method", "prototype", "--space", str(prototype_space), "--trials", "4", "--storage", storage,
          "--best-config", str(best)])
    cell = json.loads(best.read_text())
    gazsl, prototype = cell["tuned"]["gazsl"], cell["tuned"]["prototype"]
    assert cell["note"] == ("gazsl: tuned on validation classes by gazsl.tune, 3 trials, study toy_easy-gazsl; "
                            "prototype: tuned on validation classes by gazsl.tune, 4 trials, study toy_easy-prototype")
    assert {k: cell["overrides"][k] for k in gazsl["params"]} == gazsl["params"]

    # gazsl.train --config in a fresh process repeats the best trial's validation figure
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "gazsl.train", "--split", "toy_easy", "--store", str(toy["store"]),
                             "--config", str(best), "--out", str(out), "--device", "cpu"],
                            capture_output=True, text=True, env=ENV, timeout=600)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["val_top1_per_class"] == gazsl["val_top1_per_class"]

    # the table commands take it as a split's config and say where it comes from
    reproduce(["--splits", "toy_easy", "--seeds", "1", "--protocol", "honest", "--configs", str(tuned),
               "--results", str(tmp_path / "tables"), "--runs", str(tmp_path / "runs")])
    assert cell["note"] in (tmp_path / "tables" / "toy_easy.md").read_text()
    leaderboard(["--splits", "toy_easy", "--seeds", "1", "--methods", "prototype", "--configs", str(tuned),
                 "--results", str(tmp_path / "tables"), "--runs", str(tmp_path / "runs")])
    board = json.loads((tmp_path / "tables" / "leaderboard.json").read_text())["cells"][0]
    assert board["params"] == prototype["params"] and board["val_top1_per_class"] == prototype["val_top1_per_class"]
    text = (tmp_path / "tables" / "leaderboard.md").read_text()
    assert cell["note"] in text and "on toy_easy the setting gazsl.tune chose" in text

    summary = (tmp_path / "results" / "toy_easy.md").read_text()
    assert "## Study `toy_easy-gazsl`" in summary and "## Study `toy_easy-prototype`" in summary
    assert "Trials last added by `python -m gazsl.tune --split toy_easy" in summary
    for name in ("toy_easy_toy_easy-gazsl_history.png", "toy_easy_toy_easy-gazsl_importance.png",
                 "toy_easy_toy_easy-prototype_history.png"):
        assert (tmp_path / "results" / name).read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("params, problem", [
    ({"learning_rate": {"low": 0.1, "high": 1.0}}, "unknown parameter 'learning_rate' for method gazsl"),
    ({"lr": {"low": 0.1, "high": 0.01}}, "empty range: low 0.1 > high 0.01"),
    ({"classifier": {"choices": []}}, "empty or malformed list of choices"),
    ({"classifier": {"choices": ["knn", "svm"]}}, "field 'classifier' must be one of"),
    ({"lr": {"low": 0.0, "high": 0.01, "log": True}}, "a log-scale range needs low > 0"),
    ({"knn_k": {"low": 1.5, "high": 8}}, "'knn_k' takes int values"),
    ({"seed": {"low": 0, "high": 8}}, "'seed' is not tuned"),
])
def test_a_bad_search_space_exits_2_naming_file_and_key(optuna, toy, tmp_path, capsys, params, problem):
    from gazsl.tune import main

    space = tmp_path / "bad.json"
    space.write_text(json.dumps({"method": "gazsl", "params": params}))
    line = cli_error_line(capsys, main, ["--split", "toy_easy", "--configs", str(toy["configs"]), "--space", str(space),
                                    "--trials", "1", "--storage", str(tmp_path / "s.log")])
    assert str(space) in line and problem in line, line
    assert f"[params/{next(iter(params))}]" in line, line


def test_a_baseline_space_is_checked_against_the_baseline(optuna, tmp_path):
    from gazsl.tuning.space import load_space

    space = tmp_path / "bad.json"
    space.write_text(json.dumps({"method": "eszsl", "params": {"lam": {"low": -1.0, "high": 1.0}}}))
    with pytest.raises(GazslError, match=r"bad.json \[params/lam\]: ESZSL.fit: lam must be a positive number"):
        load_space("eszsl", space)
    space.write_text(json.dumps({"method": "eszsl", "params": {"alpha": {"low": 1.0, "high": 2.0}}}))
    with pytest.raises(GazslError, match="unknown parameter 'alpha' for method eszsl"):
        load_space("eszsl", space)
    for method in ("gazsl", "eszsl", "prototype", "wac_linear"):  # the shipped spaces are valid
        assert load_space(method)[0]


def test_an_unusable_storage_or_study_exits_2_with_one_line(optuna, toy, tmp_path, capsys):
    from gazsl.tune import main

    a_file = tmp_path / "a_file"
    a_file.write_text("")
    args = ["--split", "toy_easy", "--configs", str(toy["configs"]), "--trials", "1", "--method", "prototype",
            "--results", str(tmp_path / "results")]
    for storage in (f"sqlite:///{a_file}/sub/x.db", str(a_file / "study.log"), "nosuchdb://somewhere/x", "study.db"):
        line = cli_error_line(capsys, main, [*args, "--storage", storage])
        assert f"--storage {storage}: cannot open it" in line, line
    line = cli_error_line(capsys, main, [*args, "--storage", "mysql://user:secret@127.0.0.1:1/db"])
    assert "secret" not in line and "cannot open it" in line

    storage = str(tmp_path / "study.log")
    run_cli_ok = main([*args, "--storage", storage])
    assert run_cli_ok == 0
    line = cli_error_line(capsys, main, [*args, "--storage", storage, "--seed", "1"])
    assert "study 'toy_easy-prototype' was made with other settings (fixed.seed: 0, now 1)" in line, line
