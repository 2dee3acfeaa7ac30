"""Class vectors made elsewhere: read from a file with their class ids, imported into a store, given to predict.

A class-vectors file holds one vector per class and says which class each row is (docs/own-text.md):

    .npz      arrays ``ids`` (C,) integers and ``vectors`` (C, T) floats; optional ``names`` (C,) strings
    .npy      a (C, T) float array; its ids in a companion text file (``--ids``), one integer a line, in row order
    .csv      one row per class: the class id, then the vector; an optional header row (its first cell not an
              integer) may name a ``name`` column, which holds the class names
    .parquet  a column ``id`` (or ``class_id``) of integers, an optional ``name`` column, and the vector: the other
              columns, all numeric, in order, or one column of lists (``pip install 'gazsl[parquet]'``)

Every file is checked as a whole: duplicate ids, rows of different lengths, a non-number, NaN or infinity are one
GazslError naming the file and the row. ``import_vectors`` then adds the vectors to a store under a name, with a
recipe saying where they came from (file, SHA-256, time, command), and a model trained on them carries that recipe
(``ImportedVectors``): it cannot encode articles, and predicts from new classes' vectors instead.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazsl.io import GazslError, data_error, one_line, read_utf8, readable_path, sha256_file
from gazsl.store.feature_store import FeatureStore, TextVectors

SUFFIXES = (".npz", ".npy", ".csv", ".parquet")
ENCODER = "imported"  # the recipe's encoder for vectors read from a file


@dataclass
class ClassVectors:
    source: Path
    ids: np.ndarray  # (C,) int64, unique
    vectors: np.ndarray  # (C, T) float32, finite
    names: list[str] | None = None  # (C,) where the file names its classes

    def class_names(self) -> list[str]:
        """The classes' names: the file's, else 'class <id>' (as a corpus without names gives them)."""
        return list(self.names) if self.names is not None else [f"class {int(c)}" for c in self.ids]

    def for_model(self, n_text_dims: int) -> np.ndarray:
        """The vectors, refused unless they have the dimension the model's text has."""
        if self.vectors.shape[1] != n_text_dims:
            raise data_error(self.source, f"{self.vectors.shape[1]}-dimensional class vectors; the model was trained on "
                             f"{n_text_dims}-dimensional text")
        return self.vectors


def read_class_vectors(path, ids_file=None, ids_flag: str = "--ids") -> ClassVectors:
    """The class vectors of ``path`` (a format of SUFFIXES; a .npy's ids from ``ids_file``, given by ``ids_flag``),
    checked."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise data_error(path, f"not a class-vectors file: expected {', '.join(SUFFIXES)}")
    if not path.is_file():
        raise data_error(path, "class-vectors file not found" if not path.exists() else "must be a file, not a folder")
    if ids_file is not None and path.suffix.lower() != ".npy":
        raise data_error(ids_file, f"{ids_flag} applies to a .npy file only; {path.name} holds its own ids")
    reader = {".npz": _read_npz, ".npy": lambda p: _read_npy(p, ids_file, ids_flag), ".csv": _read_csv,
              ".parquet": _read_parquet}[path.suffix.lower()]
    try:
        ids, vectors, names = reader(path)
    except GazslError:
        raise
    except Exception as err:  # numpy's and pyarrow's answers to a damaged or foreign file
        raise data_error(path, f"unreadable class-vectors file ({one_line(err, 160)})") from None
    return _checked(path, ids, vectors, names)


def _read_npz(path: Path):
    with np.load(path, allow_pickle=False) as archive:
        missing = [k for k in ("ids", "vectors") if k not in archive.files]
        if missing:
            raise data_error(path, f"no array {' or '.join(missing)} (it holds: {', '.join(archive.files) or 'none'}); "
                             "a .npz needs ids (C,) and vectors (C, T)")
        names = [str(n) for n in archive["names"]] if "names" in archive.files else None
        return archive["ids"], archive["vectors"], names


def _read_npy(path: Path, ids_file, ids_flag: str):
    if ids_file is None:
        raise data_error(path, f"a .npy holds no class ids: give them with {ids_flag} FILE (one class id a line, in the "
                         "rows' order), or use a .npz with arrays ids and vectors")
    lines = [line.strip() for line in read_utf8(ids_file, "class ids file").splitlines()]
    ids = [_integer(ids_file, line, f"line {n}") for n, line in enumerate(lines, 1) if line]
    return np.asarray(ids, dtype=np.int64), np.load(path, allow_pickle=False), None


def _read_csv(path: Path):
    text = read_utf8(path, "class-vectors file")
    reader = csv.reader(io.StringIO(text))
    rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        raise data_error(path, "empty class-vectors file")
    header = None
    if not _is_integer(rows[0][1][0]):
        header, rows = [cell.strip().lower() for cell in rows[0][1]], rows[1:]
    name_column = header.index("name") if header and "name" in header else None
    ids, names, vectors = [], [], []
    for n, row in rows:
        where = f"line {n}"
        ids.append(_integer(path, row[0], where))
        if name_column is not None:
            names.append(row[name_column].strip() if name_column < len(row) else "")
        cells = [c for j, c in enumerate(row) if j not in (0, name_column)]
        try:
            vectors.append([float(c) for c in cells])
        except ValueError:
            bad = next(c for c in cells if not _is_float(c))
            raise data_error(path, f"'{bad.strip()}' is not a number", where) from None
        if len(vectors[-1]) != len(vectors[0]):
            raise data_error(path, f"{len(vectors[-1])} values; the rows above have {len(vectors[0])}", where)
    return np.asarray(ids, dtype=np.int64), np.asarray(vectors, dtype=np.float64), names if name_column is not None else None


def _read_parquet(path: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise data_error(path, "reading .parquet needs pyarrow: pip install 'gazsl[parquet]' (or use .npz or .csv)") from None
    table = pq.read_table(path)
    id_column = next((c for c in ("id", "class_id") if c in table.column_names), None)
    if id_column is None:
        raise data_error(path, f"no column id or class_id (columns: {', '.join(table.column_names)})")
    names = [str(n) for n in table.column("name").to_pylist()] if "name" in table.column_names else None
    rest = [c for c in table.column_names if c not in (id_column, "name")]
    if len(rest) == 1 and str(table.schema.field(rest[0]).type).startswith(("list", "large_list", "fixed_size_list")):
        cells = table.column(rest[0]).to_pylist()
        if any(cell is None for cell in cells):
            raise data_error(path, "an empty vector", f"row {cells.index(None) + 1}")
        lengths = {len(cell) for cell in cells}
        if len(lengths) > 1:
            row = next(i for i, cell in enumerate(cells) if len(cell) != len(cells[0]))
            raise data_error(path, f"{len(cells[row])} values; the rows above have {len(cells[0])}", f"row {row + 1}")
        vectors = np.asarray(cells, dtype=np.float64)
    else:
        text = [c for c in rest if not str(table.schema.field(c).type).startswith(("int", "uint", "float", "double"))]
        if text:
            raise data_error(path, f"column '{text[0]}' is not numeric (type {table.schema.field(text[0]).type})")
        vectors = np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in rest]) if rest else None
    ids = table.column(id_column).to_pylist()
    if any(not isinstance(i, int) for i in ids):
        raise data_error(path, f"column {id_column} must hold integer class ids")
    return np.asarray(ids, dtype=np.int64), vectors, names


def _checked(path: Path, ids, vectors, names) -> ClassVectors:
    ids, vectors = np.asarray(ids), np.asarray(vectors) if vectors is not None else None
    if len(ids) == 0:
        raise data_error(path, "no classes")
    if ids.ndim != 1 or not (np.issubdtype(ids.dtype, np.integer) or ids.size == 0):
        raise data_error(path, f"class ids must be a list of integers, got shape {ids.shape} dtype {ids.dtype}")
    if vectors is None or vectors.ndim != 2 or vectors.shape[1] == 0 or not np.issubdtype(vectors.dtype, np.number):
        shape = None if vectors is None else vectors.shape
        raise data_error(path, f"vectors must be a (classes, dimensions) array of numbers, got shape {shape}")
    if len(ids) != len(vectors):
        raise data_error(path, f"{len(ids)} class ids for {len(vectors)} vectors")
    if names is not None and len(names) != len(ids):
        raise data_error(path, f"{len(names)} names for {len(ids)} classes")
    if names is not None and not all(n.strip() for n in names):
        row = next(i for i, n in enumerate(names) if not n.strip())
        raise data_error(path, f"class id {int(ids[row])} has an empty name (row {row + 1})")
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise data_error(path, f"class id {int(unique[counts > 1][0])} appears {int(counts[counts > 1][0])} times")
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise data_error(path, f"NaN or infinity in the vector of class id {int(ids[row])} (row {row + 1}); "
                         f"{int((~finite).sum())} row(s) like this")
    vectors32 = vectors.astype(np.float32)
    if not np.isfinite(vectors32).all():
        raise data_error(path, "a value too large for float32")
    return ClassVectors(path, ids.astype(np.int64), vectors32, names)


def _is_integer(cell: str) -> bool:
    try:
        int(cell.strip())
        return True
    except ValueError:
        return False


def _is_float(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _integer(path, cell: str, where: str) -> int:
    if not _is_integer(cell):
        raise data_error(path, f"class id '{cell.strip()}' is not an integer", where)
    return int(cell.strip())


def add_candidate_arguments(parser, classes_help: str) -> None:
    """--classes (articles) or --class-vectors (with --class-ids for a .npy): gazsl predict's and serve's candidates."""
    candidates = parser.add_mutually_exclusive_group(required=True)
    candidates.add_argument("--classes", type=Path, help=classes_help)
    candidates.add_argument("--class-vectors", type=Path, help="the candidate classes' vectors, with their ids "
                            f"({', '.join(SUFFIXES)}; as gazsl text import reads them, docs/own-text.md)")
    parser.add_argument("--class-ids", type=Path, help="--class-vectors .npy only: the rows' class ids, one a line")


def candidates_from_args(args) -> Path | ClassVectors:
    """The candidates ``add_candidate_arguments`` asked for: the articles' path (checked readable) or the vectors."""
    if args.class_ids is not None and args.class_vectors is None:
        raise GazslError("--class-ids applies to --class-vectors FILE.npy only")
    if args.classes is not None:
        return readable_path(args.classes, "class articles (--classes)", kind="any")
    return read_class_vectors(args.class_vectors, args.class_ids, "--class-ids")


# ---------------------------------------------------------------- into a store
def import_vectors(store: FeatureStore, vectors: ClassVectors, name: str, command: str,
                   replace: bool = False, update: bool = False) -> TextVectors:
    """Put ``vectors`` into ``store.texts[name]`` (the caller saves the store) and return them.

    A new name needs a vector for every class of the store. Ids the store does not know, and names (where the file
    has them) other than the store's for the same id, are refused. An existing name is kept unless ``replace`` (a whole new
    set, any dimension) or ``update`` (vectors imported before: the file's classes' rows replaced, the others kept,
    the dimension the same).
    """
    where = vectors.source
    row_of = {int(c): i for i, c in enumerate(store.class_ids)}
    unknown = [int(c) for c in vectors.ids if int(c) not in row_of]
    if unknown:
        raise data_error(where, f"class id {unknown[0]} is not a class of the store {store.path or store.dataset} "
                         f"({len(unknown)} unknown id(s); the store's ids are {_id_range(store.class_ids)})")
    if vectors.names is not None:  # a file that names its classes says whether its ids are the store's
        renamed = [(c, n) for c, n in zip(vectors.ids, vectors.names) if store.class_names[row_of[int(c)]] != n.strip()]
        if renamed:
            c, n = renamed[0]
            raise data_error(where, f"class id {int(c)} is '{n}' here but '{store.class_names[row_of[int(c)]]}' in the "
                             f"store ({len(renamed)} such id(s)): are the ids the store's? (leave the name column out "
                             "to import by id alone)")
    existing = store.texts.get(name)
    if existing is not None and not (replace or update):
        raise data_error(where, f"the store already has text '{name}'; pass --replace to overwrite it, --update to "
                         "replace some classes' rows of imported vectors, or choose another --name")
    rows = np.array([row_of[int(c)] for c in vectors.ids])
    source = {"file": where.name, "path": str(where.resolve()), "sha256": sha256_file(where),
              "imported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": command,
              "classes": len(rows)}
    if update and existing is not None:
        if existing.settings.get("encoder") != ENCODER:
            raise data_error(where, f"--update adds rows to imported vectors; text '{name}' was made by encoder "
                             f"'{existing.settings.get('encoder')}': use --replace or another --name")
        if vectors.vectors.shape[1] != existing.vectors.shape[1]:
            raise data_error(where, f"{vectors.vectors.shape[1]}-dimensional vectors; the store's other rows of text "
                             f"'{name}' have {existing.vectors.shape[1]}")
        table = existing.vectors.copy()
        sources = [*existing.settings.get("sources", []), source]
    else:
        missing = np.setdiff1d(store.class_ids, vectors.ids)
        if missing.size:
            raise data_error(where, f"{len(vectors.ids)} classes; the store has {store.n_classes}: no vector for class "
                             f"id {int(missing[0])} ({missing.size} missing)")
        table = np.empty((store.n_classes, vectors.vectors.shape[1]), np.float32)
        sources = [source]
    table[rows] = vectors.vectors
    text = TextVectors(vectors=table, settings={"encoder": ENCODER, "dimensions": int(table.shape[1]),
                                                "sources": sources})
    store.texts[name] = text
    return text


def _id_range(ids) -> str:
    return f"{int(np.min(ids))}..{int(np.max(ids))}" if len(ids) else "none"


class ImportedVectors:
    """The text encoder of vectors imported from a file: there is none, so new classes need their vectors given.

    Its recipe is the store's (files, SHA-256, times, commands): a model file keeps it, so that the model says
    where its text came from.
    """

    def __init__(self, recipe: dict):
        self.settings = dict(recipe)

    def encode(self, documents, names=None):
        files = ", ".join(f"{s.get('file')} (sha256 {str(s.get('sha256'))[:12]})" for s in self.settings.get("sources", []))
        raise GazslError(f"this model's text vectors were imported from {files or 'a file'} by gazsl text import, not "
                         "made from articles, so it cannot encode articles: give the new classes' vectors with "
                         "--class-vectors FILE")

    def recipe(self) -> dict:
        return dict(self.settings)
