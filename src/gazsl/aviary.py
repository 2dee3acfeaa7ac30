"""The aviary, gazsl's synthetic default dataset: ``python -m gazsl.aviary`` (the world: gazsl.datasets.aviary_world).

    python -m gazsl.aviary build [--out features/aviary.h5] [--corpus-root text_corpora] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gazsl.datasets.aviary_world import ARTICLES, NOTES, build_aviary
from gazsl.store.feature_store import default_store_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gazsl.aviary", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="generate the aviary: feature store and both corpora")
    build.add_argument("--out", default=None, help="feature store to write (default: features/aviary.h5)")
    build.add_argument("--corpus-root", default="text_corpora", help="folder for aviary_articles/ and aviary_notes/")
    build.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    out = Path(args.out or default_store_path("aviary"))
    store = build_aviary(out, args.corpus_root, seed=args.seed)
    x = store.features
    split_text = ", ".join(f"{name} {len(s.seen)} seen / {len(s.unseen)} unseen" for name, s in store.splits.items())
    text_text = ", ".join(f"{name} {t.vectors.shape[1]}-d" for name, t in store.texts.items())
    print(f"{out}: {store.n_classes} species in {len(store.super_names)} families, "
          f"{x.shape[0]} images x {x.shape[1]} features; {split_text}; text {text_text}; "
          f"corpora in {Path(args.corpus_root) / ARTICLES} and {Path(args.corpus_root) / NOTES}; "
          f"seed {args.seed}, {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
