"""Any classes from folders: a folder of photographs per class and an article per class become a feature store.

    python -m gazsl.data build --dataset folder --images PHOTOS --articles ARTICLES [--name NAME]
                               [--split-file splits.json | --unseen-fraction 0.2] [--families families.tsv] [--seed S]

    PHOTOS/<class>/<photo>     any format PIL reads (JPEG, PNG, WebP, ...), sub-folders searched
    ARTICLES/<class>.txt       one UTF-8 article per class (or <id>.<class>.txt, as CUB's are)
    splits.json                {"seen": [class, ...], "unseen": [class, ...]}
    families.tsv               <class><TAB><family>, one line per class

Classes are numbered 1, 2, ... in the order of their names. The store holds
the splits ``<name>_own`` (from splits.json) or ``<name>_random`` (about
``--unseen-fraction`` of the classes unseen, drawn from ``--seed``), and with a
families table ``<name>_family`` as well (whole families unseen, as CUB's SCE
split); each with validation classes and held-out images drawn as for CUB
(``gazsl.store.splits.make_split``). Text: TF-IDF of the articles.

Every problem of the tree is found before anything is written or extracted,
and reported one line each: a class without an article, an article without
photographs, a photograph that PIL cannot read, the same photograph twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazsl.documents.corpus import Corpus, read_corpus
from gazsl.io import GazslError, data_error, read_utf8
from gazsl.store.feature_store import FeatureStore, Split, default_store_path
from gazsl.store.splits import make_split, whole_families
from gazsl.vision.backbone import unreadable


@dataclass
class ClassFolders:
    """A checked tree: classes in name order, each photo's path (relative to ``images``) and class index."""

    images: Path
    class_names: list[str]  # (C,)
    paths: list[str]  # (N,)
    labels: np.ndarray  # (N,) int64 class index
    corpus: Corpus  # class id (index + 1) -> article


def _photo_suffixes() -> set[str]:
    from PIL import Image

    return {suffix for suffix, kind in Image.registered_extensions().items() if kind in Image.OPEN}


def read_class_folders(images, articles) -> ClassFolders:
    """The classes of ``images`` and their ``articles``; every problem of the tree in one GazslError, a line each."""
    images, articles = Path(images), Path(articles)
    if not images.is_dir():
        raise data_error(images, "photograph folder not found (--images: one sub-folder of photographs per class)")
    if not articles.is_dir():
        raise data_error(articles, "article folder not found (--articles: one <class>.txt per class)")
    corpus = read_corpus(articles)
    article_of = {name: corpus.texts[cid] for cid, name in corpus.names.items()}
    file_of = {name: corpus.file_of(cid) for cid, name in corpus.names.items()}
    suffixes = _photo_suffixes()
    problems: list[str] = []
    photos: dict[str, list[str]] = {}  # class -> its readable, distinct photos
    found: dict[str, int] = {}  # class -> its image files, readable or not
    first_of: dict[str, str] = {}  # content SHA-256 -> the first photo with it
    for folder in sorted(p for p in images.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                       and not p.name.startswith("."))
        found[folder.name] = len(files)
        if folder.name not in article_of:
            problems.append(f"{folder}: class '{folder.name}' has no article {articles / (folder.name + '.txt')}")
        kept = []
        for file in files:
            relative = file.relative_to(images).as_posix()
            why = unreadable(file)
            if why:
                problems.append(f"{file}: cannot read this image ({why})")
                continue
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
            if digest in first_of:
                problems.append(f"{file}: the same photograph as {images / first_of[digest]}")
                continue
            first_of[digest] = relative
            kept.append(relative)
        photos[folder.name] = kept
    for name in sorted(article_of):
        if found.get(name, 0) == 0:
            problems.append(f"{file_of[name]}: article of class '{name}' but no photographs in "
                            f"{images / name}")
    if problems:
        raise GazslError("\n".join(problems))
    names = sorted(photos)  # every one has an article and photographs, or a problem was reported
    if len(names) < 3:
        raise data_error(images, f"{len(names)} class folders; a split needs at least 2 seen and 1 unseen class")
    paths = [p for name in names for p in photos[name]]
    labels = np.array([i for i, name in enumerate(names) for _ in photos[name]], dtype=np.int64)
    # row i of the store is class id i + 1, so the corpus is renumbered to the store's ids
    own = Corpus(source=articles, texts={i + 1: article_of[n] for i, n in enumerate(names)},
                 names={i + 1: n for i, n in enumerate(names)})
    return ClassFolders(images=images, class_names=names, paths=paths, labels=labels, corpus=own)


def read_families(path, class_names: list[str]) -> tuple[np.ndarray, list[str]]:
    """(C,) family index of every class and the family names (sorted), from '<class><TAB><family>' lines."""
    family_of: dict[str, str] = {}
    for lineno, line in enumerate(read_utf8(path, "families table").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 2 or not all(f.strip() for f in fields):
            raise data_error(path, "expected '<class><TAB><family>'", f"line {lineno}")
        name, family = (f.strip() for f in fields)
        if name not in class_names:
            raise data_error(path, f"'{name}' is not one of the {len(class_names)} class folders", f"line {lineno}")
        if name in family_of:
            raise data_error(path, f"class '{name}' listed twice", f"line {lineno}")
        family_of[name] = family
    missing = [n for n in class_names if n not in family_of]
    if missing:
        raise data_error(path, f"no family for class '{missing[0]}' ({len(missing)} classes without one)")
    families = sorted(set(family_of.values()))
    return np.array([families.index(family_of[n]) for n in class_names], dtype=np.int64), families


def read_split_file(path, class_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(seen, unseen) class indices of a '{"seen": [...], "unseen": [...]}' file of class names."""
    try:
        split = json.loads(read_utf8(path, "split file"))
    except ValueError as err:
        raise data_error(path, f"not JSON ({err})") from None
    if not isinstance(split, dict) or set(split) != {"seen", "unseen"} or not all(
            isinstance(split[k], list) and all(isinstance(n, str) for n in split[k]) for k in split):
        raise data_error(path, 'expected {"seen": [class name, ...], "unseen": [class name, ...]}')
    index = {n: i for i, n in enumerate(class_names)}
    for key in ("seen", "unseen"):
        unknown = [n for n in split[key] if n not in index]
        if unknown:
            raise data_error(path, f"'{unknown[0]}' is not one of the class folders", key)
    both = sorted(set(split["seen"]) & set(split["unseen"]))
    if both:
        raise data_error(path, f"class '{both[0]}' is both seen and unseen")
    return np.array([index[n] for n in split["seen"]], np.int64), np.array([index[n] for n in split["unseen"]], np.int64)


def folder_splits(name: str, labels, n_classes: int, seed: int, own=None, unseen_fraction: float = 0.2,
                  families=None) -> dict[str, Split]:
    """``<name>_own`` from ``own`` (seen, unseen), else ``<name>_random``; ``<name>_family`` when ``families`` (C,)
    is given."""
    if not 0 < unseen_fraction < 1:
        raise GazslError(f"--unseen-fraction must lie strictly between 0 and 1, got {unseen_fraction}")
    classes = np.arange(n_classes)
    rng = np.random.default_rng(seed)
    drawn = {}
    if own is not None:
        drawn["own"] = own
    else:
        n_unseen = min(n_classes - 2, max(1, int(round(unseen_fraction * n_classes))))
        unseen = rng.choice(classes, size=n_unseen, replace=False)
        drawn["random"] = (np.setdiff1d(classes, unseen), unseen)
    if families is not None:
        unseen = whole_families(classes, families, unseen_fraction, np.random.default_rng([seed, 2]))
        drawn["family"] = (np.setdiff1d(classes, unseen), unseen)
    splits = {}
    for suffix, (seen, unseen) in drawn.items():
        split_name = f"{name}_{suffix}"
        if len(seen) < 2 or len(unseen) < 1:
            raise GazslError(f"split '{split_name}': {len(seen)} seen and {len(unseen)} unseen classes; a split needs "
                             f"at least 2 seen and 1 unseen")
        splits[split_name] = make_split(split_name, seen, unseen, labels, seed=seed,
                                        val_rule="family" if suffix == "family" else "random", families=families)
    return splits


def _named(class_names: list[str], classes) -> str:
    """The classes by name (ten at most): the unseen ones' articles are what gazsl predict is given."""
    shown = [class_names[c] for c in classes[:10]]
    return ", ".join(shown) + (f", ... ({len(classes) - 10} more)" if len(classes) > 10 else "")


def build_folder_store(images, articles, name: str, split_file=None, unseen_fraction: float = 0.2, families=None,
                       seed: int = 0, backbone: str = "efficientnet-lite0", batch_size: int = 32,
                       cache=None) -> FeatureStore:
    """The store of a folder tree (module docstring); ``cache``: where the extracted features go (resumable; default
    beside features/<name>.h5)."""
    from gazsl.datasets.build import extracted, feature_cache
    from gazsl.documents.encoders import encode_tfidf

    if "/" in name or not name or name.startswith("."):
        raise GazslError(f"--name '{name}' must be a plain name: it names the store file and its splits")
    tree = read_class_folders(images, articles)
    n_classes = len(tree.class_names)
    if families is not None:
        super_ids, super_names = read_families(families, tree.class_names)
    else:  # no table: one family, so a family rule asked of this store says it has too few
        super_ids, super_names = np.zeros(n_classes, np.int64), ["(no families table)"]
    own = read_split_file(split_file, tree.class_names) if split_file is not None else None
    splits = folder_splits(name, tree.labels, n_classes, seed, own, unseen_fraction,
                           super_ids if families is not None else None)
    ids = np.arange(1, n_classes + 1)
    texts = {"tfidf": encode_tfidf(tree.corpus, ids)}  # before extraction: an article with no term stops it early
    cache = Path(cache) if cache else feature_cache(default_store_path(name), backbone, "none")
    x, made = extracted(tree.images, tree.paths, cache, backbone, "none", batch_size=batch_size)
    notes = {n: f"{len(s.seen)} seen, {len(s.unseen)} unseen ({_named(tree.class_names, s.unseen)}), {len(s.val)} "
                f"validation classes ({s.val_rule} rule)" for n, s in splits.items()}
    store = FeatureStore(
        dataset=name, features=x, labels=tree.labels, class_ids=ids, class_names=tree.class_names,
        super_ids=super_ids, super_names=super_names, splits=splits, texts=texts,
        info={"source": f"class folders {tree.images} and articles {Path(articles)}: {len(tree.paths)} images of "
                        f"{n_classes} classes", "images": "class folders in name order, photos in path order",
              "backbone": backbone, **made, "splits": notes, "seed": seed, "attributes": "none",
              "families": str(families) if families is not None else "none", "default_text": "tfidf"},
    )
    store.validate(tree.images)
    return store
