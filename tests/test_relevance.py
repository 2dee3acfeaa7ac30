"""Sentence relevance (gazsl.documents.relevance): learned from seen classes' photographs only, it ranks the
sentences that describe the look above those that do not, on articles written for the test."""

import numpy as np
import pytest

from gazsl.documents.encoders import TfidfEncoder
from gazsl.documents.relevance import RelevanceText, article_sentences
from gazsl.io import GazslError

LOOK = [("crimson", "azure"), ("striped", "plain"), ("hooked", "straight"), ("long", "stubby"), ("glossy", "dull"),
        ("crested", "smooth")]
FILLER = ["breeds", "northern", "forests", "winters", "coast", "eats", "insects", "seeds", "migrates", "sings",
          "loudly", "nests", "cliffs", "named", "honour", "collector", "genus", "placed", "family", "order"]


def _world(n_classes=30, per_class=12, seed=0):
    """Classes whose image features follow one 'look' sentence of their article; three filler sentences each."""
    rng = np.random.default_rng(seed)
    signs = rng.integers(0, 2, size=(n_classes, len(LOOK)))  # (C, 6): which word of each pair
    means = (2 * signs - 1).astype(float)  # (C, 6)
    features = np.repeat(means, per_class, axis=0) + 0.3 * rng.normal(size=(n_classes * per_class, len(LOOK)))
    labels = np.repeat(np.arange(n_classes), per_class)
    documents = []
    for c in range(n_classes):
        look = "It is " + " ".join(LOOK[d][1 - signs[c, d]] for d in range(len(LOOK))) + "."
        filler = [" ".join(rng.choice(FILLER, size=6, replace=False)).capitalize() + "." for _ in range(3)]
        documents.append("\n".join([filler[0], look, filler[1], filler[2]]))
    return documents, features, labels


def test_sentences_that_describe_the_look_score_above_the_others():
    documents, features, labels = _world()
    encoder = TfidfEncoder().fit(documents)
    seen = np.arange(20)
    model = RelevanceText(encoder, documents, features, labels).fitted(seen)
    sentences, owner = article_sentences(encoder, documents)
    is_look = np.array([i % 4 == 1 for i in range(len(sentences))])  # every document: filler, look, filler, filler
    scores = model.scores(sentences)
    unseen = owner >= 20
    assert scores[is_look & unseen].min() > scores[~is_look & unseen].max()


def test_unseen_classes_images_do_not_change_anything():
    documents, features, labels = _world()
    encoder = TfidfEncoder().fit(documents)
    seen = np.arange(20)
    perturbed = features.copy()
    perturbed[labels >= 20] = np.random.default_rng(1).normal(size=perturbed[labels >= 20].shape) * 5
    original, noisy = RelevanceText(encoder, documents, features, labels), RelevanceText(encoder, documents, perturbed, labels)
    np.testing.assert_array_equal(original(seen), noisy(seen))
    np.testing.assert_array_equal(original.fitted(seen).relevance_, noisy.fitted(seen).relevance_)
    moved = noisy.fitted(np.arange(1, 21))
    assert not np.array_equal(original.fitted(seen).relevance_, moved.relevance_)  # the seen classes' images do reach the fit


def test_too_few_seen_classes_is_a_clear_error():
    documents, features, labels = _world(n_classes=12)
    with pytest.raises(GazslError, match="at least 10 seen classes"):
        RelevanceText(TfidfEncoder().fit(documents), documents, features, labels)(np.arange(6))


def test_the_honest_protocol_asks_text_made_from_images_only_of_classes_it_may_see(toy_store):
    """Text learned from images is made once per validation fold from that fold's fit classes (never its validation
    or unseen classes), then once from the seen classes for the final fit; the figures are those of fixed text
    when the function ignores its classes."""
    from gazsl.store.splits import validation_folds
    from gazsl.store.feature_store import FeatureStore
    from gazsl.protocols.protocol import honest_baseline

    store = FeatureStore.open(toy_store)
    split = store.split("toy_easy")
    folds = validation_folds(split.seen, 2, 0.2, "random", seed=0)
    fixed = store.text("tfidf").vectors
    asked = []

    def text(classes):
        asked.append(set(np.asarray(classes).tolist()))
        return fixed

    made = honest_baseline("prototype", text, store, "toy_easy", 0, val_folds=folds)
    plain = honest_baseline("prototype", fixed, store, "toy_easy", 0, val_folds=folds)
    assert len(asked) == 3 and asked[-1] == set(split.seen.tolist())
    for classes, val in zip(asked, folds):
        assert classes.isdisjoint(val.tolist()) and classes.isdisjoint(split.unseen.tolist())
    assert made.params == plain.params
    assert made.final["zsl_top1"] == plain.final["zsl_top1"] and made.final["ausuc"] == plain.final["ausuc"]
