"""Real data in: stores built from CUB-200-2011 or NABirds folders, the GAZSL release and its download, image features.

CLI::

    python -m gazsl.data build --dataset cub|nab --root DIR --articles DIR [--backbone efficientnet-lite0] [--crop none|bbox]
    python -m gazsl.data build --dataset folder --images DIR --articles DIR [--name NAME]
                               [--split-file splits.json | --unseen-fraction 0.2] [--families families.tsv]
                               (your own classes: DIR/<class>/<photos>, <class>.txt articles; gazsl/datasets/folder.py)
    python -m gazsl.data build-cub100 --images CUB100_DIR --articles DIR [--features NPZ]   (build --name cub100)
    python -m gazsl.data import-release --dataset cub|nab --from DIR [--articles DIR] [--metadata FILE_OR_DIR]
    python -m gazsl.data download --dataset cub|nab [--cache DIR] [--sha256 HEX] (then as import-release; gazsl.datasets.download)
    python -m gazsl.data extract-features --images DIR --backbone efficientnet-lite0 --out FILE.npz

Every store is written to features/<name>.h5 (schema: features/README.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from gazsl.datasets.download import RELEASE_ARCHIVE, RELEASE_SHA256, RELEASE_URL, download_file, extract_zip
from gazsl.io import GazslError
from gazsl.store.feature_store import FeatureStore, default_store_path, store_lock
from gazsl.vision.backbone import BACKBONES

def _add_import_options(p) -> None:
    p.add_argument("--dataset", required=True, choices=["cub", "nab"])
    p.add_argument("--metadata", help="optional check of the class names shipped with gazsl: cub: CUB classes.txt "
                   "(or its folder); nab: NABirds folder with classes.txt and hierarchy.txt")
    p.add_argument("--articles", help="folder of <class_id>.<Name>.txt articles: adds text/tfidf learned from them")
    p.add_argument("--out", help="feature store to write (default: features/<dataset>.h5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation classes and held-out images")
    p.add_argument("--skip-hard-features", action="store_true",
                   help="do not read the hard-mode feature files (the hard split uses the easy-mode features)")


CUB_ATTRIBUTES = Path("attributes") / "class_attribute_labels_continuous.txt"


def _add_build_options(p) -> None:
    p.add_argument("--articles", required=True, help="folder of <class_id>.<Name>.txt articles (or a .jsonl corpus)")
    p.add_argument("--backbone", default="efficientnet-lite0", choices=sorted(BACKBONES))
    p.add_argument("--crop", default="none", choices=["none", "bbox"],
                   help="bbox: crop each image to its bounding_boxes.txt box before the backbone (default: none)")
    p.add_argument("--features", help="precomputed .npz (extract-features; paths relative to the images/ folder) "
                   "instead of running the backbone")
    p.add_argument("--vocabulary", help="GAZSL's term file (e.g. CUB_Porter_7551D_TFIDF_term.mat): adds text/tfidf_gazsl")
    p.add_argument("--descriptions", help="cub: CUB's visual descriptions, <class_id>.<Name>.txt with 10 lines per "
                   "photograph: adds text/descriptions_{tfidf,minilm}, their strict variants and the *_strict splits "
                   "(docs/descriptions.md)")
    p.add_argument("--attributes", help=f"class attribute table, one row per class (default: ROOT/{CUB_ATTRIBUTES} if present)")
    p.add_argument("--out", help="feature store to write (default: features/<name>.h5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation classes and held-out images")
    p.add_argument("--batch-size", type=int, default=32)


def _write(store: FeatureStore, out) -> None:
    started = time.time()
    with store_lock(out):
        path = store.save(out)
    splits = ", ".join(f"{n} ({len(s.seen)}/{len(s.unseen)})" for n, s in store.splits.items())
    texts = ", ".join(f"{n} {t.vectors.shape[1]}-d" for n, t in store.texts.items())
    print(f"{path}: {store.features.shape[0]} images x {store.features.shape[1]} dims, {store.n_classes} classes, "
          f"{len(store.super_names)} super-categories; splits {splits}; text {texts} ({time.time() - started:.1f} s to write)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gazsl.data", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import-release", help="GAZSL release folder -> features/<dataset>.h5")
    imp.add_argument("--from", dest="source", required=True, help="release folder (the 'data' folder, or CUB2011/NABird)")
    _add_import_options(imp)
    dl = sub.add_parser("download", help="fetch the GAZSL release archive, check it, resume if broken, then import")
    dl.add_argument("--cache", default="features/downloads", help="where the archive and its unpacked copy go")
    dl.add_argument("--url", default=RELEASE_URL)
    dl.add_argument("--sha256", default=RELEASE_SHA256, help="expected SHA-256 of the archive")
    dl.add_argument("--retries", type=int, default=5)
    _add_import_options(dl)
    ext = sub.add_parser("extract-features", help="image folder (one sub-folder per class) -> features .npz")
    ext.add_argument("--images", required=True)
    ext.add_argument("--backbone", default="efficientnet-lite0", choices=sorted(BACKBONES))
    ext.add_argument("--out", required=True)
    ext.add_argument("--batch-size", type=int, default=32)
    ext.add_argument("--checkpoint-every", type=int, default=10, help="write the partial result every N batches")
    ext.add_argument("--limit", type=int, help="only the first N images (sorted by path)")
    build = sub.add_parser("build", help="a CUB_200_2011 or nabirds folder, or folders of your own classes "
                           "-> features/<name>.h5 (gazsl/datasets/build.py, gazsl/datasets/folder.py)")
    build.add_argument("--dataset", required=True, choices=["cub", "nab", "folder"])
    build.add_argument("--root", help="cub, nab: the dataset folder (images.txt, image_class_labels.txt, classes.txt, images/)")
    build.add_argument("--name", help="store and split name (default: the dataset; folder: the --images folder's name): "
                       "<name>.h5, <name>_easy, <name>_hard (folder: <name>_own or <name>_random, <name>_family)")
    build.add_argument("--images", help="folder: one sub-folder of photographs per class, named as the class")
    build.add_argument("--split-file", help='folder: your own split, {"seen": [class, ...], "unseen": [class, ...]} '
                       "(split <name>_own; without it, a random split <name>_random)")
    build.add_argument("--unseen-fraction", type=float, default=0.2,
                       help="folder: share of unseen classes in the random and family splits (default 0.2)")
    build.add_argument("--families", help="folder: <class><TAB><family> lines; adds <name>_family (whole families unseen)")
    _add_build_options(build)
    c100 = sub.add_parser("build-cub100", help="the cub100 subset (100 CUB classes) -> features/cub100.h5: "
                          "build --dataset cub --name cub100")
    c100.add_argument("--images", required=True, help="the cub100 folder (images.txt, classes.txt, images/)")
    _add_build_options(c100)
    args = parser.parse_args(argv)

    from gazsl.datasets.release import import_release

    if args.command == "import-release":
        store = import_release(args.dataset, args.source, args.metadata, args.articles, args.seed,
                               hard_features=not args.skip_hard_features)
        _write(store, args.out or default_store_path(args.dataset))
    elif args.command == "download":
        cache = Path(args.cache)
        archive = download_file(args.url, cache / RELEASE_ARCHIVE, args.sha256, retries=args.retries)
        unpacked = extract_zip(archive, cache / Path(RELEASE_ARCHIVE).stem)
        store = import_release(args.dataset, unpacked, args.metadata, args.articles, args.seed,
                               hard_features=not args.skip_hard_features)
        _write(store, args.out or default_store_path(args.dataset))
    elif args.command == "extract-features":
        from gazsl.vision.backbone import extract_features

        started = time.time()
        out = extract_features(args.images, args.out, args.backbone, args.batch_size, args.checkpoint_every, args.limit)
        with np.load(out) as z:
            print(f"{out}: {z['features'].shape[0]} images x {z['features'].shape[1]} dims, "
                  f"{len(z['class_names'])} classes ({time.time() - started:.0f} s)")
    elif args.command == "build" and args.dataset == "folder":
        from gazsl.datasets.build import feature_cache
        from gazsl.datasets.folder import build_folder_store

        started = time.time()
        for flag, value, default in (("--root", args.root, None), ("--crop", args.crop, "none"),
                                     ("--features", args.features, None), ("--vocabulary", args.vocabulary, None),
                                     ("--descriptions", args.descriptions, None),
                                     ("--attributes", args.attributes, None)):
            if value != default:
                raise GazslError(f"{flag} does not apply to --dataset folder (its photographs are read with --images)")
        if args.images is None:
            raise GazslError("--dataset folder needs --images DIR (one sub-folder of photographs per class)")
        name = args.name or Path(args.images).resolve().name
        out = Path(args.out or default_store_path(name))
        store = build_folder_store(args.images, args.articles, name, split_file=args.split_file,
                                   unseen_fraction=args.unseen_fraction, families=args.families, seed=args.seed,
                                   backbone=args.backbone, batch_size=args.batch_size,
                                   cache=feature_cache(out, args.backbone, "none"))
        _write(store, out)
        for split, note in store.info["splits"].items():
            print(f"  {split}: {note}")
        print(f"built in {time.time() - started:.1f} s")
    elif args.command in ("build", "build-cub100"):
        from gazsl.datasets.build import build_store, captions_cache, feature_cache

        started = time.time()
        if args.command == "build":
            for flag, value in (("--images", args.images), ("--split-file", args.split_file), ("--families", args.families)):
                if value is not None:
                    raise GazslError(f"{flag} applies to --dataset folder only")
            if args.root is None:
                raise GazslError(f"--dataset {args.dataset} needs --root DIR (the dataset folder)")
        if args.command == "build-cub100":
            dataset, name, root = "cub", "cub100", args.images
        else:
            dataset, name, root = args.dataset, args.name or args.dataset, args.root
        out = Path(args.out or default_store_path(name))
        attributes = args.attributes
        if attributes is None and (Path(root) / CUB_ATTRIBUTES).exists():  # where CUB_200_2011 keeps them
            attributes = Path(root) / CUB_ATTRIBUTES
        store = build_store(dataset, root, args.articles, name=name, backbone=args.backbone, crop=args.crop,
                            features=args.features, vocabulary=args.vocabulary, attributes=attributes, seed=args.seed,
                            batch_size=args.batch_size, cache=feature_cache(out, args.backbone, args.crop),
                            descriptions=args.descriptions, captions_cache=captions_cache(out))
        _write(store, out)
        for split, note in store.info["splits"].items():
            print(f"  {split}: {note}")
        print(f"built in {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
