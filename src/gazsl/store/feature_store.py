"""The feature store: one HDF5 file per dataset (schema in features/README.md).

A store holds image features and labels, the classes, named splits and text
vectors per encoder. ``FeatureStore.open`` validates everything it reads and
names the file and key of the first problem; ``save`` writes atomically.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazsl.io import GazslError, atomic_path, data_error, exclusive_lock, one_line

SCHEMA_VERSION = 1
# How a split's validation classes were drawn from its seen classes: "random" classes, or whole "family" groups.
VAL_RULES = ("random", "family")


@dataclass
class Split:
    """Which classes are seen (trainable) and unseen (zero-shot test).

    ``val`` are seen classes held out for model selection under the honest
    protocol, drawn by ``val_rule`` (see ``gazsl.store.splits.make_split``); ``heldout_images`` are
    images of seen classes that training never touches (the GZSL seen test set
    under the honest protocol).
    """

    name: str
    seen: np.ndarray  # (S,) class indices
    unseen: np.ndarray  # (U,) class indices
    val: np.ndarray  # (V,) class indices, a subset of seen
    heldout_images: np.ndarray  # (H,) image indices, all of seen classes
    val_rule: str = "random"  # one of VAL_RULES; stores written before the rule was recorded hold random ones
    # (K,) image indices that no evaluation scores (their descriptions made a strict text: gazsl.store.splits.strict_split)
    unscored_images: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass
class TextVectors:
    """Class vectors from one encoder, with the settings that made them."""

    vectors: np.ndarray  # (C, T) float32, row c belongs to class index c
    settings: dict = field(default_factory=dict)
    vocabulary: list[str] | None = None
    idf: np.ndarray | None = None  # (T,) tfidf: the IDF weights, to encode new documents as these were
    # (K,) image indices whose descriptions the vectors read: no evaluation with them may score these images
    described_images: np.ndarray | None = None


@dataclass
class FeatureStore:
    dataset: str
    features: np.ndarray  # (N, D) float32
    labels: np.ndarray  # (N,) int64 class index in [0, C)
    class_ids: np.ndarray  # (C,) int64, the dataset's own ids (CUB: 1..200)
    class_names: list[str]  # (C,)
    super_ids: np.ndarray  # (C,) int64 index into super_names
    super_names: list[str]
    splits: dict[str, Split] = field(default_factory=dict)
    texts: dict[str, TextVectors] = field(default_factory=dict)
    attributes: np.ndarray | None = None  # (C, A) float32, e.g. the aviary's true attributes
    info: dict = field(default_factory=dict)  # provenance: source, seeds, backbone ...
    path: Path | None = None

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise GazslError(f"{self.path or self.dataset}: unknown split '{name}' (available: {', '.join(sorted(self.splits))})")
        return self.splits[name]

    def text(self, name: str) -> TextVectors:
        if name not in self.texts:
            raise GazslError(
                f"{self.path or self.dataset}: no text vectors for encoder '{name}' "
                f"(available: {', '.join(sorted(self.texts)) or 'none'}); "
                f"run `python -m gazsl.text encode --encoder {name} --store {self.path or '<store>'} --corpus DIR`"
            )
        return self.texts[name]

    def inputs_sha256(self, split: str, text: str) -> str:
        """SHA-256 of everything a run on ``split`` conditioned on ``text`` reads from this store.

        Features, labels, the split's classes and held-out images, the text vectors: a
        rebuilt store that changes any of them changes it, while rewriting the store to
        add other text vectors or splits (which changes the file's SHA-256) does not.
        """
        digest = hashlib.sha256()
        s = self.split(split)
        unscored = (s.unscored_images,) if len(s.unscored_images) else ()  # absent: the digests of earlier runs hold
        for array in (self.features, self.labels, s.seen, s.unseen, s.val, s.heldout_images, *unscored,
                      self.text(text).vectors):
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape};".encode())
            digest.update(array.tobytes())
        return digest.hexdigest()

    # ---------------------------------------------------------------- writing
    def save(self, path) -> Path:
        import h5py

        self.validate(path)
        path = Path(path)
        # fletcher32: every chunk carries a checksum, so a flipped byte is an error on read, not silently wrong data.
        # Strings are fixed-length UTF-8 for the same reason: variable-length strings cannot be checksummed, and
        # HDF5 can hang reading a damaged one.
        with atomic_path(path, suffix=".h5") as tmp:
            with h5py.File(tmp, "w", libver="v110") as f:  # checksummed metadata and chunk indexes (HDF5 >= 1.10)
                f.attrs["schema_version"] = SCHEMA_VERSION
                f.attrs["dataset"] = self.dataset
                f.attrs["info"] = json.dumps(self.info, sort_keys=True)
                f.create_dataset("features", data=self.features.astype(np.float32), chunks=True, fletcher32=True)
                f.create_dataset("labels", data=self.labels.astype(np.int64), fletcher32=True)
                f.create_dataset("classes/ids", data=self.class_ids.astype(np.int64), fletcher32=True)
                f.create_dataset("classes/names", data=_utf8(self.class_names), fletcher32=True)
                f.create_dataset("classes/super_ids", data=self.super_ids.astype(np.int64), fletcher32=True)
                f.create_dataset("classes/super_names", data=_utf8(self.super_names), fletcher32=True)
                if self.attributes is not None:
                    f.create_dataset("classes/attributes", data=self.attributes.astype(np.float32), fletcher32=True)
                for name, split in self.splits.items():
                    g = f.create_group(f"splits/{name}")
                    for key in ("seen", "unseen", "val", "heldout_images"):
                        g.create_dataset(key, data=np.asarray(getattr(split, key), dtype=np.int64), fletcher32=True)
                    g.attrs["val_rule"] = split.val_rule
                    if len(split.unscored_images):
                        g.create_dataset("unscored_images", data=np.asarray(split.unscored_images, dtype=np.int64),
                                         fletcher32=True)
                for name, text in self.texts.items():
                    g = f.create_group(f"text/{name}")
                    g.create_dataset("vectors", data=text.vectors.astype(np.float32), fletcher32=True)
                    g.attrs["settings"] = json.dumps(text.settings, sort_keys=True)
                    if text.vocabulary is not None:
                        g.create_dataset("vocabulary", data=_utf8(text.vocabulary), fletcher32=True)
                    if text.idf is not None:
                        g.create_dataset("idf", data=text.idf, fletcher32=True)
                    if text.described_images is not None:
                        g.create_dataset("described_images", data=np.asarray(text.described_images, dtype=np.int64),
                                         fletcher32=True)
        self.path = path
        return path

    # ---------------------------------------------------------------- reading
    @classmethod
    def open(cls, path) -> "FeatureStore":
        import h5py

        path = Path(path)
        if not path.exists():
            raise data_error(path, "feature store not found; build it first (see features/README.md)")
        try:
            f = h5py.File(path, "r")
        except OSError as err:
            raise data_error(path, f"not a readable HDF5 file ({err})") from None
        try:
            with f:
                store = cls._read(f, path)
        except GazslError:
            raise
        except Exception as err:  # h5py reports damage as OSError, RuntimeError, KeyError, ValueError ...
            raise data_error(path, f"corrupt or truncated store ({one_line(err)})") from None
        store.validate(path)
        return store

    @staticmethod
    def read_info(path) -> dict:
        """The store's ``info`` alone, without loading it; {} where the file is missing or unreadable (``open`` says why)."""
        import h5py

        try:
            with h5py.File(path, "r") as f:
                return json.loads(f.attrs.get("info", "{}"))
        except (OSError, ValueError):
            return {}

    @classmethod
    def _read(cls, f, path: Path) -> "FeatureStore":
        def need(key):
            if key not in f:
                raise data_error(path, "missing key", key)
            return f[key]

        version = f.attrs.get("schema_version")
        if version != SCHEMA_VERSION:
            raise data_error(path, f"schema version {version}, this gazsl reads {SCHEMA_VERSION}", "schema_version")
        splits = {}
        # not f.get(key, {}): it would turn a damaged group (KeyError from a bad checksum) into a silently empty one
        for name, g in (f["splits"] if "splits" in f else {}).items():
            arrays = {}
            for key in ("seen", "unseen", "val", "heldout_images"):
                if key not in g:
                    raise data_error(path, "missing key", f"splits/{name}/{key}")
                arrays[key] = g[key][()]
            rule = g.attrs.get("val_rule", "random")
            if "unscored_images" in g:
                arrays["unscored_images"] = g["unscored_images"][()]
            splits[name] = Split(name=name, **arrays, val_rule=rule.decode("utf-8") if isinstance(rule, bytes) else str(rule))
        texts = {}
        for name, g in (f["text"] if "text" in f else {}).items():
            if "vectors" not in g:
                raise data_error(path, "missing key", f"text/{name}/vectors")
            vocab = [v.decode("utf-8") if isinstance(v, bytes) else v for v in g["vocabulary"][()]] if "vocabulary" in g else None
            texts[name] = TextVectors(vectors=g["vectors"][()], settings=json.loads(g.attrs.get("settings", "{}")),
                                      vocabulary=vocab, idf=g["idf"][()] if "idf" in g else None,
                                      described_images=g["described_images"][()] if "described_images" in g else None)

        def strings(key):
            return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in need(key)[()]]

        return cls(
            dataset=str(f.attrs.get("dataset", path.stem)),
            features=need("features")[()],
            labels=need("labels")[()],
            class_ids=need("classes/ids")[()],
            class_names=strings("classes/names"),
            super_ids=need("classes/super_ids")[()],
            super_names=strings("classes/super_names"),
            splits=splits,
            texts=texts,
            attributes=f["classes/attributes"][()] if "classes/attributes" in f else None,
            info=json.loads(f.attrs.get("info", "{}")),
            path=path,
        )

    def validate(self, path=None) -> None:
        """Check shapes, dtypes, ranges and split consistency; raise GazslError on the first problem."""
        where = path or self.path or self.dataset

        def fail(key, problem):
            raise data_error(where, problem, key)

        x, y = self.features, self.labels
        if x.ndim != 2 or not np.issubdtype(x.dtype, np.floating):
            fail("features", f"expected a 2-d float array, got shape {x.shape} dtype {x.dtype}")
        if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            fail("labels", f"expected {x.shape[0]} integer labels, got shape {y.shape} dtype {y.dtype}")
        if not np.isfinite(x).all():
            bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
            fail("features", f"non-finite value (NaN or inf) in row {bad}")
        n_classes = len(self.class_names)
        for key, arr in (("classes/ids", self.class_ids), ("classes/super_ids", self.super_ids)):
            if np.shape(arr) != (n_classes,) or not np.issubdtype(np.asarray(arr).dtype, np.integer):
                fail(key, f"expected {n_classes} integers (one per class), got shape {np.shape(arr)} dtype {np.asarray(arr).dtype}")
        if len(y) and (y.min() < 0 or y.max() >= n_classes):
            fail("labels", f"label out of range [0, {n_classes}): min {y.min()}, max {y.max()}")
        if len(self.super_ids) and (self.super_ids.min() < 0 or self.super_ids.max() >= len(self.super_names)):
            fail("classes/super_ids", f"index out of range [0, {len(self.super_names)})")
        if self.attributes is not None and (self.attributes.ndim != 2 or self.attributes.shape[0] != n_classes
                                            or not np.issubdtype(self.attributes.dtype, np.floating)):
            fail("classes/attributes", f"expected ({n_classes}, A) floats, got {self.attributes.shape} {self.attributes.dtype}")
        if self.attributes is not None and not np.isfinite(self.attributes).all():
            fail("classes/attributes", "non-finite value (NaN or inf)")
        for name, text in self.texts.items():
            v = text.vectors
            if v.ndim != 2 or v.shape[0] != n_classes or not np.issubdtype(v.dtype, np.floating):
                fail(f"text/{name}/vectors", f"expected ({n_classes}, T) floats, got {v.shape} {v.dtype}")
            if not np.isfinite(v).all():
                fail(f"text/{name}/vectors", "non-finite value (NaN or inf)")
            if text.vocabulary is not None and len(text.vocabulary) != v.shape[1]:
                fail(f"text/{name}/vocabulary", f"{len(text.vocabulary)} terms for {v.shape[1]} columns")
            if text.idf is not None and (np.shape(text.idf) != (v.shape[1],) or not np.isfinite(text.idf).all()):
                fail(f"text/{name}/idf", f"expected {v.shape[1]} finite IDF weights, got shape {np.shape(text.idf)}")
            d = text.described_images
            if d is not None and (np.ndim(d) != 1 or (np.size(d) and (np.min(d) < 0 or np.max(d) >= len(y)))):
                fail(f"text/{name}/described_images", f"expected a 1-d list of image indices in [0, {len(y)})")
        for name, s in self.splits.items():
            key = f"splits/{name}"
            for part in ("seen", "unseen", "val", "heldout_images", "unscored_images"):
                arr = np.asarray(getattr(s, part))
                if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
                    fail(f"{key}/{part}", f"expected a 1-d list of integer indices, got shape {arr.shape} dtype {arr.dtype}")
            for part in ("seen", "unseen", "val"):
                arr = np.asarray(getattr(s, part))
                if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
                    fail(f"{key}/{part}", f"class index out of range [0, {n_classes})")
            if len(s.seen) == 0 or len(s.unseen) == 0:
                fail(key, "a split needs at least one seen and one unseen class")
            if np.intersect1d(s.seen, s.unseen).size:
                fail(key, "seen and unseen classes overlap")
            if not np.isin(s.val, s.seen).all():
                fail(f"{key}/val", "validation classes must be seen classes")
            if s.val_rule not in VAL_RULES:
                fail(f"{key}/val_rule", f"unknown validation rule {s.val_rule!r} (known: {', '.join(VAL_RULES)})")
            if s.val_rule == "family" and np.isin(self.super_ids[s.val], self.super_ids[np.setdiff1d(s.seen, s.val)]).any():
                fail(f"{key}/val", "validation classes share a family with other seen classes, against its val_rule 'family'")
            h = np.asarray(s.heldout_images)
            if h.size and (h.min() < 0 or h.max() >= len(y)):
                fail(f"{key}/heldout_images", f"image index out of range [0, {len(y)})")
            if h.size and not np.isin(y[h], s.seen).all():
                fail(f"{key}/heldout_images", "held-out images must belong to seen classes")
            u = np.asarray(s.unscored_images)
            if u.size and (u.min() < 0 or u.max() >= len(y)):
                fail(f"{key}/unscored_images", f"image index out of range [0, {len(y)})")


def _utf8(strings) -> np.ndarray:
    """(n,) fixed-length UTF-8 bytes: checksummable, unlike HDF5's variable-length strings."""
    encoded = [str(s).encode("utf-8") for s in strings]
    return np.array(encoded, dtype=f"S{max([1, *map(len, encoded)])}")


def store_lock(path, wait: bool = False):
    """The lock that one writer of the feature store ``path`` holds (``gazsl.io.exclusive_lock``) over its read-modify-write."""
    path = Path(path)
    return exclusive_lock(path.with_name(path.name + ".lock"), f"feature store {path}", wait)


def default_store_path(dataset: str) -> Path:
    """features/<dataset>.h5 under the current directory, or GAZSL_FEATURES if set."""
    import os

    root = Path(os.environ.get("GAZSL_FEATURES", "features"))
    return root / f"{dataset}.h5"
