"""The aviary: determinism, shapes, families, splits, corpora, store round trip, CLI."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest

import gazsl.datasets.aviary_world as aviary
from gazsl.aviary import main as aviary_cli
from gazsl.datasets import aviary_templates as words
from gazsl.documents.corpus import read_corpus
from gazsl.io import GazslError
from gazsl.store.feature_store import FeatureStore

# A small world for the tests that build several times.
SMALL = aviary.AviaryConfig(n_species=40, n_families=6, n_orders=3, images_per_species=(5, 8),
                            feature_dim=32, hidden_dim=32)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The default aviary (seed 0), built through the CLI as a user would."""
    root = tmp_path_factory.mktemp("aviary")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = aviary_cli(["build", "--out", str(root / "aviary.h5"), "--corpus-root", str(root / "corpora"), "--seed", "0"])
    assert code == 0
    return root, FeatureStore.open(root / "aviary.h5"), out.getvalue()


def _corpus_files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_cli_prints_a_summary(built):
    root, store, printed = built
    assert printed.count("\n") == 1
    assert f"{store.n_classes} species in {len(store.super_names)} families" in printed
    assert "aviary_easy" in printed and "aviary_hard" in printed


def test_same_seed_same_world_other_seed_other_world(tmp_path):
    a = aviary.build_aviary(tmp_path / "a.h5", tmp_path / "a", seed=3, config=SMALL)
    b = aviary.build_aviary(tmp_path / "b.h5", tmp_path / "b", seed=3, config=SMALL)
    c = aviary.build_aviary(tmp_path / "c.h5", tmp_path / "c", seed=4, config=SMALL)
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.attributes, b.attributes)
    assert a.class_names == b.class_names and a.super_names == b.super_names
    for name in a.splits:
        np.testing.assert_array_equal(a.splits[name].unseen, b.splits[name].unseen)
        np.testing.assert_array_equal(a.splits[name].heldout_images, b.splits[name].heldout_images)
    for name in a.texts:
        np.testing.assert_array_equal(a.texts[name].vectors, b.texts[name].vectors)
    for corpus in (aviary.ARTICLES, aviary.NOTES):
        assert _corpus_files(tmp_path / "a" / corpus) == _corpus_files(tmp_path / "b" / corpus)
        assert _corpus_files(tmp_path / "a" / corpus) != _corpus_files(tmp_path / "c" / corpus)
    assert a.features.shape != c.features.shape or not np.array_equal(a.features, c.features)
    assert not np.array_equal(a.attributes, c.attributes)


def test_shapes_counts_and_families(built):
    _, store, _ = built
    c = store.n_classes
    assert 100 <= c <= 200 and 12 <= len(store.super_names) <= 20
    np.testing.assert_array_equal(store.class_ids, np.arange(1, c + 1))
    family_sizes = np.bincount(store.super_ids, minlength=len(store.super_names))
    assert family_sizes.min() >= aviary.AviaryConfig().min_family_size
    per_class = np.bincount(store.labels, minlength=c)
    assert per_class.min() >= 40 and per_class.max() <= 80
    assert store.features.dtype == np.float32 and store.features.shape == (len(store.labels), 512)
    groups = words.attribute_groups()
    assert store.attributes.shape == (c, sum(len(v) for _, v in groups))
    np.testing.assert_array_equal(store.attributes.sum(axis=1), len(groups))  # one value per group
    assert len(np.unique(store.attributes, axis=0)) == c  # every species looks different
    np.testing.assert_array_equal(store.text("oracle").vectors, store.attributes)
    for name in ("tfidf", "tfidf_notes"):
        assert store.text(name).vectors.shape[0] == c


def test_features_non_negative_and_informative(built):
    _, store, _ = built
    x, y = store.features, store.labels
    assert (x >= 0).all() and (x == 0).mean() < 0.9
    # Species of one family look more alike than species of different families.
    means = np.stack([x[y == k].mean(axis=0) for k in range(store.n_classes)])
    means = means / np.linalg.norm(means, axis=1, keepdims=True)
    sim = means @ means.T
    same = store.super_ids[:, None] == store.super_ids[None, :]
    off_diagonal = ~np.eye(store.n_classes, dtype=bool)
    assert sim[same & off_diagonal].mean() > sim[~same].mean()


def test_species_of_a_family_share_much_of_its_look(built):
    _, store, _ = built
    a, f = store.attributes, store.super_ids
    n_groups = len(words.attribute_groups())
    shared = (a[:, None, :] * a[None, :, :]).sum(axis=2) / n_groups  # share of groups with equal values
    same = f[:, None] == f[None, :]
    off_diagonal = ~np.eye(len(f), dtype=bool)
    assert shared[same & off_diagonal].mean() > 0.5 > shared[~same].mean()


def test_hard_split_holds_out_whole_families(built):
    _, store, _ = built
    split = store.split("aviary_hard")
    unseen_families = np.unique(store.super_ids[split.unseen])
    assert len(unseen_families) >= 2
    np.testing.assert_array_equal(np.sort(split.unseen), np.flatnonzero(np.isin(store.super_ids, unseen_families)))
    assert not np.isin(store.super_ids[split.seen], unseen_families).any()
    assert 0.12 <= len(split.unseen) / store.n_classes <= 0.3


def test_validation_mirrors_each_split(built):
    _, store, _ = built
    f = store.super_ids
    hard, easy = store.split("aviary_hard"), store.split("aviary_easy")
    fit = np.setdiff1d(hard.seen, hard.val)
    assert hard.val_rule == "family" and not np.isin(f[hard.val], f[fit]).any()
    assert 0.1 <= len(hard.val) / len(hard.seen) <= 0.3
    # easy: random species, which here come from many families that training also sees
    assert easy.val_rule == "random" and np.isin(f[easy.val], f[np.setdiff1d(easy.seen, easy.val)]).mean() > 0.5


def test_easy_split_spreads_unseen_species_over_families(built):
    _, store, _ = built
    split = store.split("aviary_easy")
    f = store.super_ids
    assert set(f[split.unseen]) == set(range(len(store.super_names)))  # every family loses some species
    assert set(f[split.seen]) == set(range(len(store.super_names)))  # and keeps some
    assert 0.18 <= len(split.unseen) / store.n_classes <= 0.3
    np.testing.assert_array_equal(np.union1d(split.seen, split.unseen), np.arange(store.n_classes))


def _stated_part_colours(document: str, traits: dict[str, str]) -> int:
    """Parts whose true colour shares a line with the part's name (a generous reading)."""
    lines = document.lower().splitlines()
    stated = 0
    for part in words.PARTS:
        colours = words.COLOUR_WORDS[traits[f"{part}_colour"]]
        if any(any(p in line for p in words.PART_WORDS[part]) and any(c in line for c in colours) for line in lines):
            stated += 1
    return stated


def test_articles_are_noisy_and_incomplete_notes_terse(built):
    root, store, _ = built
    articles = read_corpus(root / "corpora" / aviary.ARTICLES)
    notes = read_corpus(root / "corpora" / aviary.NOTES)
    assert sorted(articles.texts) == sorted(notes.texts) == list(store.class_ids)
    files = sorted((root / "corpora" / aviary.ARTICLES).glob("*.txt"))
    assert all(re.fullmatch(r"\d+\.[A-Za-z_]+\.txt", p.name) for p in files)
    visual = re.compile(r"\b(" + "|".join(sorted({w for ws in words.COLOUR_WORDS.values() for w in ws}
                                                  | {w for ws in words.PART_WORDS.values() for w in ws}
                                                  | {"bill", "eye", "eyes", "legs", "crest", "plumage"})) + r")\b")
    groups = words.attribute_groups()
    stated = []
    for k, cid in enumerate(store.class_ids):
        lines = articles.texts[int(cid)].splitlines()
        non_visual = [line for line in lines if not visual.search(line.lower())]
        assert len(non_visual) >= 0.4 * len(lines), f"article {cid} is mostly visual"
        traits = {g: values[int(np.flatnonzero(store.attributes[k, o:o + len(values)])[0])]
                  for (g, values), o in zip(groups, np.cumsum([0] + [len(v) for _, v in groups]))}
        stated.append(_stated_part_colours(articles.texts[int(cid)], traits))
    stated = np.array(stated)
    assert 0.25 < stated.mean() / len(words.PARTS) < 0.9  # they describe, but not everything
    assert (stated == len(words.PARTS)).mean() < 0.2
    assert np.mean([len(t.splitlines()) for t in notes.texts.values()]) <= 10
    note_chars = np.mean([len(t) for t in notes.texts.values()])
    assert note_chars < 0.3 * np.mean([len(t) for t in articles.texts.values()])


def test_store_round_trip(built):
    root, store, _ = built
    again = FeatureStore.open(root / "aviary.h5")
    np.testing.assert_array_equal(again.features, store.features)
    assert again.info["aviary_version"] == aviary.AVIARY_VERSION and again.info["seed"] == 0
    assert len(again.info["attribute_names"]) == store.attributes.shape[1]
    assert again.text("tfidf").settings["encoder"] == "tfidf"


def test_ensure_aviary_builds_only_when_missing_or_stale(built, tmp_path, monkeypatch):
    root, _, _ = built
    calls = []
    monkeypatch.setattr(aviary, "build_aviary", lambda store, corpus, seed: calls.append((store, corpus, seed)))
    assert aviary.ensure_aviary(root / "aviary.h5", root / "corpora") == root / "aviary.h5"
    assert calls == []
    aviary.ensure_aviary(tmp_path / "missing.h5", tmp_path / "c")
    assert calls == [(tmp_path / "missing.h5", tmp_path / "c", 0)]
    monkeypatch.setattr(aviary, "AVIARY_VERSION", aviary.AVIARY_VERSION + 1)
    aviary.ensure_aviary(root / "aviary.h5", root / "corpora")
    assert calls[-1] == (root / "aviary.h5", root / "corpora", 0)


def test_rebuild_replaces_its_corpus_but_never_a_foreign_folder(tmp_path):
    aviary.build_aviary(tmp_path / "s.h5", tmp_path, seed=3, config=SMALL)
    store = aviary.build_aviary(tmp_path / "s.h5", tmp_path, seed=4, config=SMALL)
    read_corpus(tmp_path / aviary.ARTICLES)  # no leftover file of seed 3 (it would clash on class ids)
    assert len(list((tmp_path / aviary.NOTES).glob("*.txt"))) == store.n_classes
    foreign = tmp_path / "mine"
    (foreign / aviary.ARTICLES).mkdir(parents=True)
    (foreign / aviary.ARTICLES / "1.My_Bird.txt").write_text("my own text\n")
    with pytest.raises(GazslError, match="not written by gazsl.aviary"):
        aviary.build_aviary(tmp_path / "t.h5", foreign, seed=3, config=SMALL)
    assert (foreign / aviary.ARTICLES / "1.My_Bird.txt").read_text() == "my own text\n"


def test_negative_seed_is_a_clear_error(tmp_path):
    with pytest.raises(GazslError, match="seed"):
        aviary.build_aviary(tmp_path / "s.h5", tmp_path, seed=-1, config=SMALL)


def test_articles_regenerate_from_the_store_alone(built, tmp_path):
    """aviary_articles: the corpus the build wrote, without reading it; another world's checksum, or a store that is
    no aviary, is refused rather than answered with other articles."""
    root, store, _ = built
    written = read_corpus(root / "corpora" / aviary.ARTICLES)
    regenerated = aviary.aviary_articles(store)
    assert regenerated.texts == written.texts and regenerated.names == written.names
    other = aviary.build_aviary(tmp_path / "small.h5", tmp_path / "small", seed=3, config=SMALL)
    other.info["seed"] = 4  # its record no longer matches its vectors
    with pytest.raises(GazslError, match="regenerated aviary articles differ"):
        aviary.aviary_articles(other)
    other.info["source"] = "gazsl.data"
    with pytest.raises(GazslError, match="not an aviary store"):
        aviary.aviary_articles(other)
