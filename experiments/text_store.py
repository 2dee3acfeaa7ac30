"""The text benchmark's fixed text variant ``tfidf+appearance`` written into a copy of the cub100 store, so that the
benchmark's cells (GAZSL included) run on it as on any store text (design: experiments/benchmark_text.json).

    python experiments/text_store.py [--store features/cub100.h5] [--out features/cub100_text.h5]

The vectors are those of ``experiments/text_benchmark.py``'s variant: the store's TF-IDF rows beside the appearance
encoder's (gazsl.documents.appearance), each block's rows of unit norm. Nothing else of the store changes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from gazsl.documents.appearance import encode_appearance
from gazsl.documents.corpus import read_corpus
from gazsl.store.feature_store import FeatureStore, TextVectors

NAME = "tfidf_appearance"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, default=Path("features/cub100.h5"))
    p.add_argument("--out", type=Path, default=Path("features/cub100_text.h5"))
    args = p.parse_args(argv)
    store = FeatureStore.open(args.store)
    tfidf = store.text("tfidf")
    corpus = read_corpus(tfidf.settings["corpus"])
    appearance = encode_appearance(corpus, store.class_ids)
    store.texts[NAME] = TextVectors(np.hstack([tfidf.vectors, appearance.vectors]).astype(np.float32), settings={
        "encoder": "tfidf+appearance", "tfidf": tfidf.settings, "appearance": appearance.settings,
        "made_by": "experiments/text_store.py"})
    store.save(args.out)  # the whole store, written atomically; the source store is left as it was
    print(f"{args.out}: text {NAME} {store.texts[NAME].vectors.shape[1]}-d beside {', '.join(sorted(store.texts))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
