"""Name the birds in photographs from the articles of their candidate classes, classes the model may never have seen.

    python -m gazsl.predict --model runs/cub100/model.gazsl --classes ARTICLES --images PHOTOS... [--top-k 5]
                            [--out predictions.csv] [--gzsl]
    python -m gazsl.predict --model runs/mine/model.gazsl --class-vectors VECTORS.npz --images PHOTOS...

``--classes`` is a corpus in any layout gazsl reads (``gazsl.documents.corpus``: a folder
of ``<class_id>.<Name>.txt`` articles, or a JSONL file); each article becomes a
class vector with the text encoder the model was trained with, and each photo
(JPEG, PNG ...; folders are searched recursively) a feature vector with its
image backbone and preprocessing. ``--class-vectors`` gives the candidates' vectors instead (a file as
``gazsl text import`` reads it, gazsl.documents.class_vectors): a model trained on imported vectors needs them, as it
has no encoder for articles. For every photo the classes are ranked by the
model's scores (``GAZSL.scores``: kNN votes, cosine to the class pivot, or
log-probabilities, as its config says; the table's header says which; the ranking
is ``gazsl.scoring.ranking``'s, which gazsl serve shares). ``--gzsl``
adds the model's own training classes to the candidates, with the calibration
chosen on validation classes when it was trained (``GAZSL.generalised_scores``:
the classifier whose scores calibrate, so a kNN model's votes become its pivots'
cosines). Beside each score is the class's probability among the ranked classes (a softmax at the temperature
fitted on validation classes when the model was trained; a model file without one gets a one-line note and the
scores alone), and a photo whose top two classes are too close to call says so (``gazsl.scoring.ranking``;
docs/serving-probabilities.md). The terminal shows each photo's top-k; ``--out`` holds every class.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from gazsl.documents.class_vectors import ClassVectors, add_candidate_arguments, candidates_from_args
from gazsl.documents.corpus import read_corpus
from gazsl.generator.gan import GAZSL, generated_classifier, gzsl_classifier
from gazsl.io import GazslError, atomic_path, data_error, readable_path, writable_file
from gazsl.documents.encoders import candidate_vectors
from gazsl.scoring.ranking import (CLOSE_CALL_ODDS, NO_TEMPERATURE, class_probabilities, class_scores, percent, rank,
                                   refuse_training_classes, temperature, too_close_to_call)
from gazsl.vision.backbone import IMAGE_SUFFIXES, list_images


def image_paths(arguments: list[str]) -> list[Path]:
    """The photos named on the command line: files as given, folders searched recursively (sorted)."""
    paths = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            paths.extend(path / p for p in list_images(path))
        elif path.is_file():
            paths.append(path)
        else:
            raise data_error(path, "image or folder not found")
    return paths


def predict(model: GAZSL, classes: Path | ClassVectors, images: list[str],
            gzsl: bool) -> tuple[list[Path], list[str], np.ndarray]:
    """(photos, candidate class names, scores (M, C)) for the photos ``images`` and the candidates ``classes``: a
    corpus of their articles, or their vectors."""
    if isinstance(classes, ClassVectors):
        names, text = classes.class_names(), classes.for_model(model.seen_text_.shape[1])
        classes = classes.source
    else:
        names, text = candidate_vectors(read_corpus(classes), model.encode)
    if gzsl:
        refuse_training_classes(model, names, classes)
    paths = image_paths(images)
    names, scores = class_scores(model, names, text, model.embed(paths), gzsl)
    return paths, names, scores


def score_meaning(model: GAZSL, gzsl: bool) -> str:
    """What the score column holds for this model: it depends on the classifier, and ``--gzsl`` changes it (kNN votes
    are too coarse to calibrate, so GZSL ranks by the pivots' cosine; the candidates get the calibration added)."""
    config = model.config_
    classifier = gzsl_classifier(config.classifier) if gzsl else config.classifier
    generated = generated_classifier(classifier)
    meaning = {"knn": f"share of the {config.knn_k} nearest generated features that are of the class",
               "pivot": "cosine similarity to the mean of the class's generated features",
               "softmax": "log-probability of a softmax classifier trained on generated features"}[generated]
    if classifier != generated:
        meaning = (f"{config.fusion_weight:g} x the standardised {meaning} + {1 - config.fusion_weight:g} x the "
                   "standardised score of a text-to-class-mean regression")
    if gzsl:
        return (f"{meaning}, among the model's {len(model.seen_text_)} training classes and the candidates, "
                f"{model.gzsl_calibration_:+g} (the calibration chosen on validation classes) added to the candidates'")
    return f"{meaning}, among the candidates"


def probability_meaning(model: GAZSL, gzsl: bool) -> str:
    """What the probability column holds for this model, or the note that it has none."""
    fitted = temperature(model, gzsl)
    if fitted is None:
        return NO_TEMPERATURE
    return (f"probability: of each class among the ranked classes, a softmax of the scores at temperature "
            f"{fitted:.3g} (fitted on validation classes when the model was trained); 'too close to call': the "
            f"top class is less than {CLOSE_CALL_ODDS:g} times as likely as the second")


def print_table(paths: list[Path], names: list[str], scores: np.ndarray, probabilities: np.ndarray | None,
                order: np.ndarray, meaning: str, probability_line: str) -> None:
    """The top-k of each photo as a table: photo (on its first row), rank, class, probability (where the model has a
    temperature), score, and 'too close to call' on the first row of a photo whose top two are."""
    close = np.zeros(len(paths), dtype=bool) if probabilities is None else too_close_to_call(probabilities)
    rows = [(str(path) if r == 1 else "", str(r), names[c],
             "" if probabilities is None else percent(probabilities[i, c]), f"{scores[i, c]:.3f}",
             "too close to call" if r == 1 and close[i] else "")
            for i, path in enumerate(paths) for r, c in enumerate(order[i], 1)]
    header = ("photo", "rank", "class", "probability", "score", "")
    columns = [j for j in range(len(header)) if j != 3 or probabilities is not None]
    widths = {j: max(len(row[j]) for row in [header, *rows]) for j in columns}
    print(f"score: {meaning}; higher ranks first")
    print(probability_line)
    for row in [header, *rows]:
        print("  ".join(row[j].rjust(widths[j]) if j in (1, 3, 4) else row[j].ljust(widths[j]) for j in columns).rstrip())


def write_csv(path: Path, paths: list[Path], names: list[str], scores: np.ndarray, probabilities: np.ndarray | None,
              order: np.ndarray) -> None:
    """Every class's probability (empty where the model has no temperature), score and rank for every photo (``order``
    ranks all the classes), one row each."""
    with atomic_path(path, suffix=".csv") as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["image", "rank", "class", "probability", "score"])
            for i, path_i in enumerate(paths):
                for r, c in enumerate(order[i], 1):
                    probability = "" if probabilities is None else f"{probabilities[i, c]:.6g}"
                    writer.writerow([str(path_i), r, names[c], probability, f"{scores[i, c]:.6g}"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gazsl.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="a model file (DIR/model.gazsl of a gazsl.train run)")
    add_candidate_arguments(parser, "articles of the candidate classes: a folder of <class_id>.<Name>.txt or a .jsonl file")
    parser.add_argument("--images", required=True, nargs="+", help=f"photos ({', '.join(IMAGE_SUFFIXES)}) or folders of them")
    parser.add_argument("--top-k", type=int, default=5, help="classes shown per photo (default 5)")
    parser.add_argument("--out", type=Path, help="also write every class's probability, score and rank for every photo to "
                        "this CSV file (image, rank, class, probability, score; not only the top-k)")
    parser.add_argument("--gzsl", action="store_true", help="add the model's training classes to the candidates")
    args = parser.parse_args(argv)
    if args.top_k < 1:
        raise GazslError(f"--top-k must be at least 1, got {args.top_k}")
    # every path checked before the model loads and the photos are embedded, so that a bad one costs one line
    readable_path(args.model, "model file (--model)")
    candidates = candidates_from_args(args)
    for image in args.images:
        readable_path(image, "image or folder (--images)", kind="any")
    if args.out:
        writable_file(args.out, "predictions file (--out)")

    model = GAZSL.load(args.model)
    paths, names, scores = predict(model, candidates, args.images, args.gzsl)
    order = rank(scores, len(names))
    probabilities = class_probabilities(model, scores, args.gzsl)
    print_table(paths, names, scores, probabilities, order[:, :args.top_k], score_meaning(model, args.gzsl),
                probability_meaning(model, args.gzsl))
    if args.out:
        write_csv(args.out, paths, names, scores, probabilities, order)
        print(f"every class's probability, score and rank for each photo ({len(paths)} photo{'s' * (len(paths) != 1)} x "
              f"{len(names)} classes = {scores.size} rows) -> {args.out}")
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
