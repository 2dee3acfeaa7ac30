"""Class vectors as data, encoders as plugins (docs/own-text.md).

docs/own-text.md's worked example runs here as it stands, in bash, on a folder store of made-up photographs (the
real backbone, a dozen small images): gazsl text import -> gazsl train --text KEY -> gazsl predict --class-vectors.
Every bad file is one line, exit 2, and the store's SHA-256 unchanged. An encoder plugin written in a temporary
folder (on the path, nothing installed) encodes a corpus into a store, and predict re-encodes new articles with it.
"""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import cli_error_line
from gazsl.documents.class_vectors import read_class_vectors
from gazsl.documents.encoders import recorded_encoder
from gazsl.documents.plugin_encoder import PluginEncoder
from gazsl.generator import model_file
from gazsl.generator.config import preset
from gazsl.generator.gan import GAZSL
from gazsl.io import GazslError, sha256_file
from gazsl.store.feature_store import FeatureStore
from gazsl.text import main as text_main
from gazsl.vision.backbone import recorded_backbone

REPO = Path(__file__).resolve().parents[1]
ARTICLES = {
    "Blue_Tang": "The blue tang is royal blue with a black palette mark and a yellow tail.",
    "Clownfish": "The clownfish is orange with three white bands edged in black.",
    "Lionfish": "The lionfish is striped red and white with long venomous spines.",
    "Moorish_Idol": "The moorish idol has black and white vertical bands and a yellow flank.",
    "Parrotfish": "The parrotfish is green and blue with a beak of fused teeth.",
    "Yellow_Tang": "The yellow tang is bright yellow all over with a white spine by its tail.",
}
NEW_ARTICLES = {"Angelfish": "The angelfish is blue and yellow with a black striped face.",
                "Butterflyfish": "The butterflyfish is white and yellow with a black band through the eye."}
# the thread count a user gets (none pinned): what these runs prove holds there
ENV = {**{k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
       "PYTHONPATH": os.pathsep.join([str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
FAILING_PLUGINS = '''

def raises(documents):
    raise RuntimeError("the embedding server is down")

def wrong_shape(documents):
    return np.ones((len(documents) + 1, 3))

def nan(documents):
    return np.full((len(documents), 3), float("nan"))
'''


def doc_block(language: str, after: str) -> str:
    """The first ``language`` code block of docs/own-text.md after the text ``after``."""
    text = (REPO / "docs" / "own-text.md").read_text(encoding="utf-8")
    return re.search(rf"```{language}\n(.*?)```", text[text.index(after):], re.S).group(1)


def doc_example() -> str:
    return doc_block("bash", "<!-- own-vectors-example -->")


def photos(folder: Path, names, per_class: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for c, name in enumerate(names):
        (folder / name).mkdir(parents=True)
        for k in range(per_class):
            Image.fromarray(rng.integers(0, 256, (40 + c, 48, 3), dtype=np.uint8)).save(folder / name / f"{k}.png")


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """docs/own-text.md's worked example, run by bash in a folder of photographs and articles made here."""
    root = tmp_path_factory.mktemp("reef")
    photos(root / "photos", ARTICLES, 2, seed=0)
    photos(root / "new_photos", NEW_ARTICLES, 1, seed=1)
    (root / "articles").mkdir()
    for name, text in ARTICLES.items():
        (root / "articles" / f"{name}.txt").write_text(text, encoding="utf-8")
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", doc_example()], cwd=root, env=ENV, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result.stdout


def test_the_worked_example_imports_trains_and_ranks_new_classes_from_their_vectors(example):
    root, out = example
    assert "features/reef.h5: text/mine 6 classes x 4 dims (6 imported from my_vectors.csv)" in out
    store = FeatureStore.open(root / "features" / "reef.h5")
    given = read_class_vectors(root / "my_vectors.csv")
    mine = store.text("mine")
    assert mine.vectors[[list(store.class_ids).index(c) for c in given.ids]].tolist() == given.vectors.tolist()
    (source,) = mine.settings["sources"]
    assert source["sha256"] == sha256_file(root / "my_vectors.csv") and source["file"] == "my_vectors.csv"
    assert source["command"] == "gazsl text import --vectors my_vectors.csv --store features/reef.h5 --name mine"
    # the model keeps where its text came from
    model_path = root / "runs" / "reef-mine" / "model.gazsl"
    assert model_file.read(model_path)["text_encoder"]["sources"][0]["sha256"] == source["sha256"]
    # predict's figures are the model's own scores of the new classes' vectors
    model = GAZSL.load(model_path)
    new = read_class_vectors(root / "new_classes.csv")
    rows = list(csv.DictReader((root / "predictions.csv").open()))
    images = sorted({r["image"] for r in rows})
    expected = model.scores(new.vectors, model.embed([root / image for image in images]))
    assert len(rows) == 2 * 2 and {r["class"] for r in rows} == {"Angelfish", "Butterflyfish"}
    for row in rows:
        i, c = images.index(row["image"]), new.class_names().index(row["class"])
        assert float(row["score"]) == pytest.approx(expected[i, c], rel=1e-5, abs=1e-6)


def test_a_model_of_imported_vectors_says_it_cannot_read_articles(example, tmp_path, capsys):
    from gazsl.predict import main as predict_main

    root, _ = example
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "1.Angelfish.txt").write_text(NEW_ARTICLES["Angelfish"], encoding="utf-8")
    model = root / "runs" / "reef-mine" / "model.gazsl"
    err = cli_error_line(capsys, predict_main, ["--model", str(model), "--classes", str(tmp_path / "new"),
                                                "--images", str(root / "new_photos")])
    assert "imported from my_vectors.csv" in err and "cannot encode articles" in err and "--class-vectors" in err
    (tmp_path / "wide.csv").write_text("7,1,2,3\n8,4,5,6\n")
    err = cli_error_line(capsys, predict_main, ["--model", str(model), "--class-vectors", str(tmp_path / "wide.csv"),
                                                "--images", str(root / "new_photos")])
    assert err == f"error: {tmp_path / 'wide.csv'}: 3-dimensional class vectors; the model was trained on 4-dimensional text"


def test_serve_ranks_given_vectors_and_refuses_an_article_for_such_a_model(example):
    from fastapi.testclient import TestClient

    from gazsl.predict import predict
    from gazsl.serving.app import create_app

    root, _ = example
    model_path = root / "runs" / "reef-mine" / "model.gazsl"
    model = GAZSL.load(model_path)
    with TestClient(create_app(model, model_path, read_class_vectors(root / "new_classes.csv"))) as client:
        assert client.get("/api/classes").json()["classes"] == ["Angelfish", "Butterflyfish"]
        assert client.get("/api/card").json()["text_encoder"]["encoder"] == "imported"
        photo = next((root / "new_photos" / "Angelfish").iterdir())
        answer = client.post("/api/predict", files={"photo": (photo.name, photo.read_bytes())})
        assert answer.status_code == 200 and len(answer.json()["classes"]) == 2
        added = client.post("/api/classes", data={"name": "Angelfish2", "article": NEW_ARTICLES["Angelfish"]})
        assert added.status_code == 400 and "cannot encode articles" in added.json()["error"]
        # GZSL: the training classes compete with the given ones, as predict --gzsl ranks them
        answer = client.post("/api/predict", files={"photo": (photo.name, photo.read_bytes())},
                             data={"gzsl": "true", "top_k": "10"}).json()["classes"]
    _, names, scores = predict(model, read_class_vectors(root / "new_classes.csv"), [str(photo)], gzsl=True)
    assert names == model.class_names_ + ["Angelfish", "Butterflyfish"]
    assert sorted(c["class"] for c in answer) == sorted(names)
    assert [c["score"] for c in answer] == pytest.approx(sorted(scores[0], reverse=True), rel=1e-6)


# ---------------------------------------------------------------- bad files
def write_npz(path, ids, vectors, **extra):
    np.savez(path, ids=np.asarray(ids), vectors=np.asarray(vectors, dtype=float), **extra)
    return path


@pytest.fixture
def store(example, tmp_path):
    """A copy of the example's store (6 classes, ids 1..6, text 'mine' of 4 dims imported)."""
    path = tmp_path / "reef.h5"
    path.write_bytes((example[0] / "features" / "reef.h5").read_bytes())
    return path


def bad_files(folder: Path) -> dict:
    """case -> (the arguments after --vectors, the problem the one line must name); --name new unless they name one."""
    good = np.arange(24, dtype=float).reshape(6, 4)
    (folder / "ids.txt").write_text("1\n2\n3\n4\n5\n6\n")
    np.save(folder / "plain.npy", good)
    (folder / "ragged.csv").write_text("1,0,1,2,3\n2,0,1,2,3\n3,0,1,2\n4,0,1,2,3\n5,0,1,2,3\n6,0,1,2,3\n")
    (folder / "word.csv").write_text("id,v1\n1,0.5\n2,x\n")
    (folder / "vectors.txt").write_text("1,0,1\n")
    (folder / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    np.savez(folder / "novec.npz", ids=np.arange(1, 7))
    shifted = [*ARTICLES][1:] + [*ARTICLES][:1]  # each id with the next class's name
    (folder / "shifted.csv").write_text("id,name,v\n" + "".join(f"{c},{n},0.5\n" for c, n in enumerate(shifted, 1)))
    nan = good.copy()
    nan[2, 1] = np.nan
    return {
        "missing class": ([write_npz(folder / "five.npz", [1, 2, 3, 4, 5], good[:5])], "no vector for class id 6"),
        "unknown id": ([write_npz(folder / "unknown.npz", [1, 2, 3, 4, 5, 6, 99], np.vstack([good, good[:1]]))],
                       "class id 99 is not a class of the store"),
        "ids of other names": ([folder / "shifted.csv"], "class id 1 is 'Clownfish' here but 'Blue_Tang' in the store"),
        "duplicate id": ([write_npz(folder / "dup.npz", [1, 2, 3, 3, 5, 6], good)], "class id 3 appears 2 times"),
        "NaN": ([write_npz(folder / "nan.npz", [1, 2, 3, 4, 5, 6], nan)], "NaN or infinity in the vector of class id 3"),
        "inf": ([write_npz(folder / "inf.npz", [1, 2, 3, 4, 5, 6], np.where(good == 5, np.inf, good))],
                "NaN or infinity in the vector of class id 2"),
        "ragged rows": ([folder / "ragged.csv"], "[line 3]: 3 values; the rows above have 4"),
        "not a number": ([folder / "word.csv"], "[line 3]: 'x' is not a number"),
        "existing key": ([write_npz(folder / "again.npz", [1, 2, 3, 4, 5, 6], good), "--name", "mine"],
                         "already has text 'mine'"),
        "update of another dimension": ([write_npz(folder / "wide.npz", [1, 2], np.ones((2, 5))), "--update", "--name",
                                         "mine"],
                                        "5-dimensional vectors; the store's other rows of text 'mine' have 4"),
        "npy without ids": ([folder / "plain.npy"], "a .npy holds no class ids"),
        "ids for a csv": ([folder / "ragged.csv", "--ids", folder / "ids.txt"], "--ids applies to a .npy file only"),
        "wrong extension": ([folder / "vectors.txt"], "not a class-vectors file: expected .npz, .npy, .csv, .parquet"),
        "unreadable": ([folder / "broken.npz"], "unreadable class-vectors file"),
        "missing file": ([folder / "absent.csv"], "class-vectors file not found"),
        "npz without vectors": ([folder / "novec.npz"], "no array vectors"),
    }


def test_each_bad_file_is_one_line_exit_2_and_the_store_byte_for_byte_unchanged(store, tmp_path, capsys):
    before = sha256_file(store)
    for case, (argv, problem) in bad_files(tmp_path).items():
        name = [] if "--name" in argv else ["--name", "new"]
        err = cli_error_line(capsys, text_main, ["import", "--vectors", *map(str, argv), *name, "--store", str(store)])
        assert problem in err and Path(argv[0]).name in err, (case, err)
        assert sha256_file(store) == before, case


def test_every_format_gives_the_same_vectors_and_update_replaces_some_rows(store, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the parquet extra) not installed")
    import pyarrow as pa

    rng = np.random.default_rng(0)
    ids, vectors = np.array([4, 2, 6, 1, 3, 5]), rng.normal(size=(6, 3)).astype(np.float32)
    write_npz(tmp_path / "v.npz", ids, vectors)
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (tmp_path / "v.csv").write_text("".join(f"{i},{','.join(map(repr, map(float, v)))}\n" for i, v in zip(ids, vectors)))
    pq.write_table(pa.table({"id": ids, **{f"v{j}": vectors[:, j] for j in range(3)}}), tmp_path / "columns.parquet")
    pq.write_table(pa.table({"class_id": ids, "vector": [list(map(float, v)) for v in vectors]}), tmp_path / "lists.parquet")
    for name, extra in (("v.npz", []), ("v.npy", ["--ids", str(tmp_path / "ids.txt")]), ("v.csv", []),
                        ("columns.parquet", []), ("lists.parquet", [])):
        assert text_main(["import", "--vectors", str(tmp_path / name), *extra, "--store", str(store), "--name", name]) == 0
    saved = FeatureStore.open(store)
    expected = vectors[np.argsort(ids)]  # the store's classes are ids 1..6 in order
    for name in ("v.npz", "v.npy", "v.csv", "columns.parquet", "lists.parquet"):
        assert np.array_equal(saved.text(name).vectors, expected), name
    write_npz(tmp_path / "two.npz", [2, 5], np.zeros((2, 3)))
    assert text_main(["import", "--vectors", str(tmp_path / "two.npz"), "--update", "--store", str(store), "--name",
                      "v.npz"]) == 0
    updated = FeatureStore.open(store).text("v.npz")
    assert np.array_equal(updated.vectors[[1, 4]], np.zeros((2, 3)))
    assert np.array_equal(updated.vectors[[0, 2, 3, 5]], expected[[0, 2, 3, 5]])
    assert [s["file"] for s in updated.settings["sources"]] == ["v.npz", "two.npz"]


def test_without_pyarrow_a_parquet_file_says_which_extra_reads_it(tmp_path, monkeypatch):
    (tmp_path / "v.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # an import of it fails, as where the extra is not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(GazslError, match=r"v\.parquet: reading \.parquet needs pyarrow: pip install 'gazsl\[parquet\]'"):
        read_class_vectors(tmp_path / "v.parquet")


# ---------------------------------------------------------------- encoder plugins
@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    """A folder outside the package holding my_encoder.py, on this process's path (and the subprocesses'): the
    docs' encoder, and three that fail."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "my_encoder.py").write_text(doc_block("python", "## Encoder plugins") + FAILING_PLUGINS)
    monkeypatch.syspath_prepend(str(folder))
    return folder


def test_a_plugin_encodes_the_store_and_predict_reencodes_new_articles_with_it(store, plugin_path, tmp_path, capsys):
    from gazsl.predict import main as predict_main

    env = {**ENV, "PYTHONPATH": os.pathsep.join([ENV["PYTHONPATH"], str(plugin_path)])}
    root = store.parent
    articles = root / "articles"
    articles.mkdir()
    for cid, (name, text) in enumerate(ARTICLES.items(), 1):
        (articles / f"{cid}.{name}.txt").write_text(text, encoding="utf-8")
    encoded = subprocess.run(["gazsl", "text", "encode", "--corpus", str(articles), "--store", str(store), "--encoder",
                              "my_encoder:encode", "--name", "words"], env=env, capture_output=True, text=True)
    assert encoded.returncode == 0, encoded.stderr
    saved = FeatureStore.open(store)
    words = saved.text("words")
    assert words.settings["plugin"] == "my_encoder:encode" and words.settings["package"] is None
    import my_encoder

    assert np.array_equal(words.vectors, my_encoder.encode(list(ARTICLES.values())).astype(np.float32))
    # a model fitted on the plugin's vectors records it, and predict (a new process) re-encodes articles with it
    labels = saved.labels
    config = preset("cpu").replace(text_reduced_dim=8, generator_hidden=16, critic_hidden=16, batch_size=8,
                                   critic_steps=1, iterations=5, samples_per_class=5, classifier="pivot", device="cpu")
    model = GAZSL(config, random_state=0, text_encoder=recorded_encoder(saved, "words"),
                  image_backbone=recorded_backbone(saved)).fit(words.vectors, saved.features, labels, saved.class_names)
    model_path = model.save(tmp_path / "words.gazsl")
    assert model_file.read(model_path)["text_encoder"] == {"encoder": "plugin", "plugin": "my_encoder:encode",
                                                           "package": None, "package_version": None}
    new = tmp_path / "new"
    new.mkdir()
    for cid, (name, text) in enumerate(NEW_ARTICLES.items(), 101):
        (new / f"{cid}.{name}.txt").write_text(text, encoding="utf-8")
    photo_dir = tmp_path / "photos"
    photos(photo_dir, ["x"], 1, seed=3)
    out = tmp_path / "p.csv"
    predicted = subprocess.run(["gazsl", "predict", "--model", str(model_path), "--classes", str(new), "--images",
                                str(photo_dir), "--out", str(out)], env=env, capture_output=True, text=True)
    assert predicted.returncode == 0, predicted.stderr
    expected = model.scores(my_encoder.encode(list(NEW_ARTICLES.values())), model.embed([str(photo_dir / "x" / "0.png")]))
    scores = {r["class"]: float(r["score"]) for r in csv.DictReader(out.open())}
    assert [scores["Angelfish"], scores["Butterflyfish"]] == pytest.approx(expected[0].tolist(), rel=1e-5, abs=1e-6)
    # a model whose plugin is not on the path: one line naming it
    model.text_encoder = PluginEncoder.from_recipe({"encoder": "plugin", "plugin": "reef_gone:encode"})
    gone = model.save(tmp_path / "gone.gazsl")
    err = cli_error_line(capsys, predict_main, ["--model", str(gone), "--classes", str(new), "--images", str(photo_dir)])
    assert "encoder plugin 'reef_gone:encode': cannot import module 'reef_gone'" in err


def test_a_bad_plugin_is_one_line_naming_it_and_the_store_unchanged(store, plugin_path, tmp_path, capsys):
    articles = tmp_path / "articles"
    articles.mkdir()
    for cid, (name, text) in enumerate(ARTICLES.items(), 1):
        (articles / f"{cid}.{name}.txt").write_text(text, encoding="utf-8")
    before = sha256_file(store)
    for encoder, problem in (("my_encoder:raises", "failed: RuntimeError: the embedding server is down"),
                             ("my_encoder:wrong_shape", "returned shape (7, 3) for 6 documents"),
                             ("my_encoder:nan", "returned NaN or infinity for 6 of 6 documents"),
                             ("my_encoder:absent", "module 'my_encoder' has no attribute 'absent'"),
                             ("no_such_module:encode", "cannot import module 'no_such_module'"),
                             ("nothing_installed", "unknown encoder 'nothing_installed'")):
        err = cli_error_line(capsys, text_main, ["encode", "--corpus", str(articles), "--store", str(store),
                                                 "--encoder", encoder, "--name", "plug"])
        assert problem in err and (encoder in err), (encoder, err)
        assert sha256_file(store) == before, encoder


def test_an_entry_point_plugin_records_its_package_and_version_and_a_model_refuses_another(plugin_path, monkeypatch):
    """A distribution's metadata on the path (as pip leaves it; nothing is installed) declares the entry point."""
    info = plugin_path / "reef_encoders-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: reef-encoders\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text("[gazsl.encoders]\ncolours = my_encoder:encode\n")
    (info / "top_level.txt").write_text("my_encoder\n")
    encoder = PluginEncoder("colours")
    assert encoder.recipe() == {"encoder": "plugin", "plugin": "my_encoder:encode", "package": "reef-encoders",
                                "package_version": "1.2"}
    assert encoder.encode(["blue"]).shape == (1, 8)
    older = PluginEncoder.from_recipe({**encoder.recipe(), "package_version": "1.1"})
    with pytest.raises(GazslError, match="made this model's text as version 1.1; version 1.2 is installed here"):
        older.encode(["blue"])
