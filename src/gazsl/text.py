"""Text vectors from class documents: ``python -m gazsl.text`` (the encoders: gazsl.documents.encoders).

    python -m gazsl.text encode --corpus DIR --encoder tfidf --store features/X.h5 [--vocabulary TERMS]
    python -m gazsl.text encode --corpus DIR --encoder appearance --store features/X.h5
    python -m gazsl.text encode --corpus DIR --encoder mypkg.mod:encode --store features/X.h5   # an encoder plugin
    python -m gazsl.text import --vectors vectors.npz --store features/X.h5 --name mine          # docs/own-text.md
    python -m gazsl.text vocab-overlap --corpus DIR --reference CUB_Porter_7551D_TFIDF_term.mat
"""

from __future__ import annotations

import argparse
import shlex
import sys

from gazsl.documents import sentence_encoder, text_noise
from gazsl.documents.class_vectors import SUFFIXES, import_vectors, read_class_vectors
from gazsl.documents.corpus import read_corpus
from gazsl.io import GazslError
from gazsl.store.feature_store import FeatureStore, store_lock
from gazsl.documents.encoders import TfidfEncoder, encode, read_vocabulary, vocabulary_overlap


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gazsl.text", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode", help="encode a corpus into a feature store's text vectors")
    enc.add_argument("--corpus", required=True, help="folder of <class_id>.<Name>.txt or a .jsonl file")
    enc.add_argument("--encoder", default="tfidf", help="tfidf, minilm, appearance, or an encoder plugin: "
                     "module.path:function or an entry point of gazsl.encoders (default: tfidf)")
    enc.add_argument("--store", required=True, help="feature store (.h5) to add the vectors to")
    enc.add_argument("--name", help="name to store the vectors under (default: the encoder name)")
    enc.add_argument("--vocabulary", help="tfidf only: a fixed term list (GAZSL *_TFIDF_term.mat or one term a line)")
    text_noise.add_arguments(enc)
    sentence_encoder.add_arguments(enc)
    imp = sub.add_parser("import", help="add class vectors made elsewhere to a feature store (docs/own-text.md)")
    imp.add_argument("--vectors", required=True, help=f"class vectors with their class ids: {', '.join(SUFFIXES)}")
    imp.add_argument("--ids", help=".npy only: the rows' class ids, one a line")
    imp.add_argument("--store", required=True, help="feature store (.h5) to add the vectors to")
    imp.add_argument("--name", required=True, help="name to store the vectors under (gazsl train --text NAME)")
    how = imp.add_mutually_exclusive_group()
    how.add_argument("--replace", action="store_true", help="overwrite the store's text NAME")
    how.add_argument("--update", action="store_true",
                     help="replace the rows of the file's classes in vectors imported before under NAME")
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

    with store_lock(args.store):  # a read-modify-write: one writer at a time
        if args.command == "encode":
            encode_into_store(args)
        else:
            command = shlex.join(["gazsl", "text", *(sys.argv[1:] if argv is None else argv)])
            import_into_store(args, command)
    return 0


def import_into_store(args, command: str) -> None:
    """``import``: add the class vectors of a file to the store, with a recipe naming the file; the store is written
    only when every check passed."""
    store = FeatureStore.open(args.store)
    vectors = read_class_vectors(args.vectors, args.ids)
    text = import_vectors(store, vectors, args.name, command, args.replace, args.update)
    store.save(args.store)
    print(f"{args.store}: text/{args.name} {text.vectors.shape[0]} classes x {text.vectors.shape[1]} dims "
          f"({len(vectors.ids)} imported from {args.vectors})")


def encode_into_store(args) -> None:
    """``encode``: add one text encoding to the store (or find it cached there)."""
    store = FeatureStore.open(args.store)
    corpus = read_corpus(args.corpus)
    noise, options = text_noise.settings_from_args(args), {}
    if args.vocabulary:
        if args.encoder != "tfidf":
            raise GazslError(f"--vocabulary applies to the tfidf encoder, not '{args.encoder}'")
        options["vocabulary"] = read_vocabulary(args.vocabulary)
    if args.encoder not in ("tfidf", "minilm") and noise.active:  # no recipe of noise handling to repeat on new articles
        raise GazslError(f"--noise applies to the tfidf and minilm encoders, not '{args.encoder}'")
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


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
