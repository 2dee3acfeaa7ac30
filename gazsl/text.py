"""Text vectors: encoders that turn class documents into class vectors.

``tfidf``: TF-IDF over Porter-stemmed tokens (scikit-learn + gazsl.stem), the
paper's text representation, tokenized as GAZSL did. The vocabulary is
learned from the corpus or fixed (e.g. GAZSL's own term list).

CLI::

    python -m gazsl.text encode --corpus DIR --encoder tfidf --store features/X.h5 [--vocabulary TERMS]
    python -m gazsl.text vocab-overlap --corpus DIR --reference CUB_Porter_7551D_TFIDF_term.mat
"""

from __future__ import annotations

import argparse
import re
from dataclasses import asdict, dataclass

import numpy as np

from gazsl import sentence_encoder, text_noise
from gazsl.corpus import Corpus, read_corpus
from gazsl.io import GazslError, data_error, read_utf8
from gazsl.stem import stem_words
from gazsl.store import FeatureStore, TextVectors

# GAZSL's tokens (scikit-learn's default pattern): runs of 2+ word characters,
# so 'black-footed' gives two tokens and Greek or accented words survive.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_CONTRACTION = re.compile(r"(?<=\w)n't\b")  # won't -> wo n't, as NLTK's tokenizer splits it


@dataclass
class TfidfSettings:
    min_df: int = 1  # keep terms in at least this many documents
    max_df: float = 1.0  # drop terms in more than this share of documents
    stop_words: str | None = "english"
    sublinear_tf: bool = False
    norm: str | None = "l2"


def porter_tokens(document: str, stop_words: frozenset[str] = frozenset()) -> list[str]:
    """GAZSL's terms: lower-case tokens, Porter-stemmed (gazsl.stem), numbers and stop words dropped.

    Stop words are matched against the stems, as scikit-learn does with a
    custom tokenizer: GAZSL's vocabularies keep 'thi' (this) and 'wa' (was).
    Pure numbers are dropped: GAZSL's vocabularies hold almost none.
    """
    stems = stem_words(_TOKEN.findall(_CONTRACTION.sub(" n't", document.lower())))
    return [s for s in stems if s not in stop_words and not s.isdigit()]


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
    try:
        encoder = TfidfEncoder(settings, vocabulary).fit(documents)
    except ValueError as err:  # scikit-learn's answer when no document has a term left
        raise data_error(corpus.source, f"no terms to encode ({err})") from None
    vectors = encoder.transform(documents)
    empty = np.flatnonzero(~vectors.any(axis=1))
    if empty.size:  # an all-zero text vector would make the class indistinguishable, silently
        cid = int(class_ids[empty[0]])
        file = corpus.source / f"{cid}.{corpus.names.get(cid)}.txt"
        raise data_error(file if file.is_file() else corpus.source,
                         f"no term of the vocabulary in this document (only stop words or numbers?); "
                         f"{empty.size} class(es) like this", None if file.is_file() else f"class_id {cid}")
    settings_record = {**encoder.describe(), "corpus": str(corpus.source), "corpus_sha256": corpus.checksum()}
    return TextVectors(vectors=vectors, settings=settings_record, vocabulary=encoder.vocabulary_)


def encode_minilm(corpus: Corpus, class_ids, **options) -> TextVectors:
    """MiniLM sentence embeddings (gazsl/sentence_encoder.py), imported lazily: the `embed` extra is optional."""
    from gazsl.sentence_encoder import encode_minilm as encode_with_minilm

    return encode_with_minilm(corpus, class_ids, **options)


def read_vocabulary(path) -> list[str]:
    """A fixed term list: GAZSL's ``*_TFIDF_term.mat`` (key ``TFIDF_Term``) or a text file, one term a line."""
    from pathlib import Path

    from gazsl.io import data_error

    path = Path(path)
    if not path.exists():
        raise data_error(path, "vocabulary file not found")
    if path.suffix == ".mat":
        from gazsl.matlab import load_mat

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
    enc.add_argument("--vocabulary", help="tfidf only: a fixed term list (GAZSL *_TFIDF_term.mat or one term a line)")
    text_noise.add_arguments(enc)
    sentence_encoder.add_arguments(enc)
    ovl = sub.add_parser("vocab-overlap", help="learn a tfidf vocabulary and compare it with a reference term list")
    ovl.add_argument("--corpus", required=True, help="folder of <class_id>.<Name>.txt or a .jsonl file")
    ovl.add_argument("--reference", required=True, help="reference terms (GAZSL *_TFIDF_term.mat or one term a line)")
    ovl.add_argument("--show", type=int, default=20, help="print up to this many terms found on one side only")
    args = parser.parse_args(argv)

    if args.command == "vocab-overlap":
        corpus = read_corpus(args.corpus)
        reference = read_vocabulary(args.reference)
        learned = TfidfEncoder().fit(corpus.documents(sorted(corpus.texts))).vocabulary_
        o = vocabulary_overlap(learned, reference)
        print(f"corpus {args.corpus}: {len(corpus.texts)} documents, {o['learned']} terms learned")
        print(f"reference {args.reference}: {o['reference']} terms; shared {o['shared']}")
        print(f"only learned ({len(o['only_learned'])}): {' '.join(o['only_learned'][:args.show])}")
        print(f"only reference ({len(o['only_reference'])}): {' '.join(o['only_reference'][:args.show])}")
        print(f"jaccard={o['jaccard']:.3f}")
        return 0

    if args.command == "encode":
        store = FeatureStore.open(args.store)
        corpus = read_corpus(args.corpus)
        noise, options = text_noise.settings_from_args(args), {}
        if args.vocabulary:
            if args.encoder != "tfidf":
                raise GazslError(f"--vocabulary applies to the tfidf encoder, not '{args.encoder}'")
            options["vocabulary"] = read_vocabulary(args.vocabulary)
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
