"""Text vectors: encoders that turn class documents into class vectors.

``tfidf``: TF-IDF over Porter-stemmed tokens (scikit-learn + gazsl.documents.stem), the
paper's text representation, tokenized as GAZSL did. The vocabulary is
learned from the corpus or fixed (e.g. GAZSL's own term list).
``minilm``: MiniLM sentence embeddings (gazsl.documents.sentence_encoder).
``appearance``: body part x property mentions (gazsl.documents.appearance).
An encoder plugin: ``module.path:function`` or an entry point of ``gazsl.encoders`` (gazsl.documents.plugin_encoder).
Vectors made elsewhere and imported from a file (gazsl.documents.class_vectors) have a recipe too, but no encoder.

Every encoder leaves its recipe with the vectors it makes (``TextVectors``:
settings, vocabulary and IDF weights in the store), so that a trained model can
encode new articles exactly as its training classes' were
(``recorded_encoder``, ``encoder_from_recipe``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields

import numpy as np

from gazsl.documents import sentence_encoder, text_noise
from gazsl.documents.appearance import AppearanceEncoder, encode_appearance
from gazsl.documents.class_vectors import ENCODER as IMPORTED, ImportedVectors
from gazsl.documents.plugin_encoder import ENCODER as PLUGIN, GROUP as PLUGIN_GROUP, PluginEncoder, encode_plugin, is_plugin
from gazsl.documents.corpus import Corpus
from gazsl.io import GazslError, data_error, read_utf8
from gazsl.plugins import entry_point_names
from gazsl.documents.stem import stem_words
from gazsl.store.feature_store import FeatureStore, TextVectors

# GAZSL's tokens (scikit-learn's default pattern): runs of 2+ word characters,
# so 'black-footed' gives two tokens and Greek or accented words survive.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_CONTRACTION = re.compile(r"(?<=\w)n't\b")  # won't -> wo n't, as NLTK's tokenizer splits it
# Named in every recipe: vectors stemmed otherwise would never meet their columns.
STEMMER = "porter, NLTK variant (gazsl.documents.stem)"


@dataclass
class TfidfSettings:
    min_df: int = 1  # keep terms in at least this many documents
    max_df: float = 1.0  # drop terms in more than this share of documents
    stop_words: str | None = "english"
    sublinear_tf: bool = False
    norm: str | None = "l2"


def porter_tokens(document: str, stop_words: frozenset[str] = frozenset()) -> list[str]:
    """GAZSL's terms: lower-case tokens, Porter-stemmed (gazsl.documents.stem), numbers and stop words dropped.

    Stop words are matched against the stems, as scikit-learn does with a
    custom tokenizer: GAZSL's vocabularies keep 'thi' (this) and 'wa' (was).
    Pure numbers are dropped: GAZSL's vocabularies hold almost none.
    """
    stems = stem_words(_TOKEN.findall(_CONTRACTION.sub(" n't", document.lower())))
    return [s for s in stems if s not in stop_words and not s.isdigit()]


class TfidfEncoder:
    """Fit a TF-IDF model on class documents; ``vocabulary_`` and ``idf_`` are fitted attributes.

    ``noise`` is applied by ``encode`` (the store's vectors get it from ``text_noise.filter_corpus``).
    """

    name = "tfidf"

    def __init__(self, settings: TfidfSettings | None = None, vocabulary: list[str] | None = None,
                 noise: text_noise.NoiseSettings | None = None):
        self.settings = settings or TfidfSettings()
        self.fixed_vocabulary = vocabulary
        self.noise = noise or text_noise.NoiseSettings()

    def _vectorizer(self):
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

        stop = frozenset(ENGLISH_STOP_WORDS) if self.settings.stop_words == "english" else frozenset()
        return TfidfVectorizer(
            tokenizer=lambda doc: porter_tokens(doc, stop),
            preprocessor=None,
            lowercase=False,
            token_pattern=None,
            vocabulary=self.fixed_vocabulary,
            min_df=1 if self.fixed_vocabulary else self.settings.min_df,
            max_df=1.0 if self.fixed_vocabulary else self.settings.max_df,
            sublinear_tf=self.settings.sublinear_tf,
            norm=self.settings.norm,
            dtype=np.float32,
        )

    def fit(self, documents: list[str]) -> "TfidfEncoder":
        self.vectorizer_ = self._vectorizer().fit(documents)
        self.vocabulary_ = list(self.vectorizer_.get_feature_names_out())
        self.idf_ = self.vectorizer_.idf_  # (T,)
        return self

    @classmethod
    def fitted(cls, settings: TfidfSettings, vocabulary: list[str], idf: np.ndarray,
               noise: text_noise.NoiseSettings) -> "TfidfEncoder":
        """The encoder whose vocabulary and IDF weights were learned before (a recipe's)."""
        encoder = cls(settings, list(vocabulary), noise)
        encoder.vectorizer_ = encoder._vectorizer()
        encoder.vectorizer_.idf_ = np.asarray(idf)
        encoder.vocabulary_, encoder.idf_ = list(vocabulary), np.asarray(idf)
        return encoder

    def transform(self, documents: list[str]) -> np.ndarray:
        return self.vectorizer_.transform(documents).toarray().astype(np.float32)  # (C, T)

    def encode(self, documents: list[str], names: list[str] | None = None) -> np.ndarray:
        """(C, T) vectors of new documents, noise handling included (``names``: their classes' names)."""
        if self.noise.active:
            embed = sentence_encoder.MinilmEncoder().embed if self.noise.visual == "query" else None
            names = names or [""] * len(documents)
            documents = [text_noise.filter_document(d, self.noise, n, embed) for d, n in zip(documents, names)]
        return self.transform(documents)

    def describe(self) -> dict:
        return {"encoder": self.name, **asdict(self.settings), "fixed_vocabulary": self.fixed_vocabulary is not None,
                "stemmer": STEMMER}

    def recipe(self) -> dict:
        return {**self.describe(), "noise": self.noise.describe(), "vocabulary": list(self.vocabulary_), "idf": self.idf_}


def encode_tfidf(corpus: Corpus, class_ids, settings: TfidfSettings | None = None,
                 vocabulary: list[str] | None = None) -> TextVectors:
    """TF-IDF class vectors, row i for ``class_ids[i]``."""
    documents = corpus.documents(class_ids)
    try:
        encoder = TfidfEncoder(settings, vocabulary).fit(documents)
    except ValueError as err:  # scikit-learn's answer when no document has a term left
        raise data_error(corpus.source, f"no terms to encode ({err})") from None
    vectors = encoder.transform(documents)
    check_terms(vectors, corpus, class_ids)
    settings_record = {**encoder.describe(), "corpus": str(corpus.source), "corpus_sha256": corpus.checksum()}
    return TextVectors(vectors=vectors, settings=settings_record, vocabulary=encoder.vocabulary_, idf=encoder.idf_)


def check_terms(vectors: np.ndarray, corpus: Corpus, class_ids) -> None:
    """Refuse all-zero text vectors (C, T): such a class would be indistinguishable, silently."""
    empty = np.flatnonzero(~vectors.any(axis=1))
    if empty.size:
        cid = int(class_ids[empty[0]])
        file = corpus.file_of(cid) or corpus.source
        raise data_error(file,
                         f"no term of the vocabulary in this document (only stop words or numbers?); "
                         f"{empty.size} class(es) like this", None if file.is_file() else f"class_id {cid}")


def candidate_vectors(corpus: Corpus, encode) -> tuple[list[str], np.ndarray]:
    """(names, (C, T) vectors) of the corpus's classes in class-id order, by ``encode(documents, names)`` (a model's
    ``GAZSL.encode``); an article with no term of the vocabulary is refused, naming it."""
    ids = sorted(corpus.texts)
    names = [corpus.names.get(c) or f"class {c}" for c in ids]
    vectors = encode(corpus.documents(ids), names)
    check_terms(vectors, corpus, ids)
    return names, vectors


def recipe_of(vectors: TextVectors) -> dict:
    """What a store recorded about how its text vectors were made: settings, vocabulary and IDF weights."""
    recipe = dict(vectors.settings)
    if vectors.vocabulary is not None:
        recipe["vocabulary"] = list(vectors.vocabulary)
    if vectors.idf is not None:
        recipe["idf"] = vectors.idf
    return recipe


def encoder_from_recipe(recipe: dict):
    """The encoder that made vectors of this recipe: it encodes new documents exactly as it did its own.

    Imported vectors get a stand-in that says, when asked to encode, that it cannot; a recipe missing a part,
    or made with another stemmer or noise rules than this gazsl's, is refused.
    """
    encoder = recipe.get("encoder")
    if encoder == IMPORTED:
        return ImportedVectors(recipe)
    if encoder == PLUGIN:
        return PluginEncoder.from_recipe(recipe)
    if encoder == "minilm":
        return sentence_encoder.MinilmEncoder.from_recipe(recipe)
    if encoder == "appearance":
        return AppearanceEncoder.from_recipe(recipe)
    if encoder != "tfidf":
        raise GazslError(f"its text vectors (encoder '{encoder}') are not made from documents: only tfidf, minilm, "
                         "appearance and encoder plugins' vectors can be made for new articles")
    missing = [k for k in ("vocabulary", "idf", "stemmer") if k not in recipe]
    if missing:
        raise GazslError(f"its tfidf vectors come from a store that did not record their {' and '.join(missing)} "
                         "(an older gazsl): rebuild the store, then retrain")
    if recipe["stemmer"] != STEMMER:
        raise GazslError(f"its tfidf vectors were stemmed by {recipe['stemmer']!r}; this gazsl stems by {STEMMER!r}")
    settings = TfidfSettings(**{f.name: recipe[f.name] for f in fields(TfidfSettings) if f.name in recipe})
    idf = np.asarray(recipe["idf"])
    if idf.shape != (len(recipe["vocabulary"]),):
        raise GazslError(f"its tfidf recipe has {idf.shape} IDF weights for {len(recipe['vocabulary'])} terms")
    return TfidfEncoder.fitted(settings, recipe["vocabulary"], idf, text_noise.NoiseSettings.from_record(recipe.get("noise")))


def recorded_encoder(store: FeatureStore, name: str):
    """The encoder of the store's text vectors ``name``, rebuilt from what the store recorded."""
    try:
        return encoder_from_recipe(recipe_of(store.text(name)))
    except GazslError as err:
        raise GazslError(f"{store.path or store.dataset} [text/{name}]: {err}") from None


def encode_minilm(corpus: Corpus, class_ids, **options) -> TextVectors:
    """MiniLM sentence embeddings (gazsl/documents/sentence_encoder.py), imported lazily: the `embed` extra is optional."""
    from gazsl.documents.sentence_encoder import encode_minilm as encode_with_minilm

    return encode_with_minilm(corpus, class_ids, **options)


def read_vocabulary(path) -> list[str]:
    """A fixed term list: GAZSL's ``*_TFIDF_term.mat`` (key ``TFIDF_Term``) or a text file, one term a line."""
    from pathlib import Path

    from gazsl.io import data_error

    path = Path(path)
    if not path.exists():
        raise data_error(path, "vocabulary file not found")
    if path.suffix == ".mat":
        from gazsl.store.readers import load_mat

        raw = load_mat(path, "TFIDF_Term")
        terms = [str(t).strip() for t in np.asarray(raw).ravel()]  # fixed-width strings, padded with spaces
    else:
        terms = [line.strip() for line in read_utf8(path, "vocabulary").splitlines() if line.strip()]
    if not terms or any(not t for t in terms):
        raise data_error(path, "empty vocabulary or empty term")
    if len(set(terms)) != len(terms):
        dup = next(t for t in terms if terms.count(t) > 1)
        raise data_error(path, f"duplicate term '{dup}'")
    return terms


def vocabulary_overlap(learned: list[str], reference: list[str]) -> dict:
    a, b = set(learned), set(reference)
    return {"learned": len(a), "reference": len(b), "shared": len(a & b),
            "only_learned": sorted(a - b), "only_reference": sorted(b - a),
            "jaccard": len(a & b) / len(a | b) if a | b else 1.0}


ENCODERS = {"tfidf": encode_tfidf, "minilm": encode_minilm, "appearance": encode_appearance}


def encode(corpus: Corpus, class_ids, encoder: str = "tfidf", **options) -> TextVectors:
    """Class vectors of ``corpus`` by a built-in encoder (ENCODERS) or an encoder plugin."""
    if encoder in ENCODERS:
        return ENCODERS[encoder](corpus, class_ids, **options)
    if is_plugin(encoder):
        return encode_plugin(corpus, class_ids, encoder)
    plugins = ", ".join(entry_point_names(PLUGIN_GROUP)) or "none installed"
    raise GazslError(f"unknown encoder '{encoder}' (available: {', '.join(sorted(ENCODERS))}; plugins of "
                     f"{PLUGIN_GROUP}: {plugins}; or an encoder plugin as module.path:function)")
