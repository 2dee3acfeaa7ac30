"""One suite for every zero-shot method (GAZSL and each baseline): the interface scikit-learn expects of an estimator."""

import numpy as np
import pytest
from sklearn.base import clone

import gazsl
from gazsl.generator.gan import GAZSL
from gazsl.io import GazslError
from gazsl.scoring.baselines import BASELINES
from gazsl.scoring.estimator import ClassesOfText

TINY = gazsl.preset("cpu").replace(text_reduced_dim=8, generator_hidden=16, critic_hidden=16, batch_size=32,
                                   critic_steps=1, iterations=6, samples_per_class=4, knn_k=3, device="cpu", bf16="off")

# name -> an unfitted method with a seed (GAZSL: a tiny config, seconds to fit)
METHODS = {"gazsl": lambda seed: GAZSL(TINY, random_state=seed),
           "eszsl": lambda seed: BASELINES["eszsl"](),
           "prototype": lambda seed: BASELINES["prototype"](),
           "wac_linear": lambda seed: BASELINES["wac_linear"](random_state=seed)}


@pytest.fixture(scope="module")
def data():
    """Seen classes' text (5, 7), features (40, 6) and labels, and three other classes' text to score."""
    rng = np.random.default_rng(0)
    text = rng.normal(size=(8, 7)).astype(np.float32)
    labels = np.repeat(np.arange(5), 8)
    features = np.abs(text[labels, :6] + 0.2 * rng.normal(size=(40, 6))).astype(np.float32)
    return text[:5], features, labels, text[5:]


@pytest.fixture(params=sorted(METHODS))
def method(request):
    return METHODS[request.param]


def test_fit_scores_and_predict_have_the_documented_shapes(method, data):
    seen, features, labels, other = data
    model = method(0)
    assert model.fit(seen, features, labels) is model
    scores = model.scores(other, features[:9])
    assert scores.shape == (9, 3) and np.isfinite(scores).all()
    assert np.array_equal(model.predict(other, features[:9]), scores.argmax(axis=1))
    assert model.gzsl_scores(np.concatenate([seen, other]), features[:9]).shape == (9, 8)


@pytest.mark.parametrize("bad", ["features_1d", "labels_short", "label_out_of_range", "text_dims", "feature_dims"])
def test_wrong_shapes_are_a_gazsl_error_that_is_a_value_error(method, data, bad):
    seen, features, labels, other = data
    if bad in ("features_1d", "labels_short", "label_out_of_range"):
        args = {"features_1d": (seen, features[:, 0], labels), "labels_short": (seen, features, labels[:-1]),
                "label_out_of_range": (seen, features, np.where(labels == 4, 5, labels))}[bad]
        call = lambda: method(0).fit(*args)  # noqa: E731
    else:
        model = method(0).fit(seen, features, labels)
        call = {"text_dims": lambda: model.scores(other[:, :-1], features),
                "feature_dims": lambda: model.scores(other, features[:, :-1])}[bad]
    with pytest.raises(ValueError) as err:
        call()
    assert isinstance(err.value, GazslError)


def test_params_are_the_constructor_arguments_and_clone_copies_them_unfitted(method, data):
    seen, features, labels, _ = data
    model = method(1).fit(seen, features, labels)
    names = list(model.get_params())
    assert not any(name.startswith("_") or name.endswith("_") for name in names)
    if isinstance(model, GAZSL):
        with model.sharing_scores():  # private state stays out of the parameters and the repr
            assert "_scores_memo" not in model.get_params() and "_scores_memo" not in repr(model)
    copy = clone(model)
    assert type(copy) is type(model) and repr(copy) == repr(model) and list(copy.get_params()) == names
    assert not hasattr(copy, "n_text_dims_")  # unfitted
    first = names[0]
    assert copy.set_params(**{first: model.get_params()[first]}) is copy
    with pytest.raises(ValueError, match="unknown parameter 'no_such'"):
        copy.set_params(no_such=1)


def test_set_params_changes_what_fit_uses(data):
    seen, features, labels, other = data
    model = BASELINES["prototype"]()
    a = model.set_params(alpha=0.01).fit(seen, features, labels).scores(other, features)
    b = clone(model).set_params(alpha=100.0).fit(seen, features, labels).scores(other, features)
    assert model.alpha == 0.01 and not np.allclose(a, b)
    with pytest.raises(ValueError, match="alpha must be a positive number"):
        model.set_params(alpha=-1).fit(seen, features, labels)


def test_a_seed_fixes_the_scores(method, data):
    seen, features, labels, other = data
    a, b = (method(4).fit(seen, features, labels).scores(other, features) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    if isinstance(method(0), GAZSL):  # the only method whose fit draws enough randomness for a seed to show
        assert not np.array_equal(a, method(5).fit(seen, features, labels).scores(other, features))


def test_gazsl_random_state_none_is_the_config_seed(data):
    seen, features, labels, other = data
    default = GAZSL(TINY.replace(seed=7)).fit(seen, features, labels)
    seeded = GAZSL(TINY.replace(seed=0), random_state=7).fit(seen, features, labels)
    assert default.config_.seed == seeded.config_.seed == 7
    np.testing.assert_array_equal(default.scores(other, features), seeded.scores(other, features))


def test_a_saved_gazsl_answers_as_before(data, tmp_path):
    seen, features, labels, other = data
    model = METHODS["gazsl"](2).fit(seen, features, labels)
    loaded = GAZSL.load(model.save(tmp_path / "m.gazsl"))
    np.testing.assert_array_equal(loaded.scores(other, features), model.scores(other, features))
    assert loaded.get_params(deep=False).keys() == model.get_params(deep=False).keys()


@pytest.fixture(scope="module")
def aviary():
    """Features, labels (rows of text) and text vectors of the aviary's seen classes, without the validation ones."""
    from gazsl.datasets.stores import open_store

    store = open_store("aviary_easy")
    split = store.split("aviary_easy")
    classes = np.setdiff1d(split.seen, split.val)
    images = np.flatnonzero(np.isin(store.labels, classes))
    return store.features[images], np.searchsorted(classes, store.labels[images]), store.text("tfidf").vectors[classes]


def test_grid_search_chooses_a_baselines_alpha_on_held_out_seen_classes(aviary):
    from sklearn.model_selection import GridSearchCV, GroupKFold

    X, y, text = aviary
    search = GridSearchCV(ClassesOfText(BASELINES["prototype"](feature_norm="zscore"), text),
                          {"estimator__alpha": [0.01, 1.0, 100.0]}, cv=GroupKFold(3))
    search.fit(X, y, groups=y)  # folds of whole classes: each is scored on classes it was not fitted on
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 3 and np.isfinite(scores).all() and len(set(scores)) > 1
    assert search.best_params_["estimator__alpha"] == [0.01, 1.0, 100.0][int(np.argmax(scores))]
    assert search.best_estimator_.estimator_.alpha == search.best_params_["estimator__alpha"]
    # each score is zero-shot top-1 among the held-out fold's classes, computed as by hand
    train, test = next(GroupKFold(3).split(X, y, groups=y))
    fitted = ClassesOfText(BASELINES["prototype"](alpha=1.0, feature_norm="zscore"), text).fit(X[train], y[train])
    classes = np.unique(y[test])
    by_hand = np.mean(classes[fitted.estimator_.scores(text[classes], X[test]).argmax(axis=1)] == y[test])
    assert fitted.score(X[test], y[test]) == pytest.approx(by_hand)
    assert search.cv_results_["split0_test_score"][1] == pytest.approx(by_hand)


def test_fitting_leaves_the_global_random_generators_alone(method, data):
    import random

    import torch

    seen, features, labels, _ = data
    before = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    method(0).fit(seen, features, labels)
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1]) and random.getstate() == before[2]
