"""Feature stores from a dataset's own folder: CUB-200-2011 or NABirds, through gazsl's image backbone.

    python -m gazsl.data build --dataset cub --root CUB_200_2011 --articles DIR [--crop none|bbox] [--vocabulary TERMS]
    python -m gazsl.data build --dataset nab --root nabirds --articles DIR [--crop none|bbox] [--vocabulary TERMS]

A dataset folder holds (fields separated by spaces, or by ', ' as in the cub100 subset)::

    classes.txt              <class id> <name>           CUB: '1 001.Black_footed_Albatross'
    images.txt               <image id> <path>           path relative to images/
    image_class_labels.txt   <image id> <class id>
    bounding_boxes.txt       <image id> <x> <y> <width> <height>   (pixels; read for --crop bbox only)
    images/<path>

CUB classes are matched to CUB-200-2011's by name, so a folder holding some
of the classes, numbered its own way, is read as well. NABirds images belong
to leaf classes; each is mapped to GAZSL's 404 classes by the merge table
shipped with gazsl (``gazsl/datasets/facts/nab_merge.tsv``).

The store holds the classes that have images (in id order), every listed
image (in the order of images.txt), GAZSL's SCS and SCE splits restricted to
those classes, and TF-IDF text vectors of the class articles (``tfidf``;
``tfidf_gazsl`` as well over GAZSL's own term list when one is given). With CUB's
visual descriptions (``descriptions``), four texts more and a strict split beside each
split (``description_texts``).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazsl.datasets.dataset_facts import MODES, dataset_classes, gazsl_split, nabirds_merge
from gazsl.io import GazslError, data_error, read_utf8, sha256_file
from gazsl.store.feature_store import FeatureStore, TextVectors, default_store_path
from gazsl.store.splits import described_half, make_split, strict_split, val_rule_for

CROPS = ("none", "bbox")
_SEPARATOR = re.compile(r"\s*,\s*|\s+")


@dataclass
class DatasetFolder:
    """The images of a dataset folder, as its own files list them, in the order of its images.txt."""

    root: Path
    images: Path  # the folder the paths are relative to (root/images)
    paths: list[str]  # (N,)
    class_ids: np.ndarray  # (N,) int64, GAZSL's class ids: CUB ids, NABirds ids of the 404 merged classes
    boxes: np.ndarray | None  # (N, 4) float32 x, y, width, height in pixels; None unless asked for


def _read_table(path: Path, what: str, form: str) -> dict[str, list[str]]:
    """Lines '<id> <field> ...' -> id -> fields; ``form`` ('<id> <path>') says how many fields and is shown on error."""
    columns = form.count("<")
    table = {}
    for lineno, line in enumerate(read_utf8(path, what).splitlines(), 1):
        if not line.strip():
            continue
        fields = _SEPARATOR.split(line.strip(), maxsplit=columns - 1)
        if len(fields) != columns or not all(fields):
            raise data_error(path, f"expected '{form}'", f"line {lineno}")
        if fields[0] in table:
            raise data_error(path, f"id '{fields[0]}' listed twice", f"line {lineno}")
        table[fields[0]] = fields[1:]
    if not table:
        raise data_error(path, f"empty {what}")
    return table


def _read_folder(root: Path, dataset_name: str, class_of, read_boxes: bool) -> DatasetFolder:
    """The images of ``root``; ``class_of(label)`` maps a class id of the folder to GAZSL's (None: not a class).

    ``dataset_name`` ('CUB', 'NABirds') is for messages.
    """
    images = _read_table(root / "images.txt", f"{dataset_name} images.txt", "<image id> <path>")
    labels_file = root / "image_class_labels.txt"
    labels = _read_table(labels_file, f"{dataset_name} image_class_labels.txt", "<image id> <class id>")
    unlabelled = [key for key in images if key not in labels]
    if unlabelled:
        raise data_error(labels_file, f"no class for image id {unlabelled[0]} of images.txt "
                         f"({len(unlabelled)} images without one)")
    keys = list(images)  # rows in the order of images.txt
    class_ids = []
    for key in keys:
        cid = class_of(labels[key][0])
        if cid is None:
            raise data_error(labels_file, f"image id {key}: class id {labels[key][0]} is not one of GAZSL's {dataset_name} "
                             f"classes in {root / 'classes.txt'}")
        class_ids.append(cid)
    image_dir = root / "images"
    absent = [key for key in keys if not (image_dir / images[key][0]).is_file()]
    if absent:
        raise data_error(image_dir / images[absent[0]][0], f"listed in {root / 'images.txt'} (image id {absent[0]}) but "
                         f"not found ({len(absent)} listed images missing)")
    boxes = None
    if read_boxes:
        boxes_file = root / "bounding_boxes.txt"
        table = _read_table(boxes_file, f"{dataset_name} bounding_boxes.txt", "<image id> <x> <y> <width> <height>")
        rows = []
        for key in keys:
            try:
                x, y, w, h = map(float, table[key])
            except KeyError:
                raise data_error(boxes_file, f"no bounding box for image id {key}") from None
            except ValueError:
                raise data_error(boxes_file, f"image id {key}: x, y, width, height must be numbers") from None
            if not (np.isfinite([x, y, w, h]).all() and w > 0 and h > 0):
                raise data_error(boxes_file, f"image id {key}: empty or non-finite box ({x}, {y}, {w}, {h})")
            rows.append((x, y, w, h))
        boxes = np.array(rows, dtype=np.float32)
    return DatasetFolder(root=root, images=image_dir, paths=[images[key][0] for key in keys],
                         class_ids=np.array(class_ids, dtype=np.int64), boxes=boxes)


def read_cub_folder(root, read_boxes: bool = False) -> DatasetFolder:
    """A CUB_200_2011 folder, or one holding some of its classes (classes matched by name)."""
    root = Path(root)
    if not root.is_dir():
        raise data_error(root, "CUB_200_2011 folder not found")
    classes = dataset_classes("cub")
    cub_id = dict(zip(classes.names, classes.ids.tolist()))
    classes_file = root / "classes.txt"
    class_of = {}
    for key, (name,) in _read_table(classes_file, "CUB classes.txt", "<class id> <name>").items():
        name = name.split(".", 1)[-1]  # '001.Black_footed_Albatross' -> 'Black_footed_Albatross'
        if name not in cub_id:
            raise data_error(classes_file, f"class {key} '{name}' is not a CUB-200-2011 class name")
        class_of[key] = cub_id[name]
    return _read_folder(root, "CUB", class_of.get, read_boxes)


def read_nabirds_folder(root, read_boxes: bool = False) -> DatasetFolder:
    """A nabirds folder: each image's leaf class mapped to GAZSL's 404 classes by the shipped merge table."""
    root = Path(root)
    if not root.is_dir():
        raise data_error(root, "nabirds folder not found")
    classes, merge = dataset_classes("nab"), nabirds_merge()
    gazsl_name = dict(zip(classes.ids.tolist(), classes.names))
    classes_file = root / "classes.txt"
    names = {key: name for key, (name,) in _read_table(classes_file, "NABirds classes.txt", "<class id> <name>").items()}

    def class_of(label: str) -> int | None:
        if not label.isdigit() or label not in names:
            return None
        cid = merge.get(int(label), int(label))
        if cid not in gazsl_name:
            return None
        if names.get(str(cid)) != gazsl_name[cid]:  # another dataset, or another version of NABirds' class list
            raise data_error(classes_file, f"class {cid} is '{names.get(str(cid))}' here, '{gazsl_name[cid]}' in NABirds")
        return cid

    return _read_folder(root, "NABirds", class_of, read_boxes)


READERS = {"cub": read_cub_folder, "nab": read_nabirds_folder}


def _precomputed(npz, folder: DatasetFolder, backbone: str) -> tuple[np.ndarray, str, str]:
    """(N, D) rows of a precomputed feature file (extract-features' .npz) matched to the images by path; its backbone
    (as recorded in the file, else ``backbone``) and the precision its features were kept in."""
    from gazsl.vision.backbone import read_feature_npz

    data = read_feature_npz(npz)
    row = {str(p): i for i, p in enumerate(data["paths"])}
    absent = [p for p in folder.paths if p not in row]
    if absent:
        raise data_error(npz, f"no features for {len(absent)} images of {folder.root / 'images.txt'}, "
                         f"e.g. {absent[0]}", "paths")
    return (data["features"][[row[p] for p in folder.paths]].astype(np.float32), str(data.get("backbone", backbone)),
            str(data["features"].dtype))


def read_class_attributes(path, n_classes: int) -> np.ndarray:
    """(C, A) per-class attributes, one row per class in id order (CUB: class_attribute_labels_continuous.txt)."""
    text = read_utf8(path, "class attribute table")
    try:
        table = np.loadtxt(io.StringIO(text), dtype=np.float32, ndmin=2)
    except ValueError as err:
        raise data_error(path, f"not a table of numbers ({' '.join(str(err).split())})") from None
    if table.shape[0] != n_classes or not np.isfinite(table).all():
        raise data_error(path, f"expected {n_classes} rows of finite numbers (one per class), got {table.shape}")
    return table


def feature_cache(store_path, backbone: str, crop: str) -> Path:
    """Where a store's extracted features go: beside it, e.g. features/cub_efficientnet_lite0_bbox.npz."""
    store_path = Path(store_path)
    return store_path.with_name(f"{store_path.stem}_{backbone.replace('-', '_')}{'_bbox' if crop == 'bbox' else ''}.npz")


def captions_cache(store_path) -> Path:
    """Where a store's caption embeddings are kept: beside it, e.g. features/cub100_minilm_captions/."""
    store_path = Path(store_path)
    return store_path.with_name(f"{store_path.stem}_minilm_captions")


def extracted(root, paths: list[str], cache: Path, backbone: str, crop: str, boxes=None,
              batch_size: int = 32) -> tuple[np.ndarray, dict]:
    """(N, D) features of ``root/paths`` through the backbone (``gazsl.vision.backbone.extract``, resumable in
    ``cache``), and what a store's info records of how they were made."""
    from gazsl.vision.backbone import BACKBONES, extract

    x = extract(root, paths, cache, backbone, boxes=boxes, batch_size=batch_size)
    size = BACKBONES[backbone].image_size
    return x, {"features_file": str(cache), "crop": crop, "recipe": (
        f"{'cropped to bounding_boxes.txt' if crop == 'bbox' else 'whole image'}, {size}x{size} bilinear, "
        f"ImageNet mean/std, extract_features, global average pool"), "feature_precision": str(x.dtype)}


ORIGINAL_NAMES = "cub_image_names.txt"  # a renamed subset's map to CUB's file names (the cub100 folder has one)


def original_names(folder: DatasetFolder) -> list[str]:
    """(N,) each image's original CUB file name: as ``cub_image_names.txt`` gives it where the folder has one
    (``<path><TAB><NNN.Class>/<original>.jpg<TAB><image id>``, the cub100 subset's), else its own file name."""
    table = folder.root / ORIGINAL_NAMES
    if not table.is_file():
        return [Path(p).name for p in folder.paths]
    original = {}
    for lineno, line in enumerate(read_utf8(table, "original image names").splitlines(), 1):
        fields = line.split("\t")
        if len(fields) != 3 or not fields[0] or not fields[1]:
            raise data_error(table, "expected '<path><TAB><NNN.Class>/<original>.jpg<TAB><image id>'", f"line {lineno}")
        original[fields[0]] = Path(fields[1]).name
    absent = [p for p in folder.paths if p not in original]
    if absent:
        raise data_error(table, f"no original name for {len(absent)} images of {folder.root / 'images.txt'}, e.g. {absent[0]}")
    return [original[p] for p in folder.paths]


def description_texts(folder, captions: list[list[str]], names: list[str], labels: np.ndarray, class_ids: np.ndarray,
                      class_names: list[str], described: np.ndarray, cache=None) -> dict:
    """The texts of the visual descriptions (``gazsl.documents.descriptions``), each with its recipe:

    ``descriptions_tfidf``, ``descriptions_minilm``: every photograph's captions pooled per class (as the field uses
    them: an unseen class's text holds its test photographs' captions); ``descriptions_strict_tfidf``,
    ``descriptions_strict_minilm``: the captions of the ``described`` photographs alone (the TF-IDF vocabulary and IDF
    learned from them alone too), which the ``*_strict`` splits never score. MiniLM embeds each caption alone and
    pools their mean; ``cache``: a folder that keeps the caption embeddings (an interrupted build resumes).
    A class's captions are in the order of its file (the photographs' sorted original ``names``), so a pooled text's
    documents are those of the folder read as a corpus (``gazsl text encode --corpus DIR``).
    """
    from gazsl.documents.corpus import Corpus
    from gazsl.documents.descriptions import class_documents
    from gazsl.documents.encoders import encode_tfidf
    from gazsl.documents.sentence_encoder import MinilmEncoder, MinilmSettings, settings_record

    settings = MinilmSettings(unit="line", batch_size=64)
    encoder = MinilmEncoder(settings, cache=cache)  # one encoder: a caption of both texts is embedded once
    texts = {}
    # strict first: its captions are embedded among themselves alone, so that its vectors do not depend, even in
    # their last bits (a batch's padding), on the captions of the photographs it leaves out
    for key, photos, note in (("descriptions_strict", described, "the described half of the class's photographs "
                               "(splits *_strict never score them)"),
                              ("descriptions", None, "every photograph of the class")):
        documents = class_documents(captions, labels, len(class_ids), photos, order=np.argsort(names, kind="stable"))
        corpus = Corpus(source=Path(folder), texts=dict(zip(map(int, class_ids), documents)),
                        names=dict(zip(map(int, class_ids), class_names)))
        made = {"photographs": note, "captions_per_photo": "10, one a line (gazsl.documents.descriptions)"}
        tfidf = encode_tfidf(corpus, class_ids)
        tfidf.settings.update(made, pooling="a class's captions read as one document")
        minilm = TextVectors(vectors=encoder.encode_documents(documents, class_names),
                             settings={**settings_record(corpus, class_ids, settings), **made})
        for vectors in (tfidf, minilm):
            vectors.described_images = None if photos is None else np.asarray(photos, dtype=np.int64)
        texts[f"{key}_tfidf"], texts[f"{key}_minilm"] = tfidf, minilm
    return texts


def build_store(dataset: str, root, articles, name: str | None = None, backbone: str = "efficientnet-lite0",
                crop: str = "none", features=None, vocabulary=None, attributes=None, seed: int = 0,
                batch_size: int = 32, cache=None, descriptions=None, captions_cache=None) -> FeatureStore:
    """The store of a dataset folder (splits '<name>_easy' and '<name>_hard'; ``name`` defaults to ``dataset``).

    ``features``: a precomputed .npz (paths relative to ROOT/images) instead of running the backbone;
    ``vocabulary``: GAZSL's term file, for ``tfidf_gazsl``; ``attributes``: CUB's
    class_attribute_labels_continuous.txt; ``cache``: where the extracted features go (resumable);
    ``descriptions``: CUB's visual descriptions folder, for the texts of ``description_texts`` and the splits
    '<name>_easy_strict' and '<name>_hard_strict' (``captions_cache``: where caption embeddings are kept).
    """
    from gazsl.documents.corpus import read_corpus
    from gazsl.documents.encoders import encode_tfidf, read_vocabulary

    if dataset not in READERS:
        raise GazslError(f"unknown dataset '{dataset}' (available: {', '.join(READERS)})")
    if crop not in CROPS:
        raise GazslError(f"unknown crop '{crop}' (available: {', '.join(CROPS)})")
    name = name or dataset
    folder = READERS[dataset](root, read_boxes=crop == "bbox")
    classes = dataset_classes(dataset).subset(np.unique(folder.class_ids))
    labels = np.searchsorted(classes.ids, folder.class_ids)  # (N,) class index

    # Text first: a missing article stops the build before the long part.
    corpus = read_corpus(articles)
    absent = [(int(c), n) for c, n in zip(classes.ids, classes.names) if int(c) not in corpus.texts]
    if absent:
        cid, cname = absent[0]
        expected = f"{cid}.{cname}.txt" if dataset == "cub" else f"{cid}.<Name>.txt"
        raise data_error(corpus.source, f"missing article {expected} for class {cid} ({cname}); "
                         f"{len(absent)} of the {len(classes.ids)} classes have none")
    texts = {"tfidf": encode_tfidf(corpus, classes.ids)}
    if vocabulary:
        texts["tfidf_gazsl"] = encode_tfidf(corpus, classes.ids, vocabulary=read_vocabulary(vocabulary))
        texts["tfidf_gazsl"].settings["vocabulary_file"] = str(vocabulary)
    described = captions = photo_names = None
    if descriptions is not None:
        from gazsl.documents.descriptions import photo_captions

        if dataset != "cub":
            raise GazslError(f"--descriptions are CUB's visual descriptions; dataset '{dataset}' has none")
        photo_names = original_names(folder)
        captions = photo_captions(descriptions, folder.class_ids, photo_names)  # checked before the long part
        described = described_half(labels, seed)

    splits, notes = {}, {}
    for mode, protocol in MODES.items():
        seen_ids, unseen_ids, source = gazsl_split(dataset, mode)
        seen, unseen = np.flatnonzero(np.isin(classes.ids, seen_ids)), np.flatnonzero(np.isin(classes.ids, unseen_ids))
        if len(seen) < 2 or len(unseen) < 1:
            raise data_error(folder.root / "images.txt", f"its classes leave {len(seen)} seen and {len(unseen)} unseen "
                             f"classes of GAZSL's {protocol} split; a split needs at least 2 seen and 1 unseen")
        split_name = f"{name}_{mode}"
        splits[split_name] = make_split(split_name, seen, unseen, labels, seed=seed, val_rule=val_rule_for(split_name),
                                        families=classes.super_ids)
        notes[split_name] = (f"{source}: {len(seen)} of {len(seen_ids)} seen, {len(unseen)} of {len(unseen_ids)} unseen "
                             f"classes present")
        if described is not None:
            strict = strict_split(splits[split_name], described)
            splits[strict.name] = strict
            notes[strict.name] = (f"{split_name}, no evaluation scoring the {len(described)} photographs whose "
                                  "descriptions make the strict texts")

    class_attributes = None
    if attributes:
        every = dataset_classes(dataset).ids
        class_attributes = read_class_attributes(attributes, len(every))[np.searchsorted(every, classes.ids)]  # (C, A)

    if features is not None:
        if crop != "none":
            raise GazslError("--crop applies to features gazsl extracts, not to precomputed --features")
        x, backbone, precision = _precomputed(features, folder, backbone)
        made = {"features_file": str(features), "features_sha256": sha256_file(features), "crop": "as in features_file",
                "feature_precision": precision}  # the shared cub100 file's are float16: new photographs round alike
    else:
        cache = Path(cache) if cache else feature_cache(default_store_path(name), backbone, crop)
        x, made = extracted(folder.images, folder.paths, cache, backbone, crop, folder.boxes, batch_size)
    if descriptions is not None:
        texts.update(description_texts(descriptions, captions, photo_names, labels, classes.ids, classes.names, described,
                                       captions_cache))
        made["descriptions"] = {"folder": str(descriptions), "described_half_seed": seed, "mapping": (
            "photograph -> original CUB file name (" + (ORIGINAL_NAMES if (folder.root / ORIGINAL_NAMES).is_file()
                                                        else "images.txt") + "); the k-th of its class in sorted order "
            "owns lines 10k+1 to 10k+10 of <class_id>.<Name>.txt")}

    store = FeatureStore(
        dataset=name, features=x, labels=labels.astype(np.int64), class_ids=classes.ids, class_names=classes.names,
        super_ids=classes.super_ids, super_names=classes.super_names, splits=splits, texts=texts,
        attributes=class_attributes,
        info={"source": f"{dataset} folder {folder.root}: {len(folder.paths)} images of {len(classes.ids)} classes",
              "images": "in the order of images.txt", "backbone": backbone, **made, "splits": notes, "seed": seed,
              "attributes": str(attributes) if attributes else "none", "default_text": "tfidf"},
    )
    store.validate(folder.root)
    return store
