"""One meaning of ``feature_norm``: the same names, fitted alike, in GAZSL's config and in every baseline."""

import numpy as np
import pytest

import gazsl
from gazsl.generator.gan import GAZSL
from gazsl.io import GazslError
from gazsl.scoring.baselines import ESZSL
from gazsl.scoring.feature_scaling import FEATURE_NORMS, INVERTIBLE, FeatureScaling


def features(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.gamma(2.0, 1.5, size=(40, 6)).astype(np.float32)  # non-negative, as ReLU features
    X[:, 3] = 2.0  # a constant dimension
    return X


@pytest.mark.parametrize("kind", INVERTIBLE)
def test_each_invertible_scaling_is_undone_by_its_inverse_and_keeps_the_dtype(kind):
    X = features()
    scaling = FeatureScaling.fit(kind, X)
    Z = scaling(X)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    np.testing.assert_allclose(scaling.inverse(Z), X, rtol=1e-5, atol=1e-5)


def test_each_scaling_does_what_its_name_says_on_the_training_features():
    X = features()
    z = FeatureScaling.fit("zscore", X)(X)
    assert np.allclose(z.mean(axis=0), 0, atol=1e-5) and np.allclose(np.delete(z.std(axis=0), 3), 1, atol=1e-4)
    assert np.allclose(z[:, 3], 0)  # constant: centred, not divided by 0
    m = FeatureScaling.fit("minmax", X)(X)
    assert np.allclose(np.delete(m.min(axis=0), 3), -1, atol=1e-6) and np.allclose(np.delete(m.max(axis=0), 3), 1, atol=1e-6)
    mv = FeatureScaling.fit("mean_var", X)(X)
    np.testing.assert_allclose(mv, (X - X.mean()) / X.var(), rtol=1e-5)
    assert np.allclose(np.linalg.norm(FeatureScaling.fit("l2", X)(X), axis=1), 1)
    assert FeatureScaling.fit("none", X)(X) is X


def test_l2_cannot_be_undone_and_an_unknown_name_lists_the_known_ones():
    with pytest.raises(GazslError, match="'l2' cannot be undone"):
        FeatureScaling.fit("l2", features()).inverse(features())
    with pytest.raises(GazslError, match="feature_norm must be one of 'none', 'l2', 'zscore', 'mean_var', 'minmax', got 'l1'"):
        FeatureScaling.fit("l1", features())


@pytest.mark.parametrize("kind", FEATURE_NORMS)
def test_a_baseline_scales_its_features_as_the_shared_scaling_does(kind):
    X, rng = features().astype(np.float64), np.random.default_rng(1)
    text, y = rng.normal(size=(4, 5)), np.arange(40) % 4
    model = ESZSL(feature_norm=kind).fit(text, X, y)
    np.testing.assert_array_equal(model.feature_scaling_(X), FeatureScaling.fit(kind, X)(X))


def test_gazsl_takes_every_invertible_scaling_and_refuses_l2_when_the_config_is_made(tmp_path):
    assert set(gazsl.generator.config.KNOWN_FEATURE_NORMS) == set(INVERTIBLE)
    with pytest.raises(GazslError, match="feature_norm"):
        gazsl.preset("cpu").replace(feature_norm="l2")
    rng = np.random.default_rng(2)
    X, text, y = features(), rng.normal(size=(4, 5)).astype(np.float32), np.arange(40) % 4
    config = gazsl.preset("cpu").replace(feature_norm="zscore", text_reduced_dim=8, generator_hidden=16,
                                         critic_hidden=16, batch_size=20, critic_steps=1, iterations=5,
                                         samples_per_class=5, knn_k=3, device="cpu")
    model = GAZSL(config, random_state=0).fit(text, X, y)
    loaded = GAZSL.load(model.save(tmp_path / "zscore.gazsl"))
    assert loaded.normaliser_.kind == "zscore"
    np.testing.assert_array_equal(loaded.scores(text, X), model.scores(text, X))
