"""Candidate classes of photographs ranked by a model's scores: the one implementation of gazsl predict and gazsl serve.

The candidates' text vectors come from ``gazsl.documents.encoders.candidate_vectors`` (in class-id order, so that
the model generates for each class the same features as its own evaluation did); with GZSL the model's own
training classes come first and compete, with the calibration chosen on validation classes
(``GAZSL.generalised_scores``). Each candidate's probability among the ranked classes is a softmax of the
scores at the temperature fitted on the model's validation classes (``class_probabilities``; docs/serving-probabilities.md).
"""

from __future__ import annotations

import numpy as np

from gazsl.io import data_error
from gazsl.scoring import evaluate as ev

# The top two are too close to call when, between the two of them, the first is less than twice as likely as the
# second: each still has at least a one-in-three chance of being the right one of the pair.
CLOSE_CALL_ODDS = 2.0
NO_TEMPERATURE = ("no probabilities: this model file holds no temperature fitted on validation classes (it was made "
                  "by an older gazsl, the paper protocol or a plain GAZSL.fit; gazsl train's honest protocol fits one), "
                  "so the raw scores are shown")


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


def temperature(model, gzsl: bool) -> float | None:
    """The temperature fitted on the model's validation classes for ``class_scores``'s scores (under GZSL they are
    other scores, over other classes: the GZSL temperature); None where the model holds none (``NO_TEMPERATURE``)."""
    return model.gzsl_temperature_ if gzsl else model.temperature_


def class_probabilities(model, scores: np.ndarray, gzsl: bool) -> np.ndarray | None:
    """(M, C) each photo's probability of each ranked class among them: a softmax of ``scores`` (``class_scores``'s)
    at the model's ``temperature``; None where it has none."""
    fitted = temperature(model, gzsl)
    return None if fitted is None else ev.softmax(scores, fitted)


def too_close_to_call(probabilities: np.ndarray) -> np.ndarray:
    """(M,) whether each photo's top two classes are too close to call: the first less than ``CLOSE_CALL_ODDS`` times
    as likely as the second."""
    if probabilities.shape[1] < 2:
        return np.zeros(len(probabilities), dtype=bool)
    second, first = np.sort(probabilities, axis=1)[:, -2:].T
    return first < CLOSE_CALL_ODDS * second


def percent(probability: float) -> str:
    """A probability as the page and predict's table show it: whole percents, and never a certainty that rounding made."""
    if probability < 0.01:
        return "<1%"
    return ">99%" if probability > 0.99 else f"{100 * probability:.0f}%"
