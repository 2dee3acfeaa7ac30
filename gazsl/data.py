"""Real data in: the GAZSL release, its download, image features, and CUB-100.

CLI::

    python -m gazsl.data import-release --dataset cub --from DIR --metadata CUB_200_2011/classes.txt [--articles DIR]
    python -m gazsl.data import-release --dataset nab --from DIR --metadata NABIRDS_META_DIR [--articles DIR]
    python -m gazsl.data download --dataset cub|nab [--cache DIR] [--sha256 HEX] (then as import-release)
    python -m gazsl.data extract-features --images DIR --backbone efficientnet-lite0 --out FILE.npz
    python -m gazsl.data build-cub100 --images ../shared/data/cub100 [--features NPZ] [--out features/cub100.h5]

Every store is written to features/<name>.h5 (schema: features/README.md).
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from gazsl.io import GazslError, data_error, sha256_file
from gazsl.store import FeatureStore, default_store_path, make_split, val_rule_for

# The GAZSL release as re-published with CIZSL (the authors' group): one archive, both datasets.
# The original link in the GAZSL README is a Google Drive folder, which needs an interactive
# confirmation for large files; this copy downloads directly.
RELEASE_URL = "https://www.dropbox.com/s/9qovr86kgogkl6r/CUB_NAB_Data.zip?dl=1"
RELEASE_ARCHIVE = "CUB_NAB_Data.zip"
# Unknown offline: this machine never saw the archive. Until it is filled in, `download`
# prints the SHA-256 it computed and asks the user to compare it with a trusted copy
# (or to pin it with --sha256 on later runs).
RELEASE_SHA256: str | None = None

SHARED = Path("../shared/data")


# ------------------------------------------------------------------ download
def download_file(url: str, dest, sha256: str | None = None, retries: int = 5, backoff: float = 2.0,
                  chunk: int = 1 << 20) -> Path:
    """Fetch ``url`` to ``dest``, resuming from ``dest.part`` (HTTP Range) after a broken transfer."""
    from tqdm import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                if have and getattr(response, "status", 200) != 206:  # the server ignored the range
                    have = 0
                length = response.headers.get("Content-Length")
                total = have + int(length) if length and length.isdigit() else None
                with open(part, "ab" if have else "wb") as f, tqdm(total=total, initial=have, unit="B",
                                                                   unit_scale=True, desc=dest.name) as bar:
                    while block := response.read(chunk):
                        f.write(block)
                        bar.update(len(block))
            if total is not None and part.stat().st_size < total:
                raise http.client.IncompleteRead(b"", total - part.stat().st_size)
            break
        except urllib.error.HTTPError as err:
            if err.code == 416 and have:  # nothing left to fetch: the part is complete
                break
            raise GazslError(f"{url}: HTTP {err.code} {err.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            if attempt == retries:
                raise GazslError(f"{url}: download failed after {retries + 1} attempts ({type(err).__name__}: "
                                 f"{' '.join(str(err).split())}); run again to resume from {part}") from None
            print(f"transfer broken ({type(err).__name__}); resuming from byte {part.stat().st_size if part.exists() else 0}")
            time.sleep(backoff * 2 ** attempt)
    digest = sha256_file(part)
    if sha256 is not None and digest != sha256.lower():
        part.unlink()
        raise data_error(dest, f"SHA-256 mismatch: got {digest}, expected {sha256.lower()}; the download was removed")
    if sha256 is None:
        print(f"{dest.name}: sha256={digest}\n  no known checksum for this archive: please compare it with a trusted "
              f"copy, and pin it with --sha256 {digest} on later runs")
    part.replace(dest)
    return dest


def extract_zip(archive, target) -> Path:
    """Unpack ``archive`` into ``target`` (once; a finished unpack is marked by ``target/.complete``)."""
    archive, target = Path(archive), Path(target)
    if (target / ".complete").exists():
        return target
    try:
        with zipfile.ZipFile(archive) as z:
            for member in z.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise data_error(archive, f"unsafe path in archive: {member}")
            if target.exists():
                shutil.rmtree(target)
            z.extractall(target)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise data_error(archive, f"not a readable zip archive ({' '.join(str(err).split())})") from None
    (target / ".complete").write_text("ok\n")
    return target


# ------------------------------------------------------------------ CUB-100
def _cub100_root(images) -> tuple[Path, Path]:
    """(root with classes.txt, folder of class folders) from either of the two."""
    images = Path(images)
    if (images / "images").is_dir():
        return images, images / "images"
    if not images.is_dir():
        raise data_error(images, "CUB-100 image folder not found")
    return images.parent, images


def read_feature_npz(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise data_error(path, "feature file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as err:  # numpy and zipfile report damage as OSError, ValueError, EOFError, BadZipFile ...
        raise data_error(path, f"truncated or not a readable .npz ({type(err).__name__}: {' '.join(str(err).split())})") from None
    for key in ("features", "label", "class_names", "paths"):
        if key not in data:
            raise data_error(path, "missing key", key)
    x, y = data["features"], data["label"]
    if not np.issubdtype(x.dtype, np.floating) or not np.issubdtype(y.dtype, np.integer) or x.size == 0:
        raise data_error(path, f"expected non-empty float features and integer labels, got features {x.shape} {x.dtype}, "
                         f"label {y.shape} {y.dtype}")
    if x.ndim != 2 or y.shape != (x.shape[0],) or len(data["paths"]) != x.shape[0]:
        raise data_error(path, f"features {x.shape}, label {y.shape}, paths {data['paths'].shape} do not agree")
    if y.min() < 0 or y.max() >= len(data["class_names"]):
        raise data_error(path, f"label out of range [0, {len(data['class_names'])})", "label")
    if not np.isfinite(x).all():
        raise data_error(path, "non-finite feature value", "features")
    return data


def build_cub100(images, features=None, articles=None, release=None, metadata=None, seed: int = 0,
                 backbone: str = "efficientnet-lite0", batch_size: int = 32) -> FeatureStore:
    """CUB-100: real photographs' features, GAZSL's SCS/SCE restricted to these classes, TF-IDF of the articles."""
    from gazsl.corpus import read_corpus
    from gazsl.release import cub_classes, load_split, read_cub_class_names
    from gazsl.text import encode_tfidf, read_vocabulary

    root, image_dir = _cub100_root(images)
    articles = Path(articles) if articles else SHARED / "cub" / "wiki_articles"
    release = Path(release) if release else SHARED / "cub" / "gazsl_release"
    metadata = Path(metadata) if metadata else SHARED / "cub" / "metadata"
    if features is None:
        from gazsl.vision import extract_features

        features = extract_features(image_dir, default_store_path("cub100").with_name(f"cub100_{backbone.replace('-', '_')}.npz"),
                                    backbone=backbone, batch_size=batch_size)
    features = Path(features)
    data = read_feature_npz(features)
    missing = [p for p in data["paths"] if not (image_dir / str(p)).is_file()]
    if missing:
        raise data_error(features, f"{len(missing)} image paths not under {image_dir}, e.g. {missing[0]}", "paths")

    all_names = read_cub_class_names(metadata / "classes.txt")
    cub_id = {name: i for i, name in enumerate(all_names, 1)}
    npz_names = [str(n) for n in data["class_names"]]
    unknown = [n for n in npz_names if n not in cub_id]
    if unknown:
        raise data_error(features, f"class name '{unknown[0]}' is not a CUB-200-2011 class ({metadata / 'classes.txt'})", "class_names")
    ids = np.array(sorted(cub_id[n] for n in npz_names), dtype=np.int64)  # classes in CUB id order
    index = {int(c): i for i, c in enumerate(ids)}
    labels = np.array([index[cub_id[npz_names[k]]] for k in data["label"]], dtype=np.int64)
    classes = cub_classes([all_names[c - 1] for c in ids])
    classes.ids = ids

    corpus = read_corpus(articles)
    absent = [(int(c), n) for c, n in zip(ids, classes.names) if int(c) not in corpus.texts]
    if absent:
        raise data_error(articles / f"{absent[0][0]}.{absent[0][1]}.txt", f"missing article for class {absent[0][1]} "
                         f"({len(absent)} classes without an article)")
    vocabulary_file = release / "CUB_Porter_7551D_TFIDF_term.mat"
    texts = {"tfidf": encode_tfidf(corpus, ids),
             "tfidf_gazsl": encode_tfidf(corpus, ids, vocabulary=read_vocabulary(vocabulary_file))}
    texts["tfidf_gazsl"].settings["vocabulary_file"] = str(vocabulary_file)

    splits, split_note = {}, {}
    for mode, file, sizes in (("easy", "train_test_split_easy.mat", (150, 50)), ("hard", "train_test_split_hard.mat", (160, 40))):
        train_cid, test_cid = load_split(release / file, len(all_names), *sizes)
        seen, unseen = np.flatnonzero(np.isin(ids, train_cid)), np.flatnonzero(np.isin(ids, test_cid))
        name = f"cub100_{mode}"
        splits[name] = make_split(name, seen, unseen, labels, seed=seed, val_rule=val_rule_for(name), families=classes.super_ids)
        split_note[name] = f"GAZSL {'SCS' if mode == 'easy' else 'SCE'} ({file}) restricted: {len(seen)} seen / {len(unseen)} unseen"

    attributes = None
    attribute_file = metadata / "class_attribute_labels_continuous.txt"
    if attribute_file.exists():
        table = np.loadtxt(attribute_file, dtype=np.float32)  # (200, 312), percent of images showing each attribute
        if table.shape[0] == len(all_names):
            attributes = table[ids - 1]

    store = FeatureStore(
        dataset="cub100", features=data["features"].astype(np.float32), labels=labels, class_ids=ids,
        class_names=classes.names, super_ids=classes.super_ids, super_names=classes.super_names,
        splits=splits, texts=texts, attributes=attributes,
        info={"source": "CUB-200-2011 photographs of 100 classes", "features_file": str(features),
              "features_sha256": sha256_file(features), "backbone": str(data.get("backbone", backbone)),
              "recipe": "224x224 bilinear, ImageNet mean/std, extract_features, global average pool",
              "splits": split_note, "seed": seed, "attributes": "CUB class_attribute_labels_continuous (312)"
              if attributes is not None else "none"},
    )
    store.validate(features)
    return store


# ------------------------------------------------------------------ CLI
def _add_import_options(p) -> None:
    p.add_argument("--dataset", required=True, choices=["cub", "nab"])
    p.add_argument("--metadata", help="cub: CUB classes.txt (or its folder); nab: folder with classes.txt, hierarchy.txt, Mergetable.mat")
    p.add_argument("--articles", help="folder of <class_id>.<Name>.txt articles: adds text/tfidf learned from them")
    p.add_argument("--out", help="feature store to write (default: features/<dataset>.h5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation classes and held-out images")
    p.add_argument("--skip-hard-features", action="store_true",
                   help="do not read the hard-mode feature files (the hard split uses the easy-mode features)")


def _write(store: FeatureStore, out) -> None:
    started = time.time()
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
    ext.add_argument("--backbone", default="efficientnet-lite0", choices=["efficientnet-lite0"])
    ext.add_argument("--out", required=True)
    ext.add_argument("--batch-size", type=int, default=32)
    ext.add_argument("--checkpoint-every", type=int, default=10, help="write the partial result every N batches")
    ext.add_argument("--limit", type=int, help="only the first N images (sorted by path)")
    c100 = sub.add_parser("build-cub100", help="CUB-100 photographs -> features/cub100.h5")
    c100.add_argument("--images", default=str(SHARED / "cub100"), help="the cub100 folder (or its images/ folder)")
    c100.add_argument("--features", help="precomputed .npz (default: extract from the images, ~8 min on 2 cores)")
    c100.add_argument("--articles", help=f"default: {SHARED / 'cub' / 'wiki_articles'}")
    c100.add_argument("--release", help=f"GAZSL split files and vocabulary (default: {SHARED / 'cub' / 'gazsl_release'})")
    c100.add_argument("--metadata", help=f"CUB metadata folder (default: {SHARED / 'cub' / 'metadata'})")
    c100.add_argument("--out", default=str(default_store_path("cub100")))
    c100.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from gazsl.release import import_release

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
        from gazsl.vision import extract_features

        started = time.time()
        out = extract_features(args.images, args.out, args.backbone, args.batch_size, args.checkpoint_every, args.limit)
        with np.load(out) as z:
            print(f"{out}: {z['features'].shape[0]} images x {z['features'].shape[1]} dims, "
                  f"{len(z['class_names'])} classes ({time.time() - started:.0f} s)")
    elif args.command == "build-cub100":
        started = time.time()
        store = build_cub100(args.images, args.features, args.articles, args.release, args.metadata, args.seed)
        _write(store, args.out)
        print(f"built in {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
