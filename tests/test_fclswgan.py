"""f-CLSWGAN (examples/fclswgan), a method written against the plugin interface alone: it trains, saves, loads and
answers alike on small data, and runs as a plugin in a benchmark cell on the aviary. Its settings here are shrunk
for the test's speed; its defaults are the paper's, adapted for a CPU (examples/fclswgan/README.md)."""

import json
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fclswgan"
SMALL = {"hidden": 64, "noise_dim": 16, "epochs": 2, "synthetic_per_class": 30, "pretrain_epochs": 5,
         "classifier_epochs": 5}


@pytest.fixture
def fclswgan(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(EXAMPLE), os.environ.get("PYTHONPATH", "")]))
    import fclswgan

    yield fclswgan
    sys.modules.pop("fclswgan", None)


def test_it_trains_saves_loads_and_answers_alike(fclswgan, toy_store, tmp_path):
    from gazsl.store.feature_store import FeatureStore
    from gazsl.protocols.protocol import fit_inputs, honest_sets, zsl_figures

    store = FeatureStore.open(toy_store)
    split = store.split("toy_easy")
    sets = honest_sets(store, split)
    text = store.text("tfidf").vectors
    model = fclswgan.FCLSWGAN(**SMALL).fit(*fit_inputs(text, store, split.seen, sets.train_images))
    figures = zsl_figures(model, text, store, split.unseen, sets.unseen_images)
    assert figures["zsl_top1"] > 100 / len(split.unseen) * 1.5  # learnt something of the unseen classes' text

    model.save(tmp_path / "model.pt")
    loaded = fclswgan.FCLSWGAN.load(tmp_path / "model.pt")
    assert loaded.get_params() == model.get_params()
    X = store.features[np.concatenate([sets.unseen_images, sets.heldout])]
    unseen, everything = text[split.unseen], text[np.concatenate([split.seen, split.unseen])]
    assert np.array_equal(loaded.scores(unseen, X), model.scores(unseen, X))
    assert np.array_equal(loaded.gzsl_scores(everything, X), model.gzsl_scores(everything, X))
    assert loaded.scores(unseen, X).shape == (len(X), len(split.unseen))
    # a second fit from the same seed is the same model
    again = fclswgan.FCLSWGAN(**SMALL).fit(*fit_inputs(text, store, split.seen, sets.train_images))
    assert np.array_equal(again.scores(unseen, X), model.scores(unseen, X))


def test_staged_fit_is_fit_epoch_by_epoch_and_each_text_basis_saves_and_loads(fclswgan, toy_store, tmp_path):
    from gazsl.store.feature_store import FeatureStore
    from gazsl.protocols.protocol import fit_inputs, honest_sets

    store = FeatureStore.open(toy_store)
    split = store.split("toy_easy")
    sets = honest_sets(store, split)
    text = store.text("tfidf").vectors
    inputs = fit_inputs(text, store, split.seen, sets.train_images)
    X, unseen = store.features[sets.unseen_images], text[split.unseen]

    staged, epochs = fclswgan.FCLSWGAN(**SMALL), []
    for epoch in staged.staged_fit(*inputs):
        epochs.append(epoch)
        assert staged.scores(unseen, X).shape == (len(X), len(unseen))  # scored between epochs, training goes on
    assert epochs == [1, 2]
    fitted = fclswgan.FCLSWGAN(**SMALL).fit(*inputs)
    assert np.array_equal(staged.scores(unseen, X), fitted.scores(unseen, X))
    assert fitted.text_basis_.shape == (text.shape[1], len(split.seen))  # one coordinate per seen class

    full = fclswgan.FCLSWGAN(**{**SMALL, "text_basis": "full"}).fit(*inputs)
    assert full.text_basis_ is None and full.generator_[0].in_features == SMALL["noise_dim"] + text.shape[1]
    for model in (fitted, full):
        model.save(tmp_path / "model.pt")
        assert np.array_equal(fclswgan.FCLSWGAN.load(tmp_path / "model.pt").scores(unseen, X), model.scores(unseen, X))
    with pytest.raises(ValueError, match="text_basis must be 'seen' or 'full', got 'pca'"):
        fclswgan.FCLSWGAN(**{**SMALL, "text_basis": "pca"}).fit(*inputs)


def test_it_runs_as_a_plugin_in_a_benchmark_cell_on_the_aviary(fclswgan, tmp_path, capsys):
    from gazsl.benchmark import main

    (tmp_path / "small_fclswgan.py").write_text(textwrap.dedent(f'''
        from fclswgan import FCLSWGAN, __version__  # the same code at other defaults: its version

        class SmallFCLSWGAN(FCLSWGAN):  # the paper's method at a test's size: only the defaults differ
            def __init__(self, cls_weight=0.01, hidden={SMALL["hidden"]}, noise_dim={SMALL["noise_dim"]}, epochs=1,
                         critic_steps=5, gp_weight=10.0, lr=1e-4, batch_size=64, synthetic_per_class=20,
                         pretrain_epochs=2, classifier_epochs=2, text_basis="seen", random_state=0):
                super().__init__(cls_weight, hidden, noise_dim, epochs, critic_steps, gp_weight, lr, batch_size,
                                 synthetic_per_class, pretrain_epochs, classifier_epochs, text_basis, random_state)
        '''))
    sys.path.insert(0, str(tmp_path))
    try:
        design = json.loads((Path(__file__).resolve().parents[1] / "experiments" / "benchmark.json").read_text())
        design.update(protocols={"aviary_scs": design["protocols"]["aviary_scs"]}, baselines=["prototype"],
                      trainings={}, methods={"fclswgan": "small_fclswgan:SmallFCLSWGAN"},
                      recommended={"method": "fclswgan"})
        (tmp_path / "design.json").write_text(json.dumps(design))
        main(["--design", str(tmp_path / "design.json"), "--runs", str(tmp_path / "runs"), "cell", "--protocol",
              "aviary_scs", "--repeat", "0", "--fold", "0", "--method", "fclswgan"])
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("small_fclswgan", None)
    record = json.loads((tmp_path / "runs" / "aviary_scs" / "r0f0" / "fclswgan" / "seed0" / "cell.json").read_text())
    row = record["rows"]["fclswgan"]
    assert row["params"]["cls_weight"] in (0.01, 0.1)  # chosen by the plugin's grid on validation classes
    # figures of a scored run (at a test's training length they are near chance: the toy test above shows it learns)
    assert 0 <= row["zsl_top1"] <= 100 and 0 < row["ausuc"] < 1 and 0 <= row["gzsl_h"] <= 100
    assert row["first_fold"]["params"]["cls_weight"] in (0.01, 0.1)
    assert record["definition"]["plugin"] == {"import": "small_fclswgan:SmallFCLSWGAN", "version": fclswgan.__version__}
    assert "fclswgan: top-1" in capsys.readouterr().out


def test_the_comparison_with_gazsl_pairs_the_benchmarks_own_folds(tmp_path):
    from conftest import load_experiment

    results = Path(__file__).resolve().parents[1] / "experiments" / "results" / "benchmark_fclswgan" / "benchmark.json"
    summary = json.loads(results.read_text())["protocols"]["cub100_scs"]
    versus = load_experiment("fclswgan_versus")
    first = versus.versus_table(summary).splitlines()[2]  # the best baseline's row: top-1 as the table pairs it
    p = summary["versus_best_baseline"]["fclswgan"]
    assert first.startswith(f"| {summary['best_baseline']} (the best baseline) | {p['mean']:+.1f} [{p['low']:+.1f}, "
                            f"{p['high']:+.1f}] | {p['wins']} / {p['losses']} |")
    (tmp_path / "benchmark.json").write_text(results.read_text())
    versus.main(["--results", str(tmp_path)])
    assert "gazsl_pivot+regression (GAZSL's pre-registered row)" in (tmp_path / "versus.md").read_text()
