"""Documents: read a text corpus (one document per class), as defined in text_corpora/README.md.

Two layouts are accepted:

* a folder with one UTF-8 file per class named ``<class_id>.<Name>.txt``
  (the layout of the GAZSL article release), or named ``<Name>.txt`` alone
  (the layout of a folder dataset, ``gazsl.datasets.folder``): then the class ids
  are 1, 2, ... in the order of the names, so that any subset of a dataset's
  articles lists its classes in the order of the dataset's own ids;
* a JSONL file with one ``{"class_id": int, "text": str}`` object per line
  (several lines for one class are joined).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from gazsl.io import data_error, read_utf8

FILE_NAME = re.compile(r"^(\d+)\.(.+)\.txt$")
_LINE_INDEX = re.compile(r"^\d+ +")


@dataclass
class Corpus:
    """Class documents keyed by the dataset's own class id."""

    source: Path
    texts: dict[int, str]  # class_id -> document
    names: dict[int, str]  # class_id -> name from the file name ('' for JSONL)

    def checksum(self) -> str:
        """SHA-256 over (class_id, text) pairs: identifies the corpus content for caches."""
        digest = hashlib.sha256()
        for cid in sorted(self.texts):
            digest.update(f"{cid}\0{self.texts[cid]}\0".encode())
        return digest.hexdigest()

    def file_of(self, class_id: int) -> Path | None:
        """The article file of a class in a corpus folder (``<id>.<Name>.txt`` or ``<Name>.txt``); None where there is
        none (a JSONL corpus, or a file since removed)."""
        name = self.names.get(class_id)
        return next((f for f in (self.source / f"{class_id}.{name}.txt", self.source / f"{name}.txt") if f.is_file()),
                    None)

    def documents(self, class_ids) -> list[str]:
        """Documents in the order of ``class_ids``; every class must have one."""
        missing = [int(c) for c in class_ids if int(c) not in self.texts]
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
            raise data_error(self.source, f"no document for {len(missing)} class id(s): {shown}")
        return [self.texts[int(c)] for c in class_ids]


def read_corpus(path) -> Corpus:
    path = Path(path)
    if not path.exists():
        raise data_error(path, "corpus not found")
    if path.is_dir():
        return _read_folder(path)
    if path.suffix == ".jsonl":
        return _read_jsonl(path)
    raise data_error(path, "a corpus is a folder of <class_id>.<Name>.txt files or a .jsonl file")


def _read_folder(path: Path) -> Corpus:
    files = [file for file in sorted(path.iterdir()) if file.suffix == ".txt"]
    return corpus_of(path, ((file.name, lambda file=file: read_utf8(file, "article")) for file in files))


def corpus_of(source: Path, documents) -> Corpus:
    """The corpus of ``(file_name, text)`` pairs, as a folder of those files reads (``text``: a string, or a callable
    that reads it, so that a bad file name is refused before its file is read). Names all ``<Name>.txt``: the ids are
    1, 2, ... in the order of the names, as gazsl.datasets.folder numbers its classes."""
    documents = list(documents)
    numbered = [FILE_NAME.match(name) for name, _ in documents]
    if not any(numbered):
        documents = sorted(documents, key=lambda document: Path(document[0]).stem)
    texts, names = {}, {}
    for index, (name, text) in enumerate(documents, 1):
        file = Path(source) / name
        match = FILE_NAME.match(name)
        if match is None and any(numbered):
            raise data_error(file, "corpus file name must be <class_id>.<Name>.txt, as the others in this folder are")
        cid, class_name = (int(match.group(1)), match.group(2)) if match else (index, Path(name).stem)
        if cid in texts:
            raise data_error(file, f"second document for class id {cid}")
        texts[cid] = clean_document(text() if callable(text) else text, file)
        names[cid] = class_name
    if not texts:
        raise data_error(source, "no <class_id>.<Name>.txt (or <Name>.txt) files in corpus folder")
    return Corpus(source=Path(source), texts=texts, names=names)


def _read_jsonl(path: Path) -> Corpus:
    parts: dict[int, list[str]] = {}
    for lineno, line in enumerate(read_utf8(path, "corpus").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            cid, text = record["class_id"], record["text"]
        except (ValueError, KeyError, TypeError):
            raise data_error(path, 'expected {"class_id": int, "text": str}', f"line {lineno}") from None
        if type(cid) is not int:  # not bool, and not a float silently truncated to another class
            raise data_error(path, f"'class_id' must be an integer, got {cid!r}", f"line {lineno}")
        if not isinstance(text, str):
            raise data_error(path, "'text' must be a string", f"line {lineno}")
        parts.setdefault(cid, []).append(text)
    if not parts:
        raise data_error(path, "empty corpus")
    texts = {cid: clean_document("\n".join(chunks), path, f"class_id {cid}") for cid, chunks in parts.items()}
    return Corpus(source=path, texts=texts, names={cid: "" for cid in texts})


def clean_document(text: str, file, key: str | None = None) -> str:
    """Drop the '<n> ' sentence index that starts each line of the GAZSL release."""
    lines = [_LINE_INDEX.sub("", line, count=1).strip() for line in text.splitlines()]
    document = "\n".join(line for line in lines if line)
    if not document:
        raise data_error(file, "empty document", key)
    return document


def split_sentences(document: str) -> list[str]:
    """One sentence per line in our corpora; fall back to punctuation for prose."""
    sentences = []
    for line in document.splitlines():
        sentences.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Za-z])", line) if s.strip())
    return sentences

