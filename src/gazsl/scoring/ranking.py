"""Candidate classes of photographs ranked from their articles: the one implementation of gazsl predict and gazsl serve.

Candidates are taken in the order of their class ids, so that the model generates for each class the
same features as its own evaluation did; with GZSL the model's own training classes come first and compete
with the calibration chosen on validation classes (``GAZSL.generalised_scores``).
"""

from __future__ import annotations

import numpy as np

from gazsl.documents.corpus import Corpus
from gazsl.documents.encoders import check_terms
from gazsl.io import data_error


def candidates(model, corpus: Corpus, gzsl: bool) -> tuple[list[str], np.ndarray]:
    """(names, (C, T) text vectors) of the corpus's classes in id order, encoded as the model's training classes were.

    Refused, naming the article: one with no term of the model's vocabulary; under ``gzsl``, a class that is one of
    the model's training classes (it competes already, as the model learned it).
    """
    ids = sorted(corpus.texts)
    names = [corpus.names.get(c) or f"class {c}" for c in ids]
    text = model.encode(corpus.documents(ids), names)
    check_terms(text, corpus, ids)
    repeated = [n for n in names if n in set(model.class_names_ or [])] if gzsl else []
    if repeated:
        raise data_error(corpus.source, f"class '{repeated[0]}' is one of the model's training classes, which --gzsl "
                         "adds itself: leave it out of --classes")
    return names, text


def class_scores(model, names: list[str], text: np.ndarray, features: np.ndarray,
                 gzsl: bool) -> tuple[list[str], np.ndarray]:
    """(every candidate's name, (M, C) scores) of M photos' features; ``gzsl`` puts the training classes first."""
    if not gzsl:
        return names, model.scores(text, features)
    seen_names = model.class_names_ or [f"training class {i}" for i in range(len(model.seen_text_))]
    return seen_names + names, model.generalised_scores(text, features)


def rank(scores: np.ndarray, top_k: int) -> np.ndarray:
    """(M, k) column indices of the k best scores of each row, best first; ties keep the classes' order."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
