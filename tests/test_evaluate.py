import numpy as np
import pytest
import torch

from gazsl import evaluate as ev


def test_knn_votes_majority_of_k_nearest():
    train = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0], [0.2, 1.0]])
    train_labels = torch.tensor([0, 0, 1, 1, 1])
    test = torch.tensor([[1.0, 0.05], [0.05, 1.0], [0.5, 1.0]])
    votes = ev.knn_votes(test, train, train_labels, n_classes=2, k=3)
    # first: two class-0 points and the nearest class-1 point ([0.2, 1]) -> 2/3, 1/3
    assert torch.allclose(votes[0], torch.tensor([2 / 3, 1 / 3]))
    assert torch.allclose(votes[1], torch.tensor([0.0, 1.0]))
    assert votes.argmax(dim=1).tolist() == [0, 1, 1]


def test_knn_tie_goes_to_the_lower_class_index():
    # Like np.unique + argmax(counts) in the original code.
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    votes = ev.knn_votes(torch.tensor([[1.0, 1.0]]), train, torch.tensor([1, 0]), n_classes=2, k=2)
    assert votes.argmax(dim=1).item() == 0


def test_top1_per_sample_and_per_class():
    labels = np.array([0, 0, 0, 1])
    predictions = np.array([0, 0, 1, 0])
    per_sample, per_class = ev.top1(predictions, labels)
    assert per_sample == pytest.approx(50.0)
    assert per_class == pytest.approx((2 / 3 + 0) / 2 * 100)


def test_calibration_sweep_grid_and_effect():
    scores = np.array([[0.9, 0.2], [0.5, 0.4]])  # class 1 is unseen
    labels = np.array([0, 1])
    mask = np.array([False, True])
    curve = ev.gzsl_grid_curve(scores, labels, mask, -2, 2, 0.01)
    assert len(curve.calibration) == 401 and curve.calibration[0] == -2 and curve.calibration[-1] == 2
    at = dict(zip(np.round(curve.calibration, 2), zip(curve.seen, curve.unseen)))
    assert at[0.0] == (1.0, 0.0)  # plain argmax: both predicted class 0
    assert at[0.2] == (1.0, 1.0)  # 0.4 + 0.2 > 0.5 but 0.2 + 0.2 < 0.9
    assert at[0.8] == (0.0, 1.0)


def _gapped_scores(rng, n_samples, n_seen, n_unseen):
    """Scores whose seen-unseen gaps are distinct and off the 0.01 grid, all inside (-2, 2)."""
    scores = rng.normal(size=(n_samples, n_seen + n_unseen)) * 0.3
    gaps = rng.permutation(np.arange(n_samples)) * 0.03 - 1.5 + 0.005
    best_seen = scores[:, :n_seen].max(axis=1)
    best_unseen = scores[:, n_seen:].max(axis=1)
    scores[:, n_seen:] += (best_seen - gaps - best_unseen)[:, None]
    return scores


def test_exact_ausuc_agrees_with_grid_when_grid_resolves_every_gap():
    rng = np.random.default_rng(0)
    n_seen, n_unseen = 4, 3
    scores = _gapped_scores(rng, 90, n_seen, n_unseen)
    labels = rng.integers(0, n_seen + n_unseen, size=90)
    mask = np.r_[np.zeros(n_seen, bool), np.ones(n_unseen, bool)]
    exact = ev.gzsl_exact_curve(scores, labels, mask)
    grid = ev.gzsl_grid_curve(scores, labels, mask)
    assert exact.ausuc() == pytest.approx(grid.ausuc(), abs=1e-12)
    assert 0 < exact.ausuc() < 1


def test_exact_curve_points_match_direct_evaluation():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(50, 6))
    labels = rng.integers(0, 6, size=50)
    mask = np.array([False, False, False, True, True, True])
    curve = ev.gzsl_exact_curve(scores, labels, mask)
    for i in range(1, len(curve.calibration) - 1, 7):
        gamma = (curve.calibration[i] + curve.calibration[i + 1]) / 2
        s, u, _ = ev.gzsl_at(scores, labels, mask, gamma)
        assert (s / 100, u / 100) == pytest.approx((curve.seen[i], curve.unseen[i]))


def test_best_calibration_maximises_h_on_its_curve():
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(80, 5))
    labels = rng.integers(0, 5, size=80)
    mask = np.array([False, False, True, True, True])
    curve = ev.gzsl_exact_curve(scores, labels, mask)
    gamma = ev.best_calibration(curve)
    best_h = max(ev.harmonic_mean(s, u) for s, u in zip(curve.seen, curve.unseen))
    assert ev.gzsl_at(scores, labels, mask, gamma)[2] == pytest.approx(100 * best_h)


def test_pivot_scores_use_class_means():
    train = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    scores = ev.pivot_scores(torch.tensor([[1.0, 1.0]]), train, torch.tensor([0, 0, 1]), n_classes=2)
    assert torch.allclose(scores, torch.tensor([[2 ** -0.5, 2 ** -0.5]]))


def test_softmax_classifier_separates_separable_data():
    torch.manual_seed(0)
    train = torch.cat([torch.randn(50, 3) + 4, torch.randn(50, 3) - 4])
    labels = torch.tensor([0] * 50 + [1] * 50)
    scores = ev.softmax_scores(torch.tensor([[4.0, 4, 4], [-4.0, -4, -4]]), train, labels, 2, seed=0)
    assert scores.argmax(dim=1).tolist() == [0, 1]
