"""Visual descriptions: ten sentences per photograph saying what the bird looks like, as class documents.

CUB's descriptions (Reed et al., CVPR 2016) come as one ``<class_id>.<Name>.txt`` file per class, ten lines (captions)
per photograph, the photographs of a class in the sorted order of their original CUB file names: the k-th photograph
in that order owns lines 10k+1 to 10k+10. Read as a corpus (``gazsl.documents.corpus``), such a folder gives each
class the captions of all its photographs. ``photo_captions`` instead gives each photograph of a dataset its own ten
captions, so that a class's text can pool the captions of some of its photographs only (``class_documents``): the
strict texts of ``gazsl.datasets.build`` read only photographs that no evaluation scores.

The MiniLM recipe of descriptions embeds each caption alone (``unit="line"``: one caption is one sentence) and pools
the caption embeddings by their mean (``gazsl.documents.sentence_encoder``); TF-IDF reads a class's captions as one
document.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazsl.documents.corpus import FILE_NAME, clean_document
from gazsl.io import data_error, read_utf8

CAPTIONS_PER_PHOTO = 10


def read_caption_files(folder) -> dict[int, tuple[Path, list[str]]]:
    """class id -> (its file, its lines exactly as written, blank ones included) of a descriptions folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise data_error(folder, "descriptions folder not found")
    files = {}
    for file in sorted(folder.iterdir()):
        match = FILE_NAME.match(file.name)
        if file.suffix != ".txt":
            continue
        if match is None:
            raise data_error(file, "a descriptions file is named <class_id>.<Name>.txt")
        files[int(match.group(1))] = (file, read_utf8(file, "descriptions").splitlines())
    if not files:
        raise data_error(folder, "no <class_id>.<Name>.txt files in the descriptions folder")
    return files


def photo_captions(folder, class_ids: np.ndarray, original_names: list[str]) -> list[list[str]]:
    """The captions of every photograph: (N,) lists of ``CAPTIONS_PER_PHOTO`` captions, photograph i of class
    ``class_ids[i]`` with the original CUB file name ``original_names[i]``.

    Within a class, the photographs are put in the sorted order of their original names, and the k-th owns lines
    10k+1 to 10k+10 of the class's file. Every photograph of a class must be among them (a class file of 10 x M lines
    for M photographs): a subset of a class's photographs cannot be placed in its file.
    """
    files = read_caption_files(folder)
    class_ids = np.asarray(class_ids)
    captions: list[list[str] | None] = [None] * len(class_ids)
    for cid in np.unique(class_ids):
        if int(cid) not in files:
            raise data_error(folder, f"no descriptions file {int(cid)}.<Name>.txt for class id {int(cid)}")
        file, lines = files[int(cid)]
        photos = np.flatnonzero(class_ids == cid)
        if len(lines) != CAPTIONS_PER_PHOTO * len(photos):
            raise data_error(file, f"{len(lines)} lines for {len(photos)} photographs of class {int(cid)}: expected "
                             f"{CAPTIONS_PER_PHOTO} per photograph ({CAPTIONS_PER_PHOTO * len(photos)}), every photograph "
                             "of the class present")
        names = [original_names[i] for i in photos]
        if len(set(names)) != len(names):
            raise data_error(file, f"two photographs of class {int(cid)} have the same original file name")
        for k, i in enumerate(photos[np.argsort(names, kind="stable")]):
            block = [line.strip() for line in lines[CAPTIONS_PER_PHOTO * k:CAPTIONS_PER_PHOTO * (k + 1)]]
            if not any(block):
                raise data_error(file, f"lines {CAPTIONS_PER_PHOTO * k + 1}-{CAPTIONS_PER_PHOTO * (k + 1)} "
                                 f"(photograph {original_names[i]}) are all blank")
            captions[i] = block
    return captions


def class_documents(captions: list[list[str]], labels: np.ndarray, n_classes: int, photos=None,
                    order=None) -> list[str]:
    """(C,) documents, one caption a line, as a corpus folder reads them (``clean_document``): class c's holds the
    captions of its photographs among ``photos`` (image indices; default all), the photographs in ``order`` (image
    indices; default the images' own: the sorted original names give each class's file back, line for line). Blank
    captions are left out; a class with no caption is refused."""
    labels = np.asarray(labels)
    order = np.arange(len(labels)) if order is None else np.asarray(order)
    keep = np.ones(len(labels), bool) if photos is None else np.isin(np.arange(len(labels)), photos)
    documents = []
    for c in range(n_classes):
        lines = [line for i in order if keep[i] and labels[i] == c for line in captions[i] if line]
        if not lines:
            raise data_error("descriptions", f"class index {c} has no photograph with captions to pool")
        documents.append(clean_document("\n".join(lines), "descriptions", f"class index {c}"))
    return documents
