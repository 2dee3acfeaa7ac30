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
cosines). The terminal shows each photo's top-k; ``--out`` holds every class.
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
from gazsl.scoring.ranking import class_scores, rank, refuse_training_classes
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


def print_table(paths: list[Path], names: list[str], scores: np.ndarray, order: np.ndarray, meaning: str) -> None:
    """The top-k of each photo as a table: photo (on its first row), rank, class, score."""
    rows = [(str(path) if r == 1 else "", str(r), names[c], f"{scores[i, c]:.3f}")
            for i, path in enumerate(paths) for r, c in enumerate(order[i], 1)]
    header = ("photo", "rank", "class", "score")
    widths = [max(len(row[j]) for row in [header, *rows]) for j in range(4)]
    print(f"score: {meaning}; higher ranks first")
    for row in [header, *rows]:
        print("  ".join(cell.rjust(w) if j in (1, 3) else cell.ljust(w) for j, (cell, w) in enumerate(zip(row, widths))).rstrip())


def write_csv(path: Path, paths: list[Path], names: list[str], scores: np.ndarray, order: np.ndarray) -> None:
    """Every class's score and rank for every photo (``order`` ranks all the classes), one row each."""
    with atomic_path(path, suffix=".csv") as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["image", "rank", "class", "score"])
            for i, path_i in enumerate(paths):
                for r, c in enumerate(order[i], 1):
                    writer.writerow([str(path_i), r, names[c], f"{scores[i, c]:.6g}"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gazsl.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="a model file (DIR/model.gazsl of a gazsl.train run)")
    add_candidate_arguments(parser, "articles of the candidate classes: a folder of <class_id>.<Name>.txt or a .jsonl file")
    parser.add_argument("--images", required=True, nargs="+", help=f"photos ({', '.join(IMAGE_SUFFIXES)}) or folders of them")
    parser.add_argument("--top-k", type=int, default=5, help="classes shown per photo (default 5)")
    parser.add_argument("--out", type=Path, help="also write every class's score and rank for every photo to this CSV file "
                        "(image, rank, class, score; not only the top-k)")
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
    print_table(paths, names, scores, order[:, :args.top_k], score_meaning(model, args.gzsl))
    if args.out:
        write_csv(args.out, paths, names, scores, order)
        print(f"every class's score and rank for each photo ({len(paths)} photo{'s' * (len(paths) != 1)} x "
              f"{len(names)} classes = {scores.size} rows) -> {args.out}")
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
