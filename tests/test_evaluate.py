import numpy as np
import pytest
import torch

from gazsl.scoring import evaluate as ev


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


def test_paper_curve_sweeps_the_authors_grid():
    scores = np.array([[0.9, 0.2], [0.5, 0.4]])  # class 1 is unseen
    labels = np.array([0, 1])
    mask = np.array([False, True])
    curve = ev.paper_gzsl_curve(scores, labels, mask)
    assert len(curve.calibration) == 400 and curve.calibration[0] == -2 and curve.calibration[-1] < 2
    at = dict(zip(np.round(curve.calibration, 2), zip(curve.seen, curve.unseen)))
    assert at[0.0] == (1.0, 0.0)  # plain argmax: both predicted class 0
    assert at[0.2] == (1.0, 1.0)  # 0.4 + 0.2 > 0.5 but 0.2 + 0.2 < 0.9
    assert at[0.8] == (0.0, 1.0)


def authors_ausuc(scores, labels, unseen_mask):
    """The authors' GZSL evaluation, transcribed from its description with plain loops.

    For each constant in np.arange(-2, 2, 0.01), add it to the unseen classes' scores,
    predict the argmax class, and take the per-sample accuracy on the seen test images
    and on the unseen ones; AUSUC is the trapezoid rule with unseen accuracy on x and
    seen accuracy on y, in sweep order.
    """
    seen_acc, unseen_acc = [], []
    for gamma in np.arange(-2, 2, 0.01):
        seen_right = seen_total = unseen_right = unseen_total = 0
        for row, label in zip(scores, labels):
            shifted = row.copy()
            shifted[unseen_mask] += gamma
            right = int(np.argmax(shifted)) == label
            if unseen_mask[label]:
                unseen_right, unseen_total = unseen_right + right, unseen_total + 1
            else:
                seen_right, seen_total = seen_right + right, seen_total + 1
        seen_acc.append(seen_right / seen_total)
        unseen_acc.append(unseen_right / unseen_total)
    area = 0.0
    for i in range(1, len(seen_acc)):
        area += (unseen_acc[i] - unseen_acc[i - 1]) * (seen_acc[i] + seen_acc[i - 1]) / 2
    return area


def cosine_like_problem(seed, n_seen=77, n_unseen=23, n_samples=300):
    """Cosines of images to noisy class pivots, with unevenly many images per class."""
    rng = np.random.default_rng(seed)
    n_classes = n_seen + n_unseen
    labels = rng.choice(n_classes, size=n_samples, p=rng.dirichlet(np.ones(n_classes)))
    centres = rng.normal(size=(n_classes, 16))
    x = 2 * rng.normal(size=(n_samples, 16)) + centres[labels]
    pivots = centres + rng.normal(size=(n_classes, 16))
    scores = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (pivots / np.linalg.norm(pivots, axis=1, keepdims=True)).T
    return scores, labels, np.arange(n_classes) >= n_seen


@pytest.mark.parametrize("seed", [0, 1])
def test_paper_ausuc_is_the_authors(seed):
    scores, labels, mask = cosine_like_problem(seed)
    assert ev.paper_gzsl_curve(scores, labels, mask).ausuc() == pytest.approx(authors_ausuc(scores, labels, mask), abs=1e-12)
    # per-class accuracies (the honest protocol's) give another area on the same scores
    per_class = ev.gzsl_exact_curve(scores, labels, mask).ausuc()
    assert abs(per_class - authors_ausuc(scores, labels, mask)) > 1e-4


def test_exact_ausuc_is_the_area_under_directly_evaluated_points():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(90, 7))
    labels = rng.integers(0, 7, size=90)
    mask = np.array([False] * 4 + [True] * 3)
    exact = ev.gzsl_exact_curve(scores, labels, mask)
    gaps = np.sort(exact.calibration[1:])
    # one constant below every gap, one between each pair of neighbours, one above every gap
    constants = np.r_[gaps[0] - 1, (gaps[1:] + gaps[:-1]) / 2, gaps[-1] + 1]
    points = np.array([ev.gzsl_at(scores, labels, mask, g)[:2] for g in constants]) / 100  # (P, 2) seen, unseen
    area = sum((points[i, 1] - points[i - 1, 1]) * (points[i, 0] + points[i - 1, 0]) / 2 for i in range(1, len(points)))
    assert exact.ausuc() == pytest.approx(area, abs=1e-12)
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


def test_the_fitted_temperature_is_the_one_that_drew_the_labels():
    """Labels drawn from softmax(scores / T) give back T, at the scale of cosines and at the scale of log-probabilities."""
    rng = np.random.default_rng(0)
    for spread, temperature in ((0.01, 0.004), (3.0, 1.5)):
        scores = 0.8 + spread * rng.normal(size=(4000, 12))
        probabilities = ev.softmax(scores, temperature)
        labels = (probabilities.cumsum(axis=1) < rng.random((4000, 1))).sum(axis=1)  # one draw per row
        assert ev.fit_temperature(scores, labels) == pytest.approx(temperature, rel=0.08)
        assert probabilities.sum(axis=1) == pytest.approx(np.ones(4000))


def test_scores_that_tell_nothing_give_uniform_probabilities_and_separating_ones_sharp_probabilities():
    rng = np.random.default_rng(1)
    scores = rng.random((500, 6))
    flat = ev.fit_temperature(scores, scores.argmin(axis=1))  # the true class scores below the average
    assert np.isfinite(flat) and ev.softmax(scores, flat) == pytest.approx(np.full((500, 6), 1 / 6), rel=1e-5)
    sharp = ev.fit_temperature(scores, scores.argmax(axis=1))
    assert ev.softmax(scores, sharp).max(axis=1).min() > 0.99
    votes = np.zeros((3, 4))
    votes[[0, 0, 1, 2, 2], [0, 1, 0, 3, 2]] = [0.6, 0.4, 1.0, 0.6, 0.4]  # kNN vote shares, one image's class unvoted
    probabilities = ev.softmax(votes, ev.fit_temperature(votes, np.array([0, 0, 1])))
    assert probabilities.min() > 0.01 and probabilities[1, 1] == probabilities[1, 2]  # no class at 0; ties stay ties
