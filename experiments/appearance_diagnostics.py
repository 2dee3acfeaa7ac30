"""Does the appearance encoder read what CUB's annotators saw? Per-attribute AUC over the 200 CUB classes.

    python experiments/appearance_diagnostics.py   # -> experiments/results/appearance_attributes.md

Each CUB attribute whose name maps to a part x property column of the
encoder's own vocabulary (``has_breast_color::yellow`` -> ``breast:yellow``,
``has_primary_color`` -> ``body``, ``has_head_pattern::plain`` ->
``head:solid`` ...; see ``column_of``) is measured: the classes whose
attribute value (share of images annotated with it, the class attribute
table) lies above that attribute's mean over the 200 classes are positives,
the others negatives, and the AUC is that of the encoder's value (the article's
class vector) at separating them; ties, such as the many classes whose article
never mentions the property, count a half. Reading the table here is the
measurement; the encoder itself never reads it (tests/test_appearance.py).
Also: the 10 articles that say least about appearance, and the same lexicon
on the NABirds articles (no attribute table there: how many classes it finds
described).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from gazsl.documents.appearance import AppearanceEncoder, encode_appearance
from gazsl.documents.corpus import read_corpus, split_sentences
from gazsl.io import read_utf8, run_cli, write_text_atomic

DEFAULT_CUB = "../shared/data/cub"
DEFAULT_NABIRDS = "../shared/data/nabirds/wiki_articles"
KS = (1, 5, 10, 20)  # "at least k mentions"
MIN_POSITIVES = 5  # fewer positive classes than this make an AUC of chance alone
RENAMES = {  # CUB attribute value -> the encoder's property, where the names differ
    "plain": "solid", "curved_(up_or_down)": "curved", "hooked_seabird": "hooked", "longer_than_head": "long",
    "shorter_than_head": "short", "forked_tail": "forked", "rounded_tail": "rounded", "notched_tail": "notched",
    "fan-shaped_tail": "fan-shaped", "pointed_tail": "pointed", "squared_tail": "squared", "rounded-wings": "rounded",
    "pointed-wings": "pointed", "broad-wings": "broad", "tapered-wings": "pointed", "long-wings": "long",
    "large_(16_-_32_in)": "large", "small_(5_-_9_in)": "small", "very_large_(32_-_72_in)": "very_large",
    "medium_(9_-_16_in)": "medium", "very_small_(3_-_5_in)": "very_small",
}
PART_RENAMES = {"primary": "body", "size": "body"}  # the primary colour is the whole bird's; so is its size


def column_of(attribute: str, columns: set[str]) -> str | None:
    """The encoder column of a CUB attribute name (``has_<part>_<kind>::<value>``), or None."""
    left, value = attribute.split("::")
    stem = left.removeprefix("has_")
    part = stem.rsplit("_", 1)[0] if "_" in stem else stem  # has_bill_shape -> bill; has_size -> size
    part = PART_RENAMES.get(part, part)
    column = f"{part}:{RENAMES.get(value, value)}"
    return column if column in columns else None


def cmd(args) -> None:
    cub = Path(args.cub)
    corpus = read_corpus(cub / "wiki_articles")
    ids = sorted(corpus.texts)
    encoder = AppearanceEncoder()
    sums, mentions = encoder.counts(corpus.documents(ids))
    vectors = encoder.vectors(sums)  # (200, V); an article without mentions is a zero row, tied with every other
    names = [line.split()[1] for line in read_utf8(cub / "metadata" / "attributes.txt", "attributes").splitlines() if line]
    table = np.loadtxt(cub / "metadata" / "class_attribute_labels_continuous.txt")  # (200, 312), class id order
    index = {c: i for i, c in enumerate(encoder.vocabulary_)}
    rows = []
    for a, name in enumerate(names):
        column = column_of(name, set(index))
        if column is None:
            continue
        positive = table[:, a] > table[:, a].mean()
        value = vectors[:, index[column]]
        if positive.sum() < MIN_POSITIVES:
            rows.append((name, column, int(positive.sum()), int((value != 0).sum()), None))
            continue
        rows.append((name, column, int(positive.sum()), int((value != 0).sum()), roc_auc_score(positive, value)))
    measured = [r for r in rows if r[4] is not None]
    aucs = np.array([r[4] for r in measured])
    kinds = {}
    for r in measured:
        kinds.setdefault(r[0].split("::")[0].rsplit("_", 1)[-1], []).append(r[4])
    least = np.argsort(mentions, kind="stable")[:10]
    nabirds = read_corpus(args.nabirds)
    nabirds_ids = sorted(nabirds.texts)
    nabirds_vectors = encode_appearance(nabirds, nabirds_ids)  # as `gazsl.text encode` would: refuses an empty class
    _, nabirds_mentions = encoder.counts(nabirds.documents(nabirds_ids))
    lines = [
        "# The appearance encoder against CUB's attribute table", "",
        f"Made by: `{command_line()}`", "",
        f"Articles `{cub / 'wiki_articles'}` (200 classes), attributes `{cub / 'metadata'}`; encoder "
        f"`gazsl.documents.appearance` with its default settings, {len(encoder.vocabulary_)} part x property columns. "
        f"{len(rows)} of the {len(names)} CUB attributes map to a column; positives of an attribute: the classes above "
        f"its mean over the 200 classes; {len(measured)} attributes have at least {MIN_POSITIVES} positives and are "
        "measured. AUC of the encoder's value (0.5: chance; ties count a half, so a column the articles rarely "
        "mention stays near 0.5).", "",
        "## Summary", "",
        f"- mean AUC **{aucs.mean():.3f}** over {len(aucs)} attributes (median {np.median(aucs):.3f}); "
        f"**{(aucs > 0.6).sum()}** above 0.6, {(aucs > 0.7).sum()} above 0.7, {(aucs < 0.5).sum()} below 0.5.",
        "- by kind: " + "; ".join(f"{k} {np.mean(v):.3f} ({len(v)})" for k, v in sorted(kinds.items())) + ".",
        "- classes with at least k mentions: " + ", ".join(f"k={k}: {(mentions >= k).sum()}" for k in KS)
        + f" (median {np.median(mentions):.0f} mentions per article).", "",
        "## Per attribute", "",
        "| attribute | column | positive classes | classes whose article mentions it | AUC |", "|---|---|---|---|---|",
        *(f"| `{n}` | `{c}` | {p} | {m} | {'' if auc is None else f'{auc:.3f}'} |" for n, c, p, m, auc in rows), "",
        "## The 10 articles that say least about appearance", "",
        "| class | mentions | sentences |", "|---|---|---|",
        *(f"| {ids[i]}.{corpus.names[ids[i]]} | {mentions[i]} | {len(split_sentences(corpus.texts[ids[i]]))} |"
          for i in least), "",
        "## NABirds", "",
        f"`{args.nabirds}`: {len(nabirds_ids)} classes encoded ({nabirds_vectors.vectors.shape[1]} columns); "
        f"median {np.median(nabirds_mentions):.0f} mentions per article; share of classes with at least k mentions: "
        + ", ".join(f"k={k}: {100 * (nabirds_mentions >= k).mean():.1f}%" for k in KS) + ". The same shares on CUB: "
        + ", ".join(f"k={k}: {100 * (mentions >= k).mean():.1f}%" for k in KS) + ".", "",
    ]
    text = "\n".join(lines)
    write_text_atomic(args.out, text)
    print(text)


def command_line() -> str:
    return "python " + " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).as_posix(), *sys.argv[1:]])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="experiments/appearance_diagnostics.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cub", default=DEFAULT_CUB, help="CUB folder with wiki_articles/ and metadata/")
    parser.add_argument("--nabirds", default=DEFAULT_NABIRDS, help="NABirds articles, encoded with the same lexicon")
    parser.add_argument("--out", default="experiments/results/appearance_attributes.md")
    cmd(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    run_cli(main)
