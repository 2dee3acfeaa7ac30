"""Name the birds in photographs from the articles of their candidate classes, classes the model may never have seen.

    python -m gazsl.predict --model runs/cub100/model.gazsl --classes ARTICLES --images PHOTOS... [--top-k 5]
                            [--out predictions.csv] [--gzsl]

``--classes`` is a corpus in any layout gazsl reads (``gazsl.documents.corpus``: a folder
of ``<class_id>.<Name>.txt`` articles, or a JSONL file); each article becomes a
class vector with the text encoder the model was trained with, and each photo
(JPEG, PNG ...; folders are searched recursively) a feature vector with its
image backbone and preprocessing. For every photo the classes are ranked
(``gazsl.scoring.ranking``, shared with gazsl serve) by the model's scores
(``GAZSL.scores``: kNN votes, cosine to the class pivot, or log-probabilities,
as its config says). ``--gzsl`` adds the model's own
training classes to the candidates, with the calibration chosen on validation
classes when it was trained (``GAZSL.generalised_scores``).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from gazsl.documents.corpus import read_corpus
from gazsl.generator.gan import GAZSL
from gazsl.io import GazslError, atomic_path, data_error, readable_path, writable_file
from gazsl.images.vision import IMAGE_SUFFIXES, list_images
from gazsl.scoring.ranking import candidates, class_scores, rank


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


def predict(model: GAZSL, classes: Path, images: list[str], gzsl: bool) -> tuple[list[Path], list[str], np.ndarray]:
    """(photos, candidate class names, scores (M, C)) for the photos ``images`` and the articles in ``classes``."""
    names, text = candidates(model, read_corpus(classes), gzsl)
    paths = image_paths(images)
    names, scores = class_scores(model, names, text, model.embed(paths), gzsl)
    return paths, names, scores


def write_csv(path: Path, paths: list[Path], names: list[str], scores: np.ndarray, order: np.ndarray) -> None:
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
    parser.add_argument("--classes", required=True, type=Path,
                        help="articles of the candidate classes: a folder of <class_id>.<Name>.txt or a .jsonl file")
    parser.add_argument("--images", required=True, nargs="+", help=f"photos ({', '.join(IMAGE_SUFFIXES)}) or folders of them")
    parser.add_argument("--top-k", type=int, default=5, help="classes shown per photo (default 5)")
    parser.add_argument("--out", type=Path, help="also write every ranking to this CSV file (image, rank, class, score)")
    parser.add_argument("--gzsl", action="store_true", help="add the model's training classes to the candidates")
    args = parser.parse_args(argv)
    if args.top_k < 1:
        raise GazslError(f"--top-k must be at least 1, got {args.top_k}")
    # every path checked before the model loads and the photos are embedded, so that a bad one costs one line
    readable_path(args.model, "model file (--model)")
    readable_path(args.classes, "class articles (--classes)", kind="any")
    for image in args.images:
        readable_path(image, "image or folder (--images)", kind="any")
    if args.out:
        writable_file(args.out, "predictions file (--out)")

    model = GAZSL.load(args.model)
    paths, names, scores = predict(model, args.classes, args.images, args.gzsl)
    order = rank(scores, min(args.top_k, len(names)))
    for path, row, best in zip(paths, scores, order):
        print(f"{path}: " + ", ".join(f"{names[c]} {row[c]:.3f}" for c in best))
    if args.out:
        write_csv(args.out, paths, names, scores, order)
        print(f"{len(paths)} photos x {len(names)} classes -> {args.out}")
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
