"""gazsl data build --dataset folder: one's own class folders and articles become a store; bad trees are refused whole.

The photographs here are small made-up PNG and JPEG files run through the real backbone (eight of them, seconds).
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gazsl.data import main
from gazsl.documents.corpus import read_corpus
from gazsl.io import GazslError, sha256_file
from gazsl.store.feature_store import FeatureStore

ARTICLES = {
    "Clownfish": "The clownfish is orange with three white bands edged in black, living among sea anemones.",
    "Blue_Tang": "The blue tang is royal blue with a black palette mark and a yellow tail.",
    "Moorish_Idol": "The moorish idol has black and white vertical bands, a long dorsal filament and a yellow flank.",
    "Lionfish": "The lionfish is striped red and white with long venomous spines fanned out like a mane.",
}
FAMILIES = {"Clownfish": "Pomacentridae", "Blue_Tang": "Acanthuridae", "Moorish_Idol": "Zanclidae",
            "Lionfish": "Scorpaenidae"}


def make_tree(root: Path, per_class: int = 2) -> tuple[Path, Path]:
    """PHOTOS/<class>/*.png|jpg (distinct pixels each) and ARTICLES/<class>.txt."""
    photos, articles = root / "photos", root / "articles"
    rng = np.random.default_rng(0)
    for c, (name, text) in enumerate(ARTICLES.items()):
        (photos / name).mkdir(parents=True)
        for k in range(per_class):
            pixels = rng.integers(0, 256, (40 + c, 50, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(photos / name / f"{k}.{'png' if k % 2 else 'jpg'}")
        articles.mkdir(exist_ok=True)
        (articles / f"{name}.txt").write_text(text, encoding="utf-8")
    return photos, articles


@pytest.fixture(scope="module")
def fish(tmp_path_factory):
    root = tmp_path_factory.mktemp("fish")
    photos, articles = make_tree(root)
    (root / "splits.json").write_text(json.dumps({"seen": ["Clownfish", "Blue_Tang", "Lionfish"],
                                                  "unseen": ["Moorish_Idol"]}))
    (root / "families.tsv").write_text("".join(f"{c}\t{f}\n" for c, f in FAMILIES.items()))
    store = root / "store" / "fish.h5"
    assert main(["build", "--dataset", "folder", "--images", str(photos), "--articles", str(articles),
                 "--split-file", str(root / "splits.json"), "--families", str(root / "families.tsv"),
                 "--name", "fish", "--out", str(store), "--unseen-fraction", "0.25"]) == 0
    return root, store


def test_a_folder_tree_becomes_a_store_with_the_users_split_and_a_family_split(fish):
    root, path = fish
    store = FeatureStore.open(path)
    assert store.class_names == sorted(ARTICLES)
    assert store.class_ids.tolist() == [1, 2, 3, 4]
    assert np.bincount(store.labels).tolist() == [2, 2, 2, 2]
    assert store.features.shape == (8, 1280)
    own = store.split("fish_own")
    assert [store.class_names[c] for c in own.unseen] == ["Moorish_Idol"]
    assert own.val_rule == "random" and len(own.val) == 1 and set(own.val) <= set(own.seen)
    assert len(own.heldout_images) == 0  # a fifth of two photos a class rounds to none
    family = store.split("fish_family")
    assert family.val_rule == "family" and len(family.unseen) == 1  # each class its own family here: one is 25%
    assert [store.super_names[i] for i in store.super_ids] == [FAMILIES[n] for n in store.class_names]
    assert store.texts["tfidf"].vectors.shape[0] == 4 and "fish_random" not in store.splits


def test_gazsl_text_adds_an_encoder_to_it_from_the_same_articles_row_for_row(fish, tmp_path):
    import shutil

    from gazsl.text import main as text

    root, path = fish
    copy = Path(shutil.copy(path, tmp_path / "fish.h5"))
    text(["encode", "--corpus", str(root / "articles"), "--encoder", "tfidf", "--name", "again", "--store", str(copy)])
    store = FeatureStore.open(copy)
    assert np.array_equal(store.texts["again"].vectors, store.texts["tfidf"].vectors)  # <Name>.txt ids are the store's


def test_without_a_split_file_a_random_split_is_drawn_from_the_seed(tmp_path):
    from gazsl.datasets.folder import folder_splits

    labels = np.repeat(np.arange(10), 5)
    a, b = folder_splits("x", labels, 10, seed=3), folder_splits("x", labels, 10, seed=3)
    assert list(a) == ["x_random"] and len(a["x_random"].unseen) == 2
    assert a["x_random"].unseen.tolist() == b["x_random"].unseen.tolist()
    others = {tuple(folder_splits("x", labels, 10, seed=s)["x_random"].unseen) for s in (4, 5, 6)}
    assert others - {tuple(a["x_random"].unseen)}
    assert len(a["x_random"].heldout_images) == 8 * 1  # a fifth of each seen class's five photos


def test_a_bad_tree_is_one_line_per_problem_exit_2_and_the_store_is_untouched(fish, tmp_path):
    _, store = fish
    before = sha256_file(store)
    photos, articles = make_tree(tmp_path)
    (photos / "Goby").mkdir()  # photographs, no article
    Image.new("RGB", (30, 30), "yellow").save(photos / "Goby" / "a.png")
    (articles / "Grouper.txt").write_text("A grouper is a large heavy fish.", encoding="utf-8")  # article, no photos
    (photos / "Lionfish" / "copy.png").write_bytes((photos / "Clownfish" / "1.png").read_bytes())  # duplicate
    (photos / "Blue_Tang" / "broken.jpg").write_bytes(b"not a jpeg")  # unreadable
    good = (photos / "Moorish_Idol" / "0.jpg").read_bytes()
    (photos / "Moorish_Idol" / "cut.jpg").write_bytes(good[: len(good) // 2])  # truncated
    result = subprocess.run([sys.executable, "-m", "gazsl.data", "build", "--dataset", "folder", "--images", str(photos),
                             "--articles", str(articles), "--out", str(store)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and len(lines) == 5, lines
    assert lines[0].startswith("error: ")
    text = result.stderr
    assert f"{photos / 'Goby'}: class 'Goby' has no article" in text
    assert f"{articles / 'Grouper.txt'}: article of class 'Grouper' but no photographs" in text
    assert f"{photos / 'Lionfish' / 'copy.png'}: the same photograph as {photos / 'Clownfish' / '1.png'}" in text
    assert f"{photos / 'Blue_Tang' / 'broken.jpg'}: cannot read this image" in text
    assert f"{photos / 'Moorish_Idol' / 'cut.jpg'}: cannot read this image" in text
    assert sha256_file(store) == before


def test_split_and_family_files_name_their_first_problem(tmp_path):
    from gazsl.datasets.folder import read_families, read_split_file

    names = ["A", "B", "C"]
    bad = {'{"seen": ["A"], "unseen": ["Z"]}': "'Z' is not one of the class folders",
           '{"seen": ["A", "B"], "unseen": ["B"]}': "class 'B' is both seen and unseen",
           '["A"]': 'expected {"seen"', "{": "not JSON"}
    for content, message in bad.items():
        (tmp_path / "s.json").write_text(content)
        with pytest.raises(GazslError, match=message.replace("[", r"\[")):
            read_split_file(tmp_path / "s.json", names)
    (tmp_path / "f.tsv").write_text("A\tx\nB\ty\n")
    with pytest.raises(GazslError, match="no family for class 'C'"):
        read_families(tmp_path / "f.tsv", names)
    (tmp_path / "f.tsv").write_text("A\tx\nB x\n")
    with pytest.raises(GazslError, match=r"line 2\]: expected '<class><TAB><family>'"):
        read_families(tmp_path / "f.tsv", names)


def test_a_corpus_of_name_files_numbers_its_classes_in_name_order(tmp_path):
    for name in ("Zander", "Carp", "Perch"):
        (tmp_path / f"{name}.txt").write_text(f"The {name.lower()} is a freshwater fish.")
    corpus = read_corpus(tmp_path)
    assert corpus.names == {1: "Carp", 2: "Perch", 3: "Zander"}
    (tmp_path / "4.Pike.txt").write_text("The pike is long.")
    with pytest.raises(GazslError, match="must be <class_id>.<Name>.txt, as the others"):
        read_corpus(tmp_path)


def test_options_of_the_other_datasets_are_refused_for_a_folder_and_back(tmp_path):
    cases = [
        (["--dataset", "folder", "--articles", "a"], "--dataset folder needs --images DIR"),
        (["--dataset", "folder", "--images", "p", "--articles", "a", "--root", "r"], "--root does not apply to --dataset folder"),
        (["--dataset", "folder", "--images", "p", "--articles", "a", "--crop", "bbox"], "--crop does not apply"),
        (["--dataset", "cub", "--root", "r", "--articles", "a", "--families", "f.tsv"], "--families applies to --dataset folder only"),
        (["--dataset", "cub", "--articles", "a"], "--dataset cub needs --root DIR"),
    ]
    for argv, message in cases:
        with pytest.raises(GazslError, match=message):
            main(["build", *argv, "--out", str(tmp_path / "x.h5")])
    assert not (tmp_path / "x.h5").exists()
