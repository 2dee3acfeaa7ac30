"""Text vectors: encoders that turn class documents into class vectors.

``tfidf``: TF-IDF over Porter-stemmed tokens (scikit-learn + PyStemmer), the
paper's text representation. The vocabulary is learned from the corpus or
fixed (e.g. GAZSL's own term list).

CLI::

    python -m gazsl.text encode --corpus DIR --encoder tfidf --store features/X.h5
"""

from __future__ import annotations

import argparse
import re
from dataclasses import asdict, dataclass

import numpy as np

from gazsl import sentence_encoder, text_noise
from gazsl.corpus import Corpus, read_corpus
from gazsl.io import GazslError
from gazsl.store import FeatureStore, TextVectors

_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass
class TfidfSettings:
    min_df: int = 1  # keep terms in at least this many documents
    max_df: float = 1.0  # drop terms in more than this share of documents
    stop_words: str | None = "english"
    sublinear_tf: bool = False
    norm: str | None = "l2"


def porter_tokens(document: str, stop_words: frozenset[str] = frozenset()) -> list[str]:
    """Lower-case alphanumeric tokens, stop words removed, Porter-stemmed."""
    import Stemmer

    stemmer = _stemmer(Stemmer)
    tokens = [t for t in _TOKEN.findall(document.lower()) if t not in stop_words]
    return stemmer.stemWords(tokens)


def _stemmer(module, _cache={}):
    if "porter" not in _cache:
        _cache["porter"] = module.Stemmer("porter")
    return _cache["porter"]


class TfidfEncoder:
    """Fit a TF-IDF model on class documents; ``vocabulary_`` and ``idf_`` are fitted attributes."""

    name = "tfidf"

    def __init__(self, settings: TfidfSettings | None = None, vocabulary: list[str] | None = None):
        self.settings = settings or TfidfSettings()
        self.fixed_vocabulary = vocabulary

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
        return self

    def transform(self, documents: list[str]) -> np.ndarray:
        return self.vectorizer_.transform(documents).toarray().astype(np.float32)  # (C, T)

    def describe(self) -> dict:
        return {"encoder": self.name, **asdict(self.settings), "fixed_vocabulary": self.fixed_vocabulary is not None}


def encode_tfidf(corpus: Corpus, class_ids, settings: TfidfSettings | None = None,
                 vocabulary: list[str] | None = None) -> TextVectors:
    """TF-IDF class vectors, row i for ``class_ids[i]``."""
    documents = corpus.documents(class_ids)
    encoder = TfidfEncoder(settings, vocabulary).fit(documents)
    vectors = encoder.transform(documents)
    settings_record = {**encoder.describe(), "corpus": str(corpus.source), "corpus_sha256": corpus.checksum()}
    return TextVectors(vectors=vectors, settings=settings_record, vocabulary=encoder.vocabulary_)


def encode_minilm(corpus: Corpus, class_ids, **options) -> TextVectors:
    """MiniLM sentence embeddings (gazsl/sentence_encoder.py), imported lazily: the `embed` extra is optional."""
    from gazsl.sentence_encoder import encode_minilm as encode_with_minilm

    return encode_with_minilm(corpus, class_ids, **options)


ENCODERS = {"tfidf": encode_tfidf, "minilm": encode_minilm}


def encode(corpus: Corpus, class_ids, encoder: str = "tfidf", **options) -> TextVectors:
    if encoder not in ENCODERS:
        raise GazslError(f"unknown encoder '{encoder}' (available: {', '.join(sorted(ENCODERS))})")
    return ENCODERS[encoder](corpus, class_ids, **options)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gazsl.text", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode", help="encode a corpus into a feature store's text vectors")
    enc.add_argument("--corpus", required=True, help="folder of <class_id>.<Name>.txt or a .jsonl file")
    enc.add_argument("--encoder", default="tfidf", help="encoder name (default: tfidf)")
    enc.add_argument("--store", required=True, help="feature store (.h5) to add the vectors to")
    enc.add_argument("--name", help="name to store the vectors under (default: the encoder name)")
    text_noise.add_arguments(enc)
    sentence_encoder.add_arguments(enc)
    args = parser.parse_args(argv)

    if args.command == "encode":
        store = FeatureStore.open(args.store)
        corpus = read_corpus(args.corpus)
        noise, options = text_noise.settings_from_args(args), {}
        if args.encoder == "minilm":  # handles noise itself, and may find its vectors cached in the store
            options = {"settings": sentence_encoder.settings_from_args(args, noise),
                       "cached": store.texts.get(args.name or args.encoder)}
        elif noise.active:  # whole-document encoders read the kept sentences
            embed = sentence_encoder.MinilmEncoder().embed if noise.visual == "query" else None
            corpus = text_noise.filter_corpus(corpus, noise, embed)
        vectors = encode(corpus, store.class_ids, args.encoder, **options)
        if noise.active and args.encoder != "minilm":
            vectors.settings["noise"] = noise.describe()
        if vectors is not options.get("cached"):  # a cache hit leaves the store untouched
            store.texts[args.name or args.encoder] = vectors
            store.save(args.store)
        print(f"{args.store}: text/{args.name or args.encoder} {vectors.vectors.shape[0]} classes x {vectors.vectors.shape[1]} dims")
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
