"""Baselines: ESZSL's closed form, the cheap solver forms, recovery on a linear toy world, input checks."""

import numpy as np
import pytest
import torch

from gazsl.scoring.baselines import ESZSL, PrototypeRegression, WACLinear, ridge_solve
from gazsl.scoring.feature_scaling import FEATURE_NORMS
from gazsl.io import GazslError

METHODS = [ESZSL, PrototypeRegression, WACLinear]


def linear_world(n_classes=40, n_unseen=8, text_dim=6, feat_dim=12, per_class=15, noise=1.0, seed=0):
    """Text determines each class's mean feature linearly; features are non-negative, like ReLU features.

    Texts are unit vectors and the map has orthogonal columns, so all class means
    have the same norm and a bilinear score x^T V t can match nearest-mean.
    """
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(n_classes, text_dim))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    A = 3.0 * np.linalg.qr(rng.normal(size=(feat_dim, text_dim)))[0]  # (D, T)
    means = text @ A.T + 3.0
    labels = np.repeat(np.arange(n_classes), per_class)
    features = np.maximum(means[labels] + noise * rng.normal(size=(len(labels), feat_dim)), 0.0)
    seen, unseen = np.arange(n_classes - n_unseen), np.arange(n_classes - n_unseen, n_classes)
    return text, features, labels, seen, unseen


def zsl_accuracy(model, text, features, labels, seen, unseen):
    train, test = np.isin(labels, seen), np.isin(labels, unseen)
    model.fit(text[seen], features[train], labels[train])  # seen classes are 0..S-1 here
    pred = unseen[model.predict(text[unseen], features[test])]
    return (pred == labels[test]).mean()


# ---------------------------------------------------------------- ESZSL algebra
def eszsl_objective(V, X, Y, S, lam, gamma):
    """The paper's objective, written literally (S holds class texts as columns)."""
    return (((X @ V @ S - Y) ** 2).sum() + gamma * ((V @ S) ** 2).sum()
            + lam * ((X @ V) ** 2).sum() + gamma * lam * (V ** 2).sum())


@pytest.mark.parametrize("n_images, lam, gamma", [(30, 1.0, 1.0), (5, 0.3, 2.0)])  # N > D and N < D
def test_eszsl_closed_form_solves_the_normal_equations(n_images, lam, gamma):
    rng = np.random.default_rng(1)
    D, T, S = 6, 7, 3
    X, text = rng.normal(size=(n_images, D)), rng.normal(size=(S, T))
    labels = np.arange(n_images) % S
    Y = np.eye(S)[labels]
    # the objective is quadratic in V: its normal equations are H vec(V) = -grad(0), H from autograd
    args = [torch.from_numpy(a) for a in (X, Y, text.T)] + [lam, gamma]
    flat = lambda v: eszsl_objective(v.reshape(D, T), *args)  # noqa: E731
    zero = torch.zeros(D * T, dtype=torch.float64)
    H = torch.autograd.functional.hessian(flat, zero, vectorize=True).numpy()
    g0 = torch.autograd.functional.jacobian(flat, zero).numpy()
    V_explicit = np.linalg.solve(H, -g0).reshape(D, T)

    model = ESZSL(lam=lam, gamma=gamma).fit(text, X, labels)
    np.testing.assert_allclose(model.V_, V_explicit, rtol=1e-8, atol=1e-10)


def test_plus_minus_one_targets_matter_only_for_uncentred_features():
    text, features, labels, seen, _ = linear_world()
    train = np.isin(labels, seen)
    a = ESZSL(targets="zero_one").fit(text[seen], features[train], labels[train]).V_
    b = ESZSL(targets="plus_minus_one").fit(text[seen], features[train], labels[train]).V_
    assert not np.allclose(a, b)
    # centred features: X^T 1 = 0, so the -1 part of the targets drops out and scores just double
    fit = lambda targets: ESZSL(targets=targets, feature_norm="zscore").fit(text[seen], features[train], labels[train])  # noqa: E731
    np.testing.assert_allclose(fit("plus_minus_one").scores(text, features), 2 * fit("zero_one").scores(text, features),
                               rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("shape", [(50, 8), (8, 50)])
def test_ridge_direct_and_woodbury_agree(shape):
    rng = np.random.default_rng(2)
    A, B = rng.normal(size=shape), rng.normal(size=(shape[0], 3))
    direct = ridge_solve(A, B, 0.7, "direct")
    np.testing.assert_allclose(ridge_solve(A, B, 0.7, "woodbury"), direct, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ridge_solve(A, B, 0.7, "auto"), direct, rtol=1e-9, atol=1e-12)


def test_eszsl_solver_forms_agree_with_long_text():
    # T >> S (as TF-IDF) and N < D: every system has a cheap and an expensive form
    rng = np.random.default_rng(3)
    text, X = rng.random((5, 300)), rng.random((12, 40))
    labels = np.arange(12) % 5
    test_text, test_X = rng.random((4, 300)), rng.random((9, 40))
    ref = ESZSL(solver="direct").fit(text, X, labels).scores(test_text, test_X)
    for solver in ("woodbury", "auto"):
        got = ESZSL(solver=solver).fit(text, X, labels).scores(test_text, test_X)
        np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------- recovery on a toy world
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("feature_norm", FEATURE_NORMS)  # the grids' three, and GAZSL's mean_var and minmax
def test_methods_recover_unseen_classes_when_text_determines_features(method, feature_norm):
    text, features, labels, seen, unseen = linear_world()
    acc = zsl_accuracy(method(feature_norm=feature_norm), text, features, labels, seen, unseen)
    assert acc > 0.7, f"{method.__name__} ({feature_norm}): {acc:.2f} top-1, chance {1 / len(unseen):.2f}"


def test_methods_fail_when_text_is_unrelated():
    # the same world with shuffled unseen texts: recovery above must come from the text, not the features
    text, features, labels, seen, unseen = linear_world()
    text = text.copy()
    text[unseen] = text[np.roll(unseen, 1)]
    for method in METHODS:
        assert zsl_accuracy(method(), text, features, labels, seen, unseen) < 0.3


def test_wac_span_reduction_matches_the_full_problem():
    """Optimising B in the span of the seen texts gives the same classifier as optimising M (T, D + 1)."""
    rng = np.random.default_rng(4)
    text, X = rng.normal(size=(4, 9)), rng.normal(size=(40, 3))
    labels = np.arange(40) % 4
    model = WACLinear(weight_decay=0.05, tol=1e-10, max_iter=500).fit(text, X, labels)

    M = torch.zeros(9, 4, dtype=torch.float64, requires_grad=True)
    Xa = torch.from_numpy(np.hstack([X, np.ones((40, 1))]))
    opt = torch.optim.LBFGS([M], max_iter=500, tolerance_grad=1e-10, tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(Xa @ M.T @ torch.from_numpy(text).T, torch.from_numpy(labels))
        loss = loss + 0.05 * M.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(model.M_, M.detach().numpy(), atol=1e-5)
    new_text = rng.normal(size=(3, 9))  # off the seen span: the orthogonal part must score 0
    np.testing.assert_allclose(model.scores(new_text, X), np.hstack([X, np.ones((40, 1))]) @ M.detach().numpy().T @ new_text.T, atol=1e-4)


def test_wac_is_seeded_and_converges():
    text, features, labels, seen, unseen = linear_world()
    train = np.isin(labels, seen)
    fit = lambda seed, loss: WACLinear(loss=loss, feature_norm="zscore", random_state=seed).fit(  # noqa: E731
        text[seen], features[train], labels[train])
    a, b = fit(0, "softmax"), fit(0, "softmax")
    np.testing.assert_array_equal(a.M_, b.M_)
    # a convex problem: another start reaches the same optimum
    np.testing.assert_allclose(fit(1, "softmax").scores(text, features), a.scores(text, features), atol=1e-3)
    hinge = fit(0, "squared_hinge")
    assert a.converged_ and hinge.converged_
    # below the loss of the zero classifier: log(S) for softmax, S for one-vs-rest squared hinge
    assert a.loss_ < 0.75 * np.log(len(seen)) and hinge.loss_ < 0.75 * len(seen)


def test_prototype_regression_skips_classes_without_images():
    text, features, labels, seen, _ = linear_world()
    keep = np.isin(labels, seen) & (labels != 3)  # class 3 is seen but has no training image
    model = PrototypeRegression().fit(text[seen], features[keep], labels[keep])
    assert model.prototypes(text[:2]).shape == (2, features.shape[1])


# ---------------------------------------------------------------- input checks
@pytest.fixture
def small():
    rng = np.random.default_rng(5)
    return rng.random((4, 6)), rng.random((10, 3)), np.arange(10) % 4


@pytest.mark.parametrize("method", METHODS)
def test_bad_fit_inputs_raise_clear_errors(method, small):
    text, X, y = small
    name = method.__name__
    with pytest.raises(GazslError, match=rf"^{name}\.fit: 9 labels for 10 feature rows$"):
        method().fit(text, X, y[:9])
    Xn = X.copy()
    Xn[7, 1] = np.nan
    with pytest.raises(GazslError, match=r"features has a non-finite value \(NaN or inf\) in row 7"):
        method().fit(text, Xn, y)
    bad = y.copy()
    bad[2] = 4
    with pytest.raises(GazslError, match=r"label 4 at position 2 is out of range \[0, 4\)"):
        method().fit(text, X, bad)
    with pytest.raises(GazslError, match=r"labels must be integers, got dtype float64"):
        method().fit(text, X, y.astype(float))
    with pytest.raises(GazslError, match=r"features must be a 2-d array \(N, D\), got shape \(10,\)"):
        method().fit(text, X[:, 0], y)
    with pytest.raises(GazslError, match=r"feature_norm must be one of 'none', 'l2', 'zscore', 'mean_var', 'minmax', got 'l1'"):
        method(feature_norm="l1").fit(text, X, y)


@pytest.mark.parametrize("method", METHODS)
def test_bad_scores_inputs_raise_clear_errors(method, small):
    text, X, y = small
    name = method.__name__
    with pytest.raises(GazslError, match=rf"{name}\.scores: this {name} is not fitted yet; call fit first"):
        method().scores(text, X)
    model = method().fit(text, X, y)
    with pytest.raises(GazslError, match=r"text has 5 dimensions, the model was fitted on 6"):
        model.scores(text[:, :5], X)
    with pytest.raises(GazslError, match=r"features have 2 dimensions, the model was fitted on 3"):
        model.predict(text, X[:, :2])
    assert model.predict(text, X).shape == (10,)


def test_bad_hyper_parameters_raise_clear_errors(small):
    text, X, y = small
    with pytest.raises(GazslError, match=r"ESZSL\.fit: lam must be a positive number, got 0"):
        ESZSL(lam=0).fit(text, X, y)
    with pytest.raises(GazslError, match=r"targets must be one of 'zero_one', 'plus_minus_one', got 'pm1'"):
        ESZSL(targets="pm1").fit(text, X, y)
    with pytest.raises(GazslError, match=r"WACLinear\.fit: loss must be one of 'softmax', 'squared_hinge'"):
        WACLinear(loss="hinge").fit(text, X, y)


# ---------------------------------------------------------------- real data
def test_eszsl_on_cub100_beats_chance_and_plus_minus_one_collapses(shared_data):
    import scipy.io

    from gazsl.documents.corpus import read_corpus
    from gazsl.documents.encoders import encode_tfidf

    z = np.load(shared_data / "cub100/features_efficientnet_lite0.npz")
    X, y = z["features"].astype(np.float64), z["label"].astype(np.int64)
    cub_ids = {}
    for line in (shared_data / "cub/metadata/classes.txt").read_text().splitlines():
        cid, full = line.split()
        cub_ids[full.split(".", 1)[1]] = int(cid)
    ids = np.array([cub_ids[str(n)] for n in z["class_names"]])
    text = encode_tfidf(read_corpus(shared_data / "cub/wiki_articles"), ids).vectors
    split = scipy.io.loadmat(shared_data / "cub/gazsl_release/train_test_split_easy.mat")
    is_seen = np.isin(ids, split["train_cid"].ravel())
    seen, unseen = np.flatnonzero(is_seen), np.flatnonzero(~is_seen)
    assert (len(seen), len(unseen)) == (77, 23)
    to_seen = np.cumsum(is_seen) - 1  # class index -> index among seen classes
    train, test = np.isin(y, seen), np.isin(y, unseen)

    def run(targets):
        model = ESZSL(targets=targets).fit(text[seen], X[train], to_seen[y[train]])
        return unseen[model.predict(text[unseen], X[test])]

    pred = run("zero_one")
    assert (pred == y[test]).mean() > 0.2  # measured 30.5%; chance is 4.3%
    assert len(np.unique(run("plus_minus_one"))) <= 5  # measured 4 classes predicted out of 23


def test_candidates_cover_the_grid_and_build_valid_models(small):
    from gazsl.scoring.baselines import BASELINES, candidates

    text, X, y = small
    for name, method in BASELINES.items():
        settings = candidates(name)
        assert len({tuple(sorted(s.items())) for s in settings}) == len(settings)
        assert {s["feature_norm"] for s in settings} == {"none", "l2", "zscore"}
        method(**settings[0]).fit(text, X, y)
    with pytest.raises(GazslError, match=r"unknown baseline 'sje'"):
        candidates("sje")
