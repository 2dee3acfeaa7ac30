"""How long one honest-protocol evaluation takes, with the classifiers sharing their scores and without.

    python bench/evaluation.py [--split cub100_hard] [--iters 50] [--repeats 3]

An honest run scores every classifier (kNN, pivot, softmax and the two fused
with the regression) at each evaluation of its selection run. Scored one by
one, the classifiers recompute what they share: the pivot scores (kNN's GZSL
figures are pivot's; pivot+regression holds them), the softmax classifier
(trained again for softmax+regression) and the regression. ``GAZSL.sharing_scores``
computes each part once per input. This trains a GAZSL of the split's
experiment config for ``--iters`` iterations on the selection run's images,
then times, best of ``--repeats``: ``--iters`` training iterations, one
selection evaluation shared and one not, and each classifier's evaluation alone.
The figures of the two ways are checked to be identical. Reads the split's store.
"""

from __future__ import annotations

import argparse
import time

import torch

from gazsl.generator import config as config_module
from gazsl.datasets.stores import open_store
from gazsl.protocols.cells import CONFIG_DIR
from gazsl.protocols.protocol import CLASSIFIERS, build_runs, honest_sets, validation_figures


def best_seconds(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="cub100_hard")
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    config = config_module.load(CONFIG_DIR / f"{args.split}.json", config_module.preset("cpu"))
    store = open_store(args.split, None)
    split, text = store.split(args.split), store.text(config.text).vectors
    sets = honest_sets(store, split)
    model = build_runs(store, args.split, config, "honest")[0][0].model(config, text, store)

    def train():
        for _ in range(args.iters):
            model.step(log=False)

    def every_classifier():
        return {c: validation_figures(model.with_classifier(c), text, store, split, sets) for c in CLASSIFIERS}

    def shared():
        with model.sharing_scores():
            return every_classifier()

    training, _ = best_seconds(train, args.repeats)
    alone, figures = best_seconds(every_classifier, args.repeats)
    together, shared_figures = best_seconds(shared, args.repeats)
    if shared_figures != figures:
        raise SystemExit("the shared evaluation's figures differ from the classifiers scored one by one")
    print(f"{args.split}: {len(sets.val_images)} validation images, {len(split.val)} validation classes; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; best of {args.repeats}")
    print(f"{args.iters} training iterations: {training:.2f} s")
    for c in CLASSIFIERS:
        seconds, _ = best_seconds(lambda: validation_figures(model.with_classifier(c), text, store, split, sets),
                                  args.repeats)
        print(f"  {c:<20} alone {seconds:.2f} s")
    print(f"one selection evaluation, {len(CLASSIFIERS)} classifiers: one by one {alone:.2f} s, "
          f"sharing scores {together:.2f} s ({alone / together:.2f}x); figures identical")


if __name__ == "__main__":
    main()
