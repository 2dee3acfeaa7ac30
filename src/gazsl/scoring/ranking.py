"""Candidate classes of photographs ranked by a model's scores: the one implementation of gazsl predict and gazsl serve.

The candidates' text vectors come from ``gazsl.documents.encoders.candidate_vectors`` (in class-id order, so that
the model generates for each class the same features as its own evaluation did); with GZSL the model's own
training classes come first and compete, with the calibration chosen on validation classes
(``GAZSL.generalised_scores``).
"""

from __future__ import annotations

import numpy as np

from gazsl.io import data_error


def refuse_training_classes(model, names: list[str], source) -> None:
    """Under GZSL a candidate may not be one of the model's training classes: it competes already, as it was learned.
    ``source`` (the candidates' articles) is named in the message."""
    repeated = [n for n in names if n in set(model.class_names_ or [])]
    if repeated:
        raise data_error(source, f"class '{repeated[0]}' is one of the model's training classes, which --gzsl adds "
                         "itself: leave it out of --classes")


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
