import numpy as np
import pytest

from gazsl.io import GazslError
from gazsl.store.feature_store import FeatureStore, TextVectors
from gazsl.store.splits import make_split


def small_store():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), 10)
    store = FeatureStore("demo", rng.random((60, 8), dtype=np.float32), labels, np.array([3, 5, 7, 9, 11, 13]),
                         ["a", "b", "c", "d", "e", "f"], np.array([0, 0, 1, 1, 2, 2]), ["x", "y", "z"],
                         attributes=rng.random((6, 4), dtype=np.float32), info={"source": "test"})
    store.splits["demo_easy"] = make_split("demo_easy", [0, 1, 2, 3], [4, 5], labels, seed=1)
    store.texts["tfidf"] = TextVectors(rng.random((6, 5), dtype=np.float32), {"encoder": "tfidf", "min_df": 1},
                                       ["w1", "w2", "w3", "w4", "w5"])
    return store


def test_round_trip_preserves_everything(tmp_path):
    store = small_store()
    store.save(tmp_path / "demo.h5")
    loaded = FeatureStore.open(tmp_path / "demo.h5")
    np.testing.assert_array_equal(loaded.features, store.features)
    np.testing.assert_array_equal(loaded.labels, store.labels)
    np.testing.assert_array_equal(loaded.class_ids, store.class_ids)
    np.testing.assert_array_equal(loaded.attributes, store.attributes)
    assert loaded.class_names == store.class_names and loaded.super_names == store.super_names
    assert loaded.info == {"source": "test"} and loaded.dataset == "demo"
    for key in ("seen", "unseen", "val", "heldout_images"):
        np.testing.assert_array_equal(getattr(loaded.splits["demo_easy"], key), getattr(store.splits["demo_easy"], key))
    text = loaded.text("tfidf")
    np.testing.assert_array_equal(text.vectors, store.texts["tfidf"].vectors)
    assert text.settings == {"encoder": "tfidf", "min_df": 1} and text.vocabulary == ["w1", "w2", "w3", "w4", "w5"]


def test_make_split_holds_out_validation_classes_and_seen_images():
    labels = np.repeat(np.arange(20), 10)
    split = make_split("s", np.arange(15), np.arange(15, 20), labels, seed=3)
    assert len(split.val) == 3 and np.isin(split.val, split.seen).all()
    assert not np.isin(split.val, split.unseen).any()
    assert len(split.heldout_images) == 15 * 2  # 20% of each seen class
    assert np.isin(labels[split.heldout_images], split.seen).all()
    again = make_split("s", np.arange(15), np.arange(15, 20), labels, seed=3)
    np.testing.assert_array_equal(split.heldout_images, again.heldout_images)


def test_unknown_split_and_encoder_name_the_store(tmp_path):
    store = small_store()
    store.save(tmp_path / "demo.h5")
    loaded = FeatureStore.open(tmp_path / "demo.h5")
    with pytest.raises(GazslError, match=r"demo\.h5.*unknown split 'demo_hard'.*demo_easy"):
        loaded.split("demo_hard")
    with pytest.raises(GazslError, match=r"no text vectors for encoder 'minilm'"):
        loaded.text("minilm")


def test_overlapping_seen_and_unseen_is_rejected(tmp_path):
    store = small_store()
    store.splits["bad"] = make_split("bad", [0, 1, 2, 4], [4, 5], store.labels)
    with pytest.raises(GazslError, match=r"splits/bad.*overlap"):
        store.save(tmp_path / "bad.h5")
    assert not (tmp_path / "bad.h5").exists()


def test_missing_key_names_file_and_key(tmp_path):
    import h5py

    small_store().save(tmp_path / "demo.h5")
    with h5py.File(tmp_path / "demo.h5", "a") as f:
        del f["labels"]
    with pytest.raises(GazslError, match=r"demo\.h5 \[labels\]: missing key"):
        FeatureStore.open(tmp_path / "demo.h5")


def test_random_validation_rule_keeps_its_draws():
    # the draws of every store built before the validation rule existed (easy-split stores must not change)
    labels = np.repeat(np.arange(20), 10)
    split = make_split("s", np.arange(15), np.arange(15, 20), labels, seed=3)
    assert split.val_rule == "random" and split.val.tolist() == [1, 2, 10]
    assert split.heldout_images[:8].tolist() == [7, 8, 10, 19, 23, 26, 31, 32]


def test_family_validation_rule_holds_out_whole_families_of_seen_classes():
    labels = np.repeat(np.arange(40), 10)
    families = np.repeat(np.arange(10), 4)[np.random.default_rng(0).permutation(40)]  # 10 families of 4, scattered
    seen, unseen = np.arange(32), np.arange(32, 40)
    for seed in range(5):
        split = make_split("s_hard", seen, unseen, labels, seed=seed, val_rule="family", families=families)
        fit = np.setdiff1d(seen, split.val)
        assert split.val_rule == "family" and np.isin(split.val, seen).all()
        assert not np.isin(families[split.val], families[fit]).any()  # no family on both sides
        np.testing.assert_array_equal(split.val, np.flatnonzero(np.isin(families, families[split.val]) & (np.arange(40) < 32)))
        assert 3 <= len(split.val) <= 10  # whole families, about 20% of the 32 seen classes
        # held-out images do not depend on the rule
        random = make_split("s_hard", seen, unseen, labels, seed=seed)
        np.testing.assert_array_equal(split.heldout_images, random.heldout_images)


def test_family_validation_rule_needs_two_families():
    with pytest.raises(GazslError, match=r"split 's_hard'.*at least 2 families, got 1"):
        make_split("s_hard", [0, 1, 2], [3], np.arange(4), val_rule="family", families=np.zeros(4, np.int64))
    with pytest.raises(GazslError, match=r"split 's_hard'.*needs the family of every class"):
        make_split("s_hard", [0, 1, 2], [3], np.arange(4), val_rule="family")


def test_store_records_the_validation_rule_and_old_stores_read_random(tmp_path):
    import h5py

    store = small_store()  # families 0 0 1 1 2 2
    store.splits["demo_hard"] = make_split("demo_hard", [0, 1, 2, 3], [4, 5], store.labels, val_rule="family",
                                           families=store.super_ids)
    store.save(tmp_path / "demo.h5")
    loaded = FeatureStore.open(tmp_path / "demo.h5")
    assert loaded.split("demo_hard").val_rule == "family" and loaded.split("demo_easy").val_rule == "random"
    with h5py.File(tmp_path / "demo.h5", "a") as f:
        del f["splits/demo_hard"].attrs["val_rule"]
    assert FeatureStore.open(tmp_path / "demo.h5").split("demo_hard").val_rule == "random"


def test_family_split_whose_validation_shares_a_family_is_rejected(tmp_path):
    store = small_store()  # families 0 0 1 1 2 2
    store.splits["demo_hard"] = make_split("demo_hard", [0, 1, 2, 3], [4, 5], store.labels, val_rule="family",
                                           families=store.super_ids)
    store.splits["demo_hard"].val = np.array([1])  # class 0, of the same family, stays in training
    with pytest.raises(GazslError, match=r"splits/demo_hard/val.*share a family.*val_rule 'family'"):
        store.save(tmp_path / "bad.h5")
