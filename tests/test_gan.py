"""gazsl.GAZSL, the estimator: the baselines' interface, seeds, generated features, and saved models."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import gazsl
from gazsl.generator import model_file
from gazsl.scoring.baselines import ESZSL
from gazsl.generator.gan import GAZSL
from gazsl.io import GazslError
from gazsl.protocols.protocol import choose_and_refit, fit_on, honest_sets, zsl_figures
from gazsl.store.feature_store import FeatureStore

TINY = dict(text_reduced_dim=16, generator_hidden=32, critic_hidden=32, batch_size=64, critic_steps=2, lr=3e-3,
            iterations=60, samples_per_class=10, knn_k=5, device="cpu")


def tiny_config(**changes):
    return gazsl.preset("cpu").replace(**{**TINY, **changes})


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from conftest import make_toy_store

    store = FeatureStore.open(make_toy_store(tmp_path_factory.mktemp("toy") / "toy.h5"))
    split = store.split("toy_easy")
    return store, split, honest_sets(store, split), store.text("tfidf").vectors


@pytest.fixture(scope="module")
def fitted(toy):
    store, split, sets, text = toy
    return fit_on(GAZSL(tiny_config(), random_state=3), text, store, split.seen, sets.train_images)


def test_gazsl_and_a_baseline_are_scored_alike_and_gazsl_learns_the_toy_world(toy, fitted):
    store, split, sets, text = toy
    unseen = text[split.unseen]
    features = store.features[sets.unseen_images]
    scores = fitted.scores(unseen, features)
    assert scores.shape == (len(features), len(split.unseen)) and np.isfinite(scores).all()
    assert np.array_equal(fitted.predict(unseen, features), scores.argmax(axis=1))
    for model in (fitted, ESZSL().fit(text[split.seen], store.features[sets.train_images],
                                      np.searchsorted(split.seen, store.labels[sets.train_images]))):
        figures = zsl_figures(model, text, store, split.unseen, sets.unseen_images)
        assert figures["zsl_top1"] > 2 * 100 / len(split.unseen), (type(model).__name__, figures)  # chance: 1/6
    assert fitted.n_iter_ == 60 and fitted.config_.seed == 3 and fitted.n_features_in_ == store.features.shape[1]


def at_offset(array: np.ndarray, offset: int) -> np.ndarray:
    """A copy of ``array`` starting ``offset`` bytes past a 64-byte boundary (NumPy guarantees only 16)."""
    buffer = np.empty(array.nbytes + 128, dtype=np.uint8)
    start = (-buffer.ctypes.data) % 64 + offset
    placed = buffer[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    placed[...] = array
    return placed


def test_scores_do_not_depend_on_where_their_inputs_lie_in_memory(toy, fitted):
    """A resumed run's process has another allocation history than the one it resumes, so its arrays lie at other
    offsets; a kernel whose summation order follows alignment would then score differently in the last bits, enough
    to move a GZSL calibration chosen between nearly equal candidates (issue 35: a resume chose 0.017639 instead of
    0.017560 on an Intel Xeon). Every placement must score bit for bit alike. On the AMD EPYC where this was written
    the kernels sum alike at any offset, with or without owned_tensor, so here it guards rather than reproduces."""
    store, split, sets, text = toy
    features = store.features[np.concatenate([sets.heldout, sets.unseen_images])]
    reference = (fitted.scores(text[split.unseen], features), fitted.gzsl_scores(text, features))
    for offset in range(4, 64, 4):
        moved = at_offset(features, offset)
        assert moved.ctypes.data % 64 == offset
        assert np.array_equal(fitted.scores(at_offset(text[split.unseen], offset), moved), reference[0]), offset
        assert np.array_equal(fitted.gzsl_scores(at_offset(text, offset), moved), reference[1]), offset


def test_the_seed_fixes_a_model_and_random_state_overrides_the_config(toy, fitted):
    store, split, sets, text = toy
    again = fit_on(GAZSL(tiny_config(seed=3)), text, store, split.seen, sets.train_images)
    other = fit_on(GAZSL(tiny_config(seed=3), random_state=4), text, store, split.seen, sets.train_images)
    features = store.features[sets.unseen_images]
    assert np.array_equal(again.gzsl_scores(text, features), fitted.gzsl_scores(text, features))
    assert not np.array_equal(other.gzsl_scores(text, features), fitted.gzsl_scores(text, features))


def test_generated_features_are_in_the_training_features_scale(toy, fitted):
    store, split, sets, text = toy
    fake, labels = fitted.generate(text[split.unseen], n=7)
    assert fake.shape == (7 * len(split.unseen), store.features.shape[1]) and np.array_equal(labels, np.repeat(np.arange(6), 7))
    train = store.features[sets.train_images]
    lo, hi = train.min(axis=0), train.max(axis=0)  # minmax scaling: the generator's Tanh maps into this box
    assert (fake >= lo - 1e-4).all() and (fake <= hi + 1e-4).all() and fake.std() > 0


def test_a_honest_protocol_chooses_among_gazsl_settings_as_among_a_baselines(toy):
    store, split, sets, text = toy
    chosen = choose_and_refit(lambda k: GAZSL(tiny_config(knn_k=k, iterations=20), random_state=0), (3, 5),
                              text, store, "toy_easy")
    assert chosen.params in (3, 5) and chosen.model.config_.knn_k == chosen.params
    assert {"zsl_top1", "ausuc", "gzsl_h", "calibration"} <= chosen.final.keys()


def test_bad_inputs_and_unfitted_use_are_clear_errors(toy):
    store, split, sets, text = toy
    x, y = store.features[:10], np.zeros(10, np.int64)
    with pytest.raises(GazslError, match=r"GAZSL.fit: label 5 at position 0 is out of range \[0, 2\)"):
        GAZSL(tiny_config()).fit(text[:2], x, y + 5)
    with pytest.raises(GazslError, match="config must be a gazsl.Config"):
        GAZSL({"lr": 1}).fit(text[:2], x, y)
    with pytest.raises(GazslError, match="random_state must be an integer seed"):
        GAZSL(random_state=0.5).fit(text[:2], x, y)
    with pytest.raises(GazslError, match="not fitted yet"):
        GAZSL().scores(text, x)
    with pytest.raises(GazslError, match="not fitted yet"):
        GAZSL().save("never.gazsl")


def test_a_saved_model_loaded_in_a_fresh_process_gives_identical_scores(toy, fitted, tmp_path):
    store, split, sets, text = toy
    path = fitted.save(tmp_path / "toy.gazsl")
    np.save(tmp_path / "text.npy", text[split.unseen])
    np.save(tmp_path / "x.npy", store.features[sets.unseen_images])
    # one thread, as this process (conftest): float sums repeat exactly only with the same number of threads
    code = ("import numpy as np, sys, torch; torch.set_num_threads(1); from gazsl.generator.gan import GAZSL; d = sys.argv[1]; "
            "m = GAZSL.load(d + '/toy.gazsl'); "
            "t, x = np.load(d + '/text.npy'), np.load(d + '/x.npy'); "
            "np.save(d + '/scores.npy', m.scores(t, x)); np.save(d + '/gzsl.npy', m.gzsl_scores(t, x))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=300)
    features = store.features[sets.unseen_images]
    assert np.array_equal(np.load(tmp_path / "scores.npy"), fitted.scores(text[split.unseen], features))
    assert np.array_equal(np.load(tmp_path / "gzsl.npy"), fitted.gzsl_scores(text[split.unseen], features))
    loaded = GAZSL.load(path)
    assert loaded.n_iter_ == 60 and loaded.class_names_ is None and loaded.config_ == fitted.config_
    with pytest.raises(GazslError, match="cannot train"):
        loaded.step()
    with pytest.raises(GazslError, match="no GZSL calibration"):
        loaded.generalised_scores(text[split.unseen], features)


def test_a_model_file_that_is_not_what_it_should_be_is_named_in_one_line(fitted, tmp_path):
    path = fitted.save(tmp_path / "m.gazsl")
    good = torch.load(path, weights_only=True)
    cases = {
        "version": ({**good, "schema_version": 99}, r"\[schema_version\]: a gazsl model of schema version 99, made by gazsl"),
        "missing": ({k: v for k, v in good.items() if k != "normaliser"}, r"\[normaliser\]: missing field"),
        "foreign": ({"weights": torch.ones(3)}, "not a gazsl model file"),
        "shape": ({**good, "seen_text": torch.ones(2, 5)}, r"\[generator\]: weights that do not fit its config"),
        "config": ({**good, "config": {**good["config"], "lr": -1.0}}, r"\[config\]: field 'lr' must be positive"),
    }
    for name, (payload, message) in cases.items():
        bad = tmp_path / f"{name}.gazsl"
        torch.save(payload, bad)
        with pytest.raises(GazslError, match=message) as err:
            GAZSL.load(bad)
        assert str(err.value).startswith(str(bad)) and "\n" not in str(err.value), name
    truncated = tmp_path / "cut.gazsl"
    truncated.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(GazslError, match="not a readable gazsl model: truncated, corrupt or another kind of file"):
        model_file.read(truncated)


def test_a_fused_classifier_mixes_the_two_scores_and_keeps_its_regression_when_saved(toy, fitted, tmp_path):
    from gazsl.scoring.baselines import PrototypeRegression

    store, split, sets, text = toy
    unseen_text, features = text[split.unseen], store.features[sets.unseen_images]
    pivot = fitted.with_classifier("pivot").scores(unseen_text, features)
    regression = PrototypeRegression(alpha=1.0, feature_norm="zscore").fit(
        text[split.seen], store.features[sets.train_images],
        np.searchsorted(split.seen, store.labels[sets.train_images])).scores(unseen_text, features)
    fused = fitted.with_classifier("pivot+regression")
    # the weight's ends are the two classifiers alone (standardising per image keeps each one's ranking)
    assert np.array_equal(_weighted(fused, 1.0).scores(unseen_text, features).argmax(1), pivot.argmax(1))
    assert np.array_equal(_weighted(fused, 0.0).scores(unseen_text, features).argmax(1), regression.argmax(1))
    assert fitted.config_.classifier == "knn"  # a view: the model itself is unchanged
    path = fused.save(tmp_path / "fused.gazsl")
    assert np.array_equal(GAZSL.load(path).scores(unseen_text, features), fused.scores(unseen_text, features))
    plain = GAZSL.load(fitted.save(tmp_path / "knn.gazsl"))  # a kNN model does not keep the (T, D) regression
    with pytest.raises(GazslError, match="needs the text-to-class-mean regression"):
        plain.with_classifier("pivot+regression").scores(unseen_text, features)
    with pytest.raises(GazslError, match="field 'classifier' must be one of"):
        fitted.with_classifier("svm")


def _weighted(model, weight):
    view = model.with_classifier(model.config_.classifier)
    view.config_ = view.config_.replace(fusion_weight=weight)
    return view


def test_classifiers_sharing_scores_in_one_evaluation_give_what_each_computes_alone_and_compute_each_part_once(
        toy, fitted, monkeypatch):
    from gazsl.generator.config import KNOWN_CLASSIFIERS
    from gazsl.scoring import evaluate as ev

    store, split, sets, text = toy
    problems = [(text[split.unseen], store.features[sets.unseen_images]),
                (text, store.features[np.concatenate([sets.heldout, sets.unseen_images])])]
    alone = {(c, i): fitted.with_classifier(c).scores(*problem)
             for c in KNOWN_CLASSIFIERS for i, problem in enumerate(problems)}
    calls = []
    class_scores = ev.class_scores
    monkeypatch.setattr(ev, "class_scores", lambda classifier, *a: calls.append(classifier) or class_scores(classifier, *a))
    with fitted.sharing_scores():
        for i, problem in enumerate(problems):
            for c in KNOWN_CLASSIFIERS:
                view = fitted.with_classifier(c)
                shared = view.scores(*problem)
                assert np.array_equal(shared, alone[(c, i)]), (c, i)
                shared[:] = 0  # a caller's change to its scores does not reach the next caller
                assert np.array_equal(view.scores(*problem), alone[(c, i)]), (c, i)
                assert np.array_equal(view.gzsl_scores(*problem), alone[("pivot" if c == "knn" else c, i)])
    assert sorted(calls) == sorted(["knn", "pivot", "softmax"] * len(problems))  # once per part and input
    calls.clear()
    fitted.scores(*problems[0])
    fitted.scores(*problems[0])
    assert calls == ["knn", "knn"]  # outside the block nothing is kept


def test_the_model_config_and_the_run_settings_part_the_config_and_the_settings_do_not_change_what_fit_learns(toy, fitted):
    from dataclasses import fields

    from gazsl.generator.config import Config, ModelConfig, RunSettings

    model_names, run_names = {f.name for f in fields(ModelConfig)}, {f.name for f in fields(RunSettings)}
    assert not model_names & run_names and model_names | run_names == {f.name for f in fields(Config)}
    config = tiny_config()
    assert type(config.model) is ModelConfig and config.model == config.replace(patience=0, log_every=7).model
    store, split, sets, text = toy
    bookkeeping = dict(eval_every=7, eval_start=1, patience=1, log_every=3, checkpoint_every=11)
    other = fit_on(GAZSL(tiny_config(**bookkeeping), random_state=3), text, store, split.seen, sets.train_images)
    features = store.features[sets.unseen_images]
    assert np.array_equal(other.gzsl_scores(text, features), fitted.gzsl_scores(text, features))
    assert type(fitted.trainer_.model) is ModelConfig  # what the networks and the reference step were given
