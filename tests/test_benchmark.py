"""The cross-validated benchmark: folds over classes, multi-fold selection that never sees unseen classes, paired
intervals, and cells that run as separate commands and are collected by the table."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gazsl.store.splits import class_folds, cv_splits, validation_folds
from gazsl.store.feature_store import FeatureStore
from gazsl.protocols.paired import corrected_interval, paired


# ---------------------------------------------------------------- folds
@pytest.mark.parametrize("rule", ["random", "family"])
def test_folds_partition_the_classes_each_unseen_once_per_repeat(rule):
    families = np.arange(60) // 4  # 15 families of 4
    for repeat in range(3):
        folds = class_folds(np.arange(60), 5, rule, [7, repeat], families)
        joined = np.concatenate(folds)
        assert sorted(joined.tolist()) == list(range(60))  # every class in exactly one fold
        assert max(map(len, folds)) - min(map(len, folds)) <= (1 if rule == "random" else 4)
    assert [f.tolist() for f in class_folds(np.arange(60), 5, rule, [7, 0], families)] != \
        [f.tolist() for f in class_folds(np.arange(60), 5, rule, [7, 1], families)]  # repeats draw anew


def test_family_folds_share_no_family_across_seen_and_unseen_and_validation_likewise():
    rng = np.random.default_rng(0)
    families = rng.integers(0, 20, size=100)
    labels = np.repeat(np.arange(100), 5)
    for split, val in cv_splits("x", 100, labels, 5, 2, "family", 3, 3, families):
        assert not set(families[split.unseen]) & set(families[split.seen])
        assert len(val) == 3 and all(np.isin(v, split.seen).all() for v in val)
        assert sum(map(len, val)) == len(np.unique(np.concatenate(val)))  # disjoint
        for v in val:
            fit = np.setdiff1d(split.seen, v)
            assert not set(families[v]) & set(families[fit])
        assert np.array_equal(split.val, val[0])
        assert np.isin(labels[split.heldout_images], split.seen).all()


def test_random_validation_folds_are_disjoint_draws_of_about_a_fifth():
    folds = validation_folds(np.arange(80), 3, 0.2, "random", 0)
    assert [len(f) for f in folds] == [16, 16, 16]
    assert len(np.unique(np.concatenate(folds))) == 48


# ---------------------------------------------------------------- the interval
def test_corrected_interval_on_a_hand_computed_case():
    # d = 1, 2, 3, 4: mean 2.5, sample variance 5/3; t(3, 0.975) = 3.18245; (1/4 + 1/4) * 5/3 = 5/6
    mean, low, high = corrected_interval([1, 2, 3, 4], 0.25)
    half = 3.182446305 * np.sqrt(5 / 6)
    assert mean == pytest.approx(2.5) and low == pytest.approx(2.5 - half) and high == pytest.approx(2.5 + half)
    # without overlap it is the plain t interval, narrower
    assert corrected_interval([1, 2, 3, 4], 0.0)[2] == pytest.approx(2.5 + 3.182446305 * np.sqrt(5 / 12))


def test_interval_covers_a_known_mean_as_often_as_it_says():
    """Independent folds (test_to_train 0): 95 % of plain intervals cover the true difference. Folds that share a
    draw effect with correlation rho = n_test / (n_test + n_train) (0.2 for 20 unseen of 100 classes), the overlap
    the correction assumes: the plain interval under-covers, the corrected one covers 95 %."""
    rng = np.random.default_rng(0)
    covered = [lo <= 1.5 <= hi for lo, hi in
               (corrected_interval(rng.normal(1.5, 2.0, 10), 0.0)[1:] for _ in range(2000))]
    assert 0.93 <= np.mean(covered) <= 0.97
    draws = [1.5 + rng.normal(0, np.sqrt(0.2)) + rng.normal(0, np.sqrt(0.8), 10) for _ in range(2000)]
    plain = np.mean([lo <= 1.5 <= hi for lo, hi in (corrected_interval(d, 0.0)[1:] for d in draws)])
    corrected = np.mean([lo <= 1.5 <= hi for lo, hi in (corrected_interval(d, 0.25)[1:] for d in draws)])
    assert plain < 0.85 and 0.92 <= corrected <= 0.98, (plain, corrected)


def test_paired_counts_wins_and_losses_and_refuses_unpaired_figures():
    p = paired([10, 12, 9, 11], [9, 12, 10, 8], 0.25)
    assert (p.wins, p.losses, p.ties, p.n) == (2, 1, 1, 4) and p.mean == pytest.approx(0.75)
    with pytest.raises(ValueError):
        paired([1, 2, 3], [1, 2], 0.25)


# ---------------------------------------------------------------- selection sees no unseen class
def _perturbed(path, out, classes):
    store = FeatureStore.open(path)
    rng = np.random.default_rng(1)
    images = np.isin(store.labels, classes)
    store.features[images] = rng.random((images.sum(), store.features.shape[1])).astype(np.float32) * 5
    store.texts["tfidf"].vectors[classes] = rng.normal(size=(len(classes), store.texts["tfidf"].vectors.shape[1]))
    store.save(out)
    return FeatureStore.open(out)


def test_noise_in_unseen_classes_leaves_every_multi_fold_choice_identical(toy_store, tiny_config_file, tmp_path):
    from gazsl.generator import config as config_module
    from gazsl.protocols.protocol import honest_baseline
    from gazsl.protocols.training import train

    original = FeatureStore.open(toy_store)
    (split, val), = [s for s in cv_splits("toy_cv", 24, original.labels, 3, 1, "random", 0, 2)][:1]
    noisy = _perturbed(toy_store, tmp_path / "noisy.h5", split.unseen)
    for store in (original, noisy):
        store.splits[split.name] = split
    config = config_module.load(tiny_config_file, config_module.preset("cpu")).replace(iterations=30, patience=2)

    runs = [train(split.name, config, tmp_path / f"run{i}", store=store, val_folds=val)
            for i, store in enumerate((original, noisy))]
    for rule in ("by_classifier", "first_fold"):
        for c, figures in runs[0][rule].items():
            other = runs[1][rule][c]
            assert (figures["iterations"], figures["val_top1_per_class"], figures["calibration"]) == \
                (other["iterations"], other["val_top1_per_class"], other["calibration"])
    assert len(runs[0]["validation_folds"]) == 2
    for name in ("prototype", "eszsl"):
        chosen = [honest_baseline(name, s.text("tfidf").vectors, s, split.name, 0, val_folds=val)
                  for s in (original, noisy)]
        assert chosen[0].params == chosen[1].params and chosen[0].validation == chosen[1].validation
        assert chosen[0].final["zsl_top1"] != chosen[1].final["zsl_top1"]  # the noise does reach the test


# ---------------------------------------------------------------- cells as separate commands
def test_list_prints_the_cells_of_a_full_run_two_run_apart_and_the_table_collects_them(toy_store, tiny_config_file,
                                                                                          tmp_path):
    design = json.loads(open(os.path.join(os.path.dirname(__file__), "..", "experiments", "benchmark.json")).read())
    overrides = {**json.loads(tiny_config_file.read_text()), "iterations": 20}
    design.update(protocols={"toy_scs": {"store": "toy", "text": "tfidf", "rule": "random", "folds": 2,
                                         "repeats": 1, "seed": 0}},
                  validation_folds=2, seeds=1, baselines=["prototype"], trainings={"gazsl": overrides},
                  classifiers=["pivot", "pivot+regression"])
    design_path = tmp_path / "design.json"
    design_path.write_text(json.dumps(design))
    env = {**os.environ, "GAZSL_FEATURES": str(toy_store.parent), "OMP_NUM_THREADS": "1"}
    base = [sys.executable, "-m", "gazsl", "benchmark", "--design", str(design_path), "--runs", str(tmp_path / "runs")]

    def gazsl(*args, check=True):
        done = subprocess.run([*base, *args], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert not check or done.returncode == 0, done.stderr
        return done

    listed = gazsl("list").stdout.splitlines()
    assert len(listed) == 4 and len(set(listed)) == 4  # 2 folds x (1 training + 1 baseline)
    two = [line for line in listed if "--method gazsl" in line]
    procs = [subprocess.Popen(line.replace("gazsl benchmark", f"{sys.executable} -m gazsl benchmark", 1).split(),
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for line in two]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()

    missing = gazsl("table", "--results", str(tmp_path / "results"), check=False)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "2 of 4 benchmark cells" in missing.stderr
    assert sorted(missing.stdout.splitlines()) == sorted(set(listed) - set(two))
    assert not (tmp_path / "results" / "benchmark.json").exists()

    # the finished cells so far travel in a file (another session, another machine) and come back as finished cells
    exported = gazsl("export", str(tmp_path / "so_far.json")).stdout
    assert "2 of 4 cells finished" in exported
    later = [*base[:-1], str(tmp_path / "later")]
    done = subprocess.run([*later, "restore", str(tmp_path / "so_far.json")], env=env, capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0 and "2 cell(s) restored" in done.stdout, done.stderr
    assert ({p.relative_to(tmp_path / "later") for p in (tmp_path / "later").rglob("cell.json")}
            == {p.relative_to(tmp_path / "runs") for p in (tmp_path / "runs").rglob("cell.json")})

    gazsl("run", "--results", str(tmp_path / "results"))
    table = json.loads((tmp_path / "results" / "benchmark.json").read_text())
    assert table["recommended"] == "gazsl_pivot+regression"
    assert len(table["cells"]) == 4
    for cell in table["cells"]:
        d = cell["definition"]
        assert sorted(d["seen_class_ids"] + d["unseen_class_ids"]) == list(range(1, 25))
        assert all(set(v) <= set(d["seen_class_ids"]) for v in d["validation_class_ids"])
    unseen = [set(c["definition"]["unseen_class_ids"]) for c in table["cells"] if c["cell"]["method"] == "gazsl"]
    assert unseen[0].isdisjoint(unseen[1]) and len(unseen[0] | unseen[1]) == 24
    assert "versus_best_baseline" in table["protocols"]["toy_scs"]
    assert (tmp_path / "results" / "benchmark_forest.png").stat().st_size > 1000
    assert "toy_scs" in (tmp_path / "results" / "benchmark.md").read_text()

    # a results file's cells come back as finished cells (another machine, a new session) and give the same table
    restored = [*base[:-1], str(tmp_path / "restored")]
    done = subprocess.run([*restored, "restore", str(tmp_path / "results" / "benchmark.json")], env=env,
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0 and "4 cell(s) restored" in done.stdout, done.stderr
    done = subprocess.run([*restored, "table", "--results", str(tmp_path / "again")], env=env, capture_output=True,
                          text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    again = json.loads((tmp_path / "again" / "benchmark.json").read_text())
    assert {k: v for k, v in again.items() if k != "command"} == {k: v for k, v in table.items() if k != "command"}

    # a design adding a method to these folds reuses their cells, leaving out those it does not have
    (tmp_path / "fewer.json").write_text(json.dumps({**design, "trainings": {}, "recommended": {"method": "prototype"}}))
    fewer = [*base[:4], "--design", str(tmp_path / "fewer.json"), "--runs", str(tmp_path / "fewer")]
    done = subprocess.run([*fewer, "restore", str(tmp_path / "results" / "benchmark.json")], env=env,
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0 and "2 cell(s) restored" in done.stdout and "2 left out" in done.stdout, done.stderr
    assert sorted(p.parent.parent.name for p in (tmp_path / "fewer").rglob("cell.json")) == ["prototype"] * 2

    table["cells"][0]["definition"]["unseen_class_ids"] = [1, 2, 3]  # a cell the design does not make
    (tmp_path / "tampered.json").write_text(json.dumps(table))
    done = subprocess.run([*base[:-1], str(tmp_path / "elsewhere"), "restore", str(tmp_path / "tampered.json")],
                          env=env, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "another definition" in done.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_running_cells_reports_cells_done_of_all_off_a_terminal(monkeypatch, capsys):
    from gazsl import benchmark as command
    from gazsl.protocols import benchmark as bm

    ran = []
    monkeypatch.setattr(bm, "run_cell", lambda cell, design, runs, threads=None: ran.append(cell))
    todo = [bm.Cell("aviary_scs", 0, fold, "prototype", 0) for fold in range(3)]
    command.run_cells(todo, bm.DESIGN, bm.RUNS, jobs=1)
    reported = [line for line in capsys.readouterr().err.splitlines() if line.startswith("benchmark cells: ")]
    assert ran == todo
    assert [line.split(",")[0] for line in reported] == [f"benchmark cells: cell {i}/3 ({100 * i / 3:.0f}%)"
                                                         for i in range(4)]
