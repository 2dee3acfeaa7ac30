"""The appearance encoder (gazsl.documents.appearance): part x property mentions, negation, sex/age weights, recipe."""

import builtins
import io

import numpy as np
import pytest

from conftest import cli_error_line
from gazsl.generator.config import preset
from gazsl.documents.appearance import AppearanceEncoder, encode_appearance
from gazsl.documents.corpus import read_corpus
from gazsl.documents.encoders import recorded_encoder
from gazsl.generator.gan import GAZSL
from gazsl.store.feature_store import FeatureStore
from gazsl.store.splits import make_split
from gazsl.io import GazslError
from gazsl.text import main

ARTICLES = {  # written for these tests
    1: ("Red_Tit", "the red tit has a scarlet crown and black wings .\nthe female is duller , with a grey crown ."),
    2: ("Sea_Gull", "the sea gull is white below with grey-brown upperparts .\nits bill is long and hooked ."),
    3: ("Brown_Wren", "a small bird , streaked brown above .\njuveniles have a buffy breast and no eye-ring ."),
}


def said(sentence: str) -> dict:
    """{column: summed weight} of one sentence."""
    found = {}
    for mention in AppearanceEncoder().mentions(sentence):
        found[mention.column] = found.get(mention.column, 0) + mention.weight
    return found


def test_properties_attach_to_the_nearest_part_they_can_describe():
    assert said("olive upperparts with white bellies and a yellow throat .") == {
        "upperparts:olive": 1, "belly:white": 1, "throat:yellow": 1}
    assert said("the bill is long and hooked ; the tail is deeply forked .") == {
        "bill:long": 1, "bill:hooked": 1, "tail:forked": 1}
    # a compound reads as its pieces, '-ish' falls back to the colour, a name counts, a marking takes its colour
    assert said("the yellow-billed cuckoo has greyish-brown wings and a white eye-ring .") == {
        "bill:yellow": 1, "wing:grey": 1, "wing:brown": 1, "head:eyering": 1}
    assert said("it is a large seabird .") == {"body:large": 1}
    assert said("it nests in old trees near the coast .") == {}


def test_negation_counts_against_the_property_within_its_stretch_only():
    assert said("the wings lack white bars .") == {"wing:white": -1, "wing:striped": -1}
    assert said("there are no streaks on the breast .") == {"breast:striped": -1}
    assert said("a grey back without spots .") == {"back:grey": 1, "back:spotted": -1}
    assert said("the breast is yellow , not white .") == {"breast:yellow": 1, "breast:white": -1}
    # 'unlike' negates its own comma-delimited stretch, not the description that follows it
    assert said("unlike the sparrow , it has a red crown .") == {"crown:red": 1}
    assert said("it has a crest .") == {"head:crested": 1}
    assert said("it has no crest .") == {"head:crested": -1}


def test_sex_and_age_qualifiers_weight_a_mention_by_the_nearest_one():
    assert said("the male has a red crown .") == {"crown:red": 1}
    assert said("the female has a red crown .") == {"crown:red": 0.5}
    assert said("juveniles have a red crown .") == {"crown:red": 0.25}
    assert said("in non-breeding plumage the crown is red .") == {"crown:red": 0.25}
    assert said("males have a black crown , females a brown crown .") == {"crown:black": 1, "crown:brown": 0.5}
    assert said("the female lacks the red crown .") == {"crown:red": -0.5}


def write_articles(folder, articles=ARTICLES):
    folder.mkdir(parents=True, exist_ok=True)
    for cid, (name, text) in articles.items():
        # the '<n> ' sentence index of the GAZSL release, which the corpus reader drops
        lines = [f"{i} {line}" for i, line in enumerate(text.splitlines())]
        (folder / f"{cid}.{name}.txt").write_text("\n".join(lines), encoding="utf-8")
    return folder


def make_store(path, n_classes=3):
    labels = np.repeat(np.arange(n_classes), 4)
    FeatureStore(dataset="toy", features=np.random.default_rng(0).standard_normal((4 * n_classes, 4)).astype(np.float32),
                 labels=labels, class_ids=np.arange(1, n_classes + 1),
                 class_names=[ARTICLES[c][0] for c in range(1, n_classes + 1)], super_ids=np.zeros(n_classes, np.int64),
                 super_names=["x"], splits={"s": make_split("s", [0, 1], [2], labels)}).save(path)
    return path


def test_the_store_records_the_recipe_and_a_saved_model_encodes_new_articles_alike(tmp_path):
    articles, store_path = write_articles(tmp_path / "articles"), make_store(tmp_path / "toy.h5")
    main(["encode", "--corpus", str(articles), "--store", str(store_path), "--encoder", "appearance"])
    store = FeatureStore.open(store_path)
    stored = store.text("appearance")
    assert stored.vectors.shape == (3, len(stored.vocabulary)) and np.allclose(np.linalg.norm(stored.vectors, axis=1), 1)
    documents = read_corpus(articles).documents([1, 2, 3])
    encoder = recorded_encoder(store, "appearance")
    assert np.array_equal(encoder.encode(documents), stored.vectors)

    # a model trained with it keeps the recipe and encodes raw articles exactly alike after loading
    config = preset("cpu").replace(text_reduced_dim=4, generator_hidden=8, critic_hidden=8, batch_size=8,
                                   critic_steps=1, iterations=2, samples_per_class=3, knn_k=1, classifier="pivot",
                                   device="cpu")
    model = GAZSL(config, random_state=0, text_encoder=encoder)
    model.fit(stored.vectors[:2], np.abs(np.random.default_rng(1).normal(size=(8, 6))), np.repeat([0, 1], 4))
    loaded = GAZSL.load(model.save(tmp_path / "model.gazsl"))
    assert np.array_equal(loaded.encode(documents), stored.vectors)

    stored.settings["lexicon"]["parts"].pop("tail")  # a recipe whose lexicon no longer gives its columns
    with pytest.raises(GazslError, match=r"toy.h5 \[text/appearance\]: its appearance lexicon gives \d+ columns, not"):
        recorded_encoder(store, "appearance")


def test_a_class_with_no_appearance_words_is_one_error_line_naming_it(tmp_path, capsys):
    articles = write_articles(tmp_path / "articles", {**ARTICLES, 2: ("Sea_Gull", "gulls eat fish .\nthey nest on cliffs .")})
    line = cli_error_line(capsys, main, ["encode", "--corpus", str(articles), "--store", str(make_store(tmp_path / "t.h5")),
                                         "--encoder", "appearance"])
    assert "class 2 (Sea_Gull)" in line and "no body part" in line


def test_appearance_refuses_noise_handling(tmp_path, capsys):
    line = cli_error_line(capsys, main, ["encode", "--corpus", str(write_articles(tmp_path / "a")), "--encoder",
                                         "appearance", "--store", str(make_store(tmp_path / "t.h5")), "--noise", "clean"])
    assert "--noise applies to the tfidf and minilm encoders" in line


def test_the_encoder_never_opens_the_class_attribute_table(shared_data, monkeypatch):
    """The oracle stays shut: every file opened while encoding the real CUB articles lies in the corpus folder."""
    corpus_dir = shared_data / "cub" / "wiki_articles"
    opened, real_open = [], builtins.open

    def watched_open(file, *args, **kwargs):
        opened.append(str(file))
        if "attribute" in str(file):
            raise PermissionError(f"test: {file} is unreadable")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", watched_open)
    monkeypatch.setattr(io, "open", watched_open)
    corpus = read_corpus(corpus_dir)
    ids = [c for c in sorted(corpus.texts) if corpus.names[c] != "Mockingbird"]  # its article describes no bird
    vectors = encode_appearance(corpus, ids)
    assert vectors.vectors.shape == (199, len(AppearanceEncoder().vocabulary_))
    assert len(opened) >= 200 and all(p.startswith(str(corpus_dir)) for p in opened)



def test_the_diagnostics_map_cub_attribute_names_to_the_encoder_columns():
    from conftest import load_experiment

    column_of = load_experiment("appearance_diagnostics").column_of
    columns = set(AppearanceEncoder().vocabulary_)
    assert column_of("has_breast_color::yellow", columns) == "breast:yellow"
    assert column_of("has_under_tail_color::buff", columns) == "under_tail:buff"
    assert column_of("has_primary_color::black", columns) == "body:black"
    assert column_of("has_head_pattern::plain", columns) == "head:solid"
    assert column_of("has_bill_length::longer_than_head", columns) == "bill:long"
    assert column_of("has_size::very_small_(3_-_5_in)", columns) == "body:very_small"
    assert column_of("has_shape::duck-like", columns) is None
    assert column_of("has_bill_shape::all-purpose", columns) is None
