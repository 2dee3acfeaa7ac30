"""Sentence relevance learned from seen classes: which sentences of an article say what the bird looks like.

An article mixes appearance with range, song, diet and taxonomy. ``SentenceRelevance`` learns, from the seen
classes' photographs alone, which words tell what a class looks like, then weights the sentences of any article
(an unseen class's included) by the words they use:

1. Cross-fitted over groups of seen classes, a ridge map from article vectors to class-mean image features
   (z-scored over the seen images) is fitted on the other groups and applied to each sentence of a held-out
   class; the sentence's agreement ``r_s`` (cosine with its class's true mean) is how much it told a map that
   never saw its class: the situation of an unseen class.
2. A term's relevance is the mean agreement of the seen sentences that use it, weighted by its TF-IDF there and
   shrunk towards the overall mean by ``prior`` sentences' worth (rare terms stay near the mean).
3. A sentence's score is the TF-IDF-weighted mean relevance of its terms; a class vector is the sum of its
   sentences' rows weighted by their scores (negative ones count 0), L2-normalised. (Weighting by the score above
   the mean, or by exp(10 score), was tried on the validation classes of cub100_easy / cub100_hard: above the mean
   lost 8 / 6 points of proxy top-1, exp(10 score) tied with this one.)

Nothing of an unseen class's images enters any fit; its article is read only to be weighted. ``relevance_``
(one value per term) is readable: the words the photographs say matter.
"""

from __future__ import annotations

import numpy as np

from gazsl.documents.corpus import split_sentences
from gazsl.io import GazslError


def _ridge_map(text: np.ndarray, targets: np.ndarray, alpha: float) -> np.ndarray:
    """(T, D) ridge map from class text rows (C, T) to targets (C, D), in dual form (C is small);
    ``alpha`` relative to the mean squared norm of the rows."""
    gram = text @ text.T
    ridge = alpha * float(np.mean(np.diag(gram)))
    return text.T @ np.linalg.solve(gram + ridge * np.eye(len(gram)), targets)


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


class SentenceRelevance:
    """Scores sentences by how well their words predict their class's look; fitted on seen classes only.

    ``alpha``: ridge strength of the text-to-image map; ``groups``: cross-fitting groups of seen classes;
    ``prior``: shrinkage of each term's relevance towards the mean, in sentences. Fitted attributes end in ``_``.
    """

    def __init__(self, alpha: float = 1.0, groups: int = 5, prior: float = 5.0, seed: int = 0):
        self.alpha = alpha
        self.groups = groups
        self.prior = prior
        self.seed = seed

    def fit(self, articles: np.ndarray, sentences: np.ndarray, owner: np.ndarray,
            class_means: np.ndarray) -> "SentenceRelevance":
        """``articles`` (C_seen, T) the seen classes' article vectors, ``sentences`` (S, T) rows of their sentences,
        ``owner`` (S,) each sentence's class (a row of ``articles``), ``class_means`` (C_seen, D) z-scored mean
        image features of the seen classes."""
        n_classes = len(class_means)
        if n_classes < 2 * self.groups:
            raise GazslError(f"sentence relevance needs at least {2 * self.groups} seen classes, got {n_classes}")
        group = np.random.default_rng(self.seed).permutation(n_classes) % self.groups  # (C_seen,)
        agreement = np.zeros(len(sentences))  # r_s
        for g in range(self.groups):
            fitted_on = group != g
            weights = _ridge_map(articles[fitted_on], class_means[fitted_on], self.alpha)  # (T, D)
            held = group[owner] == g
            agreement[held] = _cosine_rows(sentences[held] @ weights, class_means[owner[held]])
        self.agreement_ = agreement  # (S,)
        self.mean_agreement_ = float(agreement.mean())
        mass = sentences.sum(0)  # (T,)
        self.relevance_ = (agreement @ sentences + self.prior * self.mean_agreement_) / (mass + self.prior)  # (T,)
        return self

    def scores(self, sentences: np.ndarray) -> np.ndarray:
        """(S',) relevance of sentence rows (S', T): the TF-IDF-weighted mean relevance of their terms."""
        return (sentences @ self.relevance_) / (sentences.sum(1) + 1e-12)

    def class_vector(self, sentences: np.ndarray) -> np.ndarray:
        """(T,) one class's vector from its sentence rows (S', T): weighted by relevance, L2-normalised."""
        weights = np.clip(self.scores(sentences), 0.0, None)
        if not weights.any():  # no sentence judged relevant: every sentence counts alike
            weights = np.ones(len(sentences))
        vector = weights @ sentences
        return vector / (np.linalg.norm(vector) + 1e-12)


def article_sentences(encoder, documents: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(S, T) L2-normalised TF-IDF rows of every sentence of ``documents`` (a fitted TfidfEncoder's vocabulary and
    IDF) and (S,) the index of the document each comes from; sentences with no known term are left out."""
    rows, owner = [], []
    for i, document in enumerate(documents):
        vectors = encoder.transform(split_sentences(document))
        kept = vectors[np.linalg.norm(vectors, axis=1) > 0]
        rows.append(kept)
        owner.extend([i] * len(kept))
    return np.vstack(rows).astype(np.float64), np.asarray(owner)


class RelevanceText:
    """Class vectors of every document, weighted by relevance learned on the seen classes given to the call.

    ``features`` (N, D) and ``labels`` (N,) are the store's images; a call reads only its seen classes' images,
    so the honest protocol can ask for the vectors of each set of fit classes (``choose_and_refit`` takes it as
    its text). Sentences are encoded once, with a fitted TfidfEncoder's vocabulary and IDF.
    """

    def __init__(self, encoder, documents: list[str], features: np.ndarray, labels: np.ndarray,
                 alpha: float = 1.0, seed: int = 0):
        self.sentences, self.owner = article_sentences(encoder, documents)  # (S, T), (S,)
        self.articles = encoder.transform(documents).astype(np.float64)  # (C, T)
        self.features, self.labels = features, labels
        self.alpha, self.seed = alpha, seed

    def fitted(self, seen: np.ndarray) -> SentenceRelevance:
        seen = np.asarray(seen)
        missing = [int(c) for c in seen if not (self.owner == c).any()]
        if missing:
            raise GazslError(f"sentence relevance: the document(s) of class(es) {missing} have no sentence with a "
                             "known term")
        seen_images = np.isin(self.labels, seen)
        mean, std = self.features[seen_images].mean(0), self.features[seen_images].std(0) + 1e-6
        class_means = np.stack([((self.features[self.labels == c] - mean) / std).mean(0) for c in seen])  # (C_seen, D)
        position = {int(c): i for i, c in enumerate(seen)}
        of_seen = np.isin(self.owner, seen)
        return SentenceRelevance(self.alpha, seed=self.seed).fit(
            self.articles[seen], self.sentences[of_seen], np.array([position[int(c)] for c in self.owner[of_seen]]),
            class_means)

    def __call__(self, seen: np.ndarray) -> np.ndarray:
        """(C, T) class vectors, relevance fitted on the ``seen`` classes' images."""
        model = self.fitted(seen)
        return np.stack([model.class_vector(self.sentences[self.owner == c])
                         for c in range(len(self.articles))]).astype(np.float32)
