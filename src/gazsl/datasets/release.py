"""The GAZSL data release (CUB and NABirds) -> a feature store.

Layout of the release (the ``data/`` folder of the authors' code), per dataset::

    CUB2011/  train_test_split_{easy,hard}.mat      train_cid, test_cid: 1-based class ids (SCS, SCE)
              labels_{train,test}[_hard].pkl        Python-2 pickles: per-image index into train_cid / test_cid
              pfc_feat_{train,test}[_hard].mat      pfc_feat: (N, 3584) part features, MATLAB v5 or v7.3
              CUB_Porter_7551D_TFIDF_new.mat        PredicateMatrix: (200, 7551) TF-IDF of the articles
              CUB_Porter_7551D_TFIDF_term.mat       TFIDF_Term: the 7551 terms (optional)
    NABird/   the same with train_test_split_NABird_{easy,hard}.mat, pfc_feat_{train,test}_{easy,hard}.mat,
              NAB_Porter_13217D_TFIDF_{new,term}.mat (404 classes)

Both split modes hold the same images in another order; the store keeps the
easy-mode features once and checks that the hard-mode files hold the same
rows class by class. Every count, range and dimension is checked; a bad file
gives one GazslError naming it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazsl.datasets.dataset_facts import ClassInfo, dataset_classes
from gazsl.io import GazslError, data_error, read_utf8, sha256_file
from gazsl.store.readers import load_labels, load_mat
from gazsl.store.feature_store import FeatureStore, TextVectors
from gazsl.store.splits import make_split, val_rule_for


@dataclass(frozen=True)
class Mode:
    name: str  # 'easy' (SCS) or 'hard' (SCE)
    split_file: str
    labels_train: str
    labels_test: str
    feat_train: str
    feat_test: str
    n_seen: int
    n_unseen: int


@dataclass(frozen=True)
class Layout:
    dataset: str
    folder: str
    n_classes: int
    tfidf: str
    terms: str
    modes: tuple[Mode, ...]


LAYOUTS = {
    "cub": Layout("cub", "CUB2011", 200, "CUB_Porter_7551D_TFIDF_new.mat", "CUB_Porter_7551D_TFIDF_term.mat", (
        Mode("easy", "train_test_split_easy.mat", "labels_train.pkl", "labels_test.pkl",
             "pfc_feat_train.mat", "pfc_feat_test.mat", 150, 50),
        Mode("hard", "train_test_split_hard.mat", "labels_train_hard.pkl", "labels_test_hard.pkl",
             "pfc_feat_train_hard.mat", "pfc_feat_test_hard.mat", 160, 40),
    )),
    "nab": Layout("nab", "NABird", 404, "NAB_Porter_13217D_TFIDF_new.mat", "NAB_Porter_13217D_TFIDF_term.mat", (
        Mode("easy", "train_test_split_NABird_easy.mat", "labels_train.pkl", "labels_test.pkl",
             "pfc_feat_train_easy.mat", "pfc_feat_test_easy.mat", 323, 81),
        Mode("hard", "train_test_split_NABird_hard.mat", "labels_train_hard.pkl", "labels_test_hard.pkl",
             "pfc_feat_train_hard.mat", "pfc_feat_test_hard.mat", 323, 81),
    )),
}


# ------------------------------------------------------------------ readers
def load_split(path, n_classes: int, n_seen: int, n_unseen: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_cid, test_cid), 1-based, checked: sizes, range, disjoint, covering all classes."""
    cids = {}
    for key, size in (("train_cid", n_seen), ("test_cid", n_unseen)):
        value = np.asarray(load_mat(path, key)).ravel()
        if not (np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating)) \
                or not np.all(np.isfinite(value)) or not np.all(value == np.round(value)):
            raise data_error(path, "class ids must be integers", key)
        value = value.astype(np.int64)
        if value.size != size:
            raise data_error(path, f"{value.size} class ids, this release has {size}", key)
        if value.min() < 1 or value.max() > n_classes:
            raise data_error(path, f"class id out of range [1, {n_classes}]: min {value.min()}, max {value.max()}", key)
        if np.unique(value).size != value.size:
            raise data_error(path, "repeated class id", key)
        cids[key] = value
    if np.intersect1d(cids["train_cid"], cids["test_cid"]).size:
        raise data_error(path, "train_cid and test_cid overlap")
    return cids["train_cid"], cids["test_cid"]


def find_release_dir(root, dataset: str) -> Path:
    """The folder holding ``dataset``'s release files: ROOT, ROOT/CUB2011, ROOT/data/CUB2011, or found below."""
    layout = LAYOUTS[dataset]
    root = Path(root)
    if not root.is_dir():
        raise data_error(root, "release folder not found")
    marker = layout.modes[0].split_file
    for candidate in (root, root / layout.folder, root / "data" / layout.folder):
        if (candidate / marker).exists():
            return candidate
    found = sorted(root.rglob(marker))
    if not found:
        raise data_error(root, f"no GAZSL {dataset} release here (looked for {layout.folder}/{marker})")
    return found[0].parent


# ------------------------------------------------------------------ import
def read_cub_class_names(path) -> list[str]:
    """CUB ``classes.txt`` ('1 001.Black_footed_Albatross') -> names in id order."""
    path = Path(path)
    text = read_utf8(path, "CUB classes.txt")
    names = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.replace(",", " ").split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise data_error(path, "expected '<id> <name>'", f"line {lineno}")
        names[int(parts[0])] = parts[1].split(".", 1)[-1]
    if sorted(names) != list(range(1, len(names) + 1)):
        raise data_error(path, "class ids must run 1..C")
    return [names[i] for i in range(1, len(names) + 1)]


def class_info(dataset: str, metadata=None) -> ClassInfo:
    """The release's classes, from the facts shipped with gazsl; ``metadata``, if given, must agree with them.

    ``metadata``: CUB ``classes.txt`` (or its folder); NABirds: the folder with ``classes.txt`` and ``hierarchy.txt``.
    """
    info = dataset_classes(dataset)
    if metadata is None:
        return info
    path = Path(metadata)
    ours = [(int(i), n, info.super_names[s]) for i, n, s in zip(info.ids, info.names, info.super_ids)]
    if dataset == "nab":
        from gazsl.datasets.nabirds import read_nabirds_classes

        where, nab = path, read_nabirds_classes(path)
        theirs = [(int(i), n, nab.super_names[s]) for i, n, s in zip(nab.ids, nab.names, nab.super_ids)]
    else:  # CUB's classes.txt has no families: compare ids and names
        where = path / "classes.txt" if path.is_dir() else path
        theirs, ours = list(enumerate(read_cub_class_names(where), 1)), [row[:2] for row in ours]
    if theirs != ours:
        diff = next((t for t, o in zip(theirs, ours) if t != o), None)
        detail = f"first difference: {diff}" if diff else f"{len(theirs)} classes, GAZSL's {dataset} has {len(ours)}"
        raise data_error(where, f"these classes differ from GAZSL's {dataset} classes shipped with gazsl ({detail})")
    return info


def _mode_data(folder: Path, layout: Layout, mode: Mode, read_features: bool):
    """Global labels (class index 0..C-1) and, if asked, features (train rows then test rows) of one mode."""
    split = folder / mode.split_file
    train_cid, test_cid = load_split(split, layout.n_classes, mode.n_seen, mode.n_unseen)
    parts, labels = [], []
    for cids, label_file, feat_file in ((train_cid, mode.labels_train, mode.feat_train),
                                        (test_cid, mode.labels_test, mode.feat_test)):
        local = load_labels(folder / label_file)
        if local.min() < 0 or local.max() >= len(cids):
            raise data_error(folder / label_file, f"label {local.max() if local.max() >= len(cids) else local.min()} "
                             f"does not index the {len(cids)} classes of {mode.split_file}: the labels do not match the split")
        empty = np.setdiff1d(np.arange(len(cids)), local)
        if empty.size:
            raise data_error(folder / label_file, f"no image for class id {cids[empty[0]]} of {mode.split_file}: "
                             "the labels do not match the split")
        labels.append(cids[local] - 1)
        if read_features:
            x = np.asarray(load_mat(folder / feat_file, "pfc_feat"))
            if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
                raise data_error(folder / feat_file, f"expected an (N, D) numeric matrix, got shape {x.shape}", "pfc_feat")
            if x.shape[0] != len(local):
                raise data_error(folder / feat_file, f"{x.shape[0]} rows but {label_file} has {len(local)} labels", "pfc_feat")
            if not np.isfinite(x).all():
                row = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0]) + 1
                raise data_error(folder / feat_file, f"non-finite value (NaN or inf) in row {row} (1-based, as in MATLAB)", "pfc_feat")
            parts.append(x.astype(np.float32))
    if read_features and parts[0].shape[1] != parts[1].shape[1]:
        raise data_error(folder / mode.feat_test, f"{parts[1].shape[1]} dims, {mode.feat_train} has {parts[0].shape[1]}", "pfc_feat")
    features = np.concatenate(parts) if read_features else None
    return (train_cid, test_cid), np.concatenate(labels), features


def _row_digests(x: np.ndarray, y: np.ndarray) -> dict[int, list[bytes]]:
    rows: dict[int, list[bytes]] = {}
    for row, label in zip(np.ascontiguousarray(x), y):
        rows.setdefault(int(label), []).append(hashlib.blake2b(row.tobytes(), digest_size=16).digest())
    return {c: sorted(d) for c, d in rows.items()}


def import_release(dataset: str, root, metadata=None, articles=None, seed: int = 0,
                   hard_features: bool = True) -> FeatureStore:
    """Read and check a GAZSL release; splits '<dataset>_easy' and '<dataset>_hard'."""
    from gazsl.documents.corpus import read_corpus
    from gazsl.documents.encoders import encode_tfidf

    if dataset not in LAYOUTS:
        raise GazslError(f"unknown dataset '{dataset}' (available: {', '.join(LAYOUTS)})")
    layout = LAYOUTS[dataset]
    folder = find_release_dir(root, dataset)
    corpus = read_corpus(articles) if articles else None
    classes = class_info(dataset, metadata)

    easy, hard = layout.modes
    easy_split, y, x = _mode_data(folder, layout, easy, read_features=True)
    has_hard = all((folder / f).exists() for f in (hard.feat_train, hard.feat_test))
    hard_split, y_hard, x_hard = _mode_data(folder, layout, hard, read_features=hard_features and has_hard)

    # Same images, another order: per-class counts must agree, and so must the rows.
    counts, counts_hard = np.bincount(y, minlength=layout.n_classes), np.bincount(y_hard, minlength=layout.n_classes)
    if not np.array_equal(counts, counts_hard):
        c = int(np.flatnonzero(counts != counts_hard)[0])
        raise data_error(folder / hard.labels_train, f"class id {c + 1} has {counts_hard[c]} images in the hard split, "
                         f"{counts[c]} in the easy split: the labels do not match the splits")
    if x_hard is not None:
        if x_hard.shape[1] != x.shape[1]:
            raise data_error(folder / hard.feat_train, f"{x_hard.shape[1]} dims, the easy-mode features have {x.shape[1]}", "pfc_feat")
        easy_rows, hard_rows = _row_digests(x, y), _row_digests(x_hard, y_hard)
        bad = next((c for c in sorted(easy_rows) if easy_rows[c] != hard_rows.get(c)), None)
        if bad is not None:
            raise data_error(folder / hard.feat_train, f"the features of class id {bad + 1} differ from the easy-mode "
                             "features of the same images; pass --skip-hard-features to use the easy-mode ones for both splits")
        hard_note = "hard-mode features verified identical to the easy-mode ones, row by row per class"
    else:
        hard_note = "hard-mode features not read (" + ("skipped" if has_hard else "absent") + "); the hard split uses the easy-mode features"

    predicates = np.asarray(load_mat(folder / layout.tfidf, "PredicateMatrix"), dtype=np.float64)
    if predicates.ndim != 2 or predicates.shape[0] != layout.n_classes:
        raise data_error(folder / layout.tfidf, f"expected ({layout.n_classes}, T), got shape {predicates.shape}", "PredicateMatrix")
    terms = None
    if (folder / layout.terms).exists():
        from gazsl.documents.encoders import read_vocabulary

        terms = read_vocabulary(folder / layout.terms)
        if len(terms) != predicates.shape[1]:
            raise data_error(folder / layout.tfidf, f"{predicates.shape[1]} columns but {layout.terms} has {len(terms)} terms", "PredicateMatrix")
    texts = {"gazsl_tfidf": TextVectors(vectors=predicates.astype(np.float32), vocabulary=terms, settings={
        "encoder": "gazsl_release", "file": layout.tfidf, "sha256": sha256_file(folder / layout.tfidf)})}
    if corpus is not None:
        missing = [(int(c), n) for c, n in zip(classes.ids, classes.names) if int(c) not in corpus.texts]
        if missing:
            cid, name = missing[0]
            raise data_error(corpus.source, f"no article for class id {cid} ({name}); expected a file {cid}.<Name>.txt "
                             f"({len(missing)} missing)")
        texts["tfidf"] = encode_tfidf(corpus, classes.ids)

    splits = {}
    for mode, (train_cid, test_cid) in ((easy, easy_split), (hard, hard_split)):
        name = f"{dataset}_{mode.name}"
        splits[name] = make_split(name, seen=train_cid - 1, unseen=test_cid - 1, labels=y, seed=seed,
                                  val_rule=val_rule_for(name), families=classes.super_ids)
    files = sorted({f for m in layout.modes for f in (m.split_file, m.labels_train, m.labels_test)} | {layout.tfidf})
    store = FeatureStore(
        dataset=dataset, features=x, labels=y, class_ids=classes.ids, class_names=classes.names,
        super_ids=classes.super_ids, super_names=classes.super_names, splits=splits, texts=texts,
        info={"source": f"GAZSL release ({folder})", "features": "pfc_feat: part-based CNN features of the release",
              "images": "easy-mode train rows then test rows", "hard_features": hard_note, "seed": seed,
              "sha256": {f: sha256_file(folder / f) for f in files},
              "splits": {f"{dataset}_{m.name}": f"{m.split_file}: {m.n_seen} seen / {m.n_unseen} unseen classes" for m in layout.modes},
              "super_categories": f"{len(classes.super_names)} families",
              "default_text": "gazsl_tfidf"},  # train on the release's own TF-IDF unless --text says otherwise
    )
    store.validate(f"{dataset} release in {folder}")
    return store
