"""python -m gazsl.predict: raw photos and raw articles in, ranked class names out.

The fast tests use a model fitted here on made-up 1280-d features, with a real
TF-IDF encoder and the real EfficientNet-Lite0 backbone; the acceptance tests
train a small cub100 run on the real CUB photographs (skipped without ../shared/data).
"""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED, cli_error_line
from gazsl.generator.config import preset
from gazsl.generator.gan import GAZSL
from gazsl.io import sha256_file
from gazsl.predict import main, score_meaning
from gazsl.scoring.ranking import NO_TEMPERATURE, percent
from gazsl.documents.encoders import TfidfEncoder
from gazsl.vision.backbone import BACKBONES, ImageBackbone

ARTICLES = {  # class id -> (name, article); the first four are the training classes
    1: ("Red_Bird", "The red bird has a red crown, a red breast and black wings. Its bill is short and conical."),
    2: ("Blue_Bird", "The blue bird is blue above with a white belly and a long forked tail."),
    3: ("Brown_Bird", "The brown bird is streaked brown with a buff breast and a thin pointed bill."),
    4: ("Green_Bird", "The green bird has green wings, a yellow throat and a short tail."),
    5: ("Orange_Bird", "The orange bird has an orange breast, black wings with white bars and a conical bill."),
    6: ("Grey_Bird", "The grey bird is plain grey with a black cap and a long tail."),
}


def write_articles(folder: Path, ids) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for cid in ids:
        name, text = ARTICLES[cid]
        (folder / f"{cid}.{name}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def photo_model(tmp_path_factory):
    """A model trained on made-up features of four classes, with a text encoder and the image backbone; and photos."""
    root = tmp_path_factory.mktemp("predict")
    encoder = TfidfEncoder().fit([ARTICLES[c][1] for c in (1, 2, 3, 4)])
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    features = np.abs(rng.normal(size=(4, 1280)))[labels] + 0.1 * rng.random((40, 1280))
    config = preset("cpu").replace(text_reduced_dim=8, generator_hidden=16, critic_hidden=16, batch_size=16,
                                   critic_steps=1, iterations=5, samples_per_class=5, knn_k=3, classifier="pivot",
                                   device="cpu")
    model = GAZSL(config, random_state=0, text_encoder=encoder,
                  image_backbone=ImageBackbone(BACKBONES["efficientnet-lite0"], "float16"))
    model.fit(encoder.transform([ARTICLES[c][1] for c in (1, 2, 3, 4)]), features, labels,
              [ARTICLES[c][0] for c in (1, 2, 3, 4)])
    photos = root / "photos"
    photos.mkdir()
    for i, size in enumerate(((64, 48), (100, 100))):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(photos / f"bird{i}.png")
    return model, model.save(root / "model.gazsl"), photos, write_articles(root / "new", (5, 6))


def test_every_photo_gets_the_classes_ranked_on_the_terminal_and_in_csv(photo_model, tmp_path, capsys):
    model, path, photos, articles = photo_model
    out = tmp_path / "predictions.csv"
    main(["--model", str(path), "--classes", str(articles), "--images", str(photos), "--top-k", "5", "--out", str(out)])
    lines = capsys.readouterr().out.splitlines()
    # a header naming the score (the model's classifier is pivot), the note that this model (a plain fit) has no
    # temperature, so no probabilities; then the table: photo on its first row, rank, class, score
    assert lines[0] == ("score: cosine similarity to the mean of the class's generated features, among the candidates; "
                        "higher ranks first")
    assert lines[1] == NO_TEMPERATURE
    assert lines[2].split() == ["photo", "rank", "class", "score"]
    table = [line.split() for line in lines[3:-1]]
    assert lines[-1] == f"every class's probability, score and rank for each photo (2 photos x 2 classes = 4 rows) -> {out}"
    rows = list(csv.DictReader(out.open()))
    assert [(r["image"], r["rank"]) for r in rows] == [(str(photos / f"bird{i}.png"), str(k)) for i in (0, 1) for k in (1, 2)]
    assert {r["probability"] for r in rows} == {""}
    # the same scores as the model gives in Python, best first
    documents, names = [ARTICLES[c][1] for c in (5, 6)], [ARTICLES[c][0] for c in (5, 6)]
    scores = model.scores(model.encode(documents, names), model.embed(sorted(photos.iterdir())))
    for i in (0, 1):
        mine = {r["class"]: float(r["score"]) for r in rows if r["image"].endswith(f"bird{i}.png")}
        assert mine == pytest.approx(dict(zip(names, scores[i])), rel=1e-5)
        assert [r["class"] for r in rows if r["image"].endswith(f"bird{i}.png")] == [names[j] for j in np.argsort(-scores[i])]
    assert table == [[*([str(photos / f"bird{i}.png")] if r == 1 else []), str(r), names[j], f"{scores[i, j]:.3f}"]
                     for i in (0, 1) for r, j in enumerate(np.argsort(-scores[i]), 1)]


def test_gzsl_adds_the_training_classes_with_the_calibration(photo_model, tmp_path, capsys):
    model, _, photos, articles = photo_model
    assert "no GZSL calibration chosen on validation classes" in cli_error_line(
        capsys, main, ["--model", str(photo_model[1]), "--classes", str(articles), "--images", str(photos), "--gzsl"])
    model.gzsl_calibration_ = 0.25
    path = model.save(tmp_path / "calibrated.gazsl")
    model.gzsl_calibration_ = None
    out = tmp_path / "gzsl.csv"
    main(["--model", str(path), "--classes", str(articles), "--images", str(photos / "bird1.png"), "--gzsl", "--top-k", "2",
          "--out", str(out)])
    lines = capsys.readouterr().out.splitlines()
    # --gzsl changes what the score is, and the header says how
    assert lines[0] == ("score: cosine similarity to the mean of the class's generated features, among the model's 4 "
                        "training classes and the candidates, +0.25 (the calibration chosen on validation classes) "
                        "added to the candidates'; higher ranks first")
    assert len(lines) == 3 + 2 + 1  # score and probability lines, column names, the top 2, the summary
    # the CSV holds every class, not the top-k shown, and the calibration is in the candidates' scores
    rows = list(csv.DictReader(out.open()))
    assert [r["rank"] for r in rows] == [str(k) for k in range(1, 7)]
    assert {r["class"] for r in rows} == {name for name, _ in ARTICLES.values()}
    documents, names = [ARTICLES[c][1] for c in (5, 6)], [ARTICLES[c][0] for c in (5, 6)]
    plain = model.gzsl_scores(np.concatenate([model.seen_text_, model.encode(documents, names)]),
                              model.embed([photos / "bird1.png"]))[0]
    mine = {r["class"]: float(r["score"]) for r in rows}
    in_order = [mine[n] for n in (*[ARTICLES[c][0] for c in (1, 2, 3, 4)], *names)]  # training classes, then candidates
    assert in_order == pytest.approx(plain + np.r_[np.zeros(4), 0.25, 0.25], rel=1e-5)
    assert lines[-1] == f"every class's probability, score and rank for each photo (1 photo x 6 classes = 6 rows) -> {out}"
    repeated = write_articles(tmp_path / "repeated", (1, 5))
    line = cli_error_line(capsys, main, ["--model", str(path), "--classes", str(repeated), "--images", str(photos), "--gzsl"])
    assert "class 'Red_Bird' is one of the model's training classes" in line


def test_the_header_says_what_a_knn_models_score_is_and_how_gzsl_changes_it(photo_model):
    """A kNN model ranks by vote shares, and under --gzsl by the pivots' cosines plus the calibration (kNN votes are
    too coarse to calibrate): the header says which; a fused model's says what is fused."""
    knn = photo_model[0].with_classifier("knn")
    assert score_meaning(knn, gzsl=False) == "share of the 3 nearest generated features that are of the class, among the candidates"
    knn.gzsl_calibration_ = -0.5
    assert score_meaning(knn, gzsl=True).startswith("cosine similarity to the mean of the class's generated features, "
                                                    "among the model's 4 training classes and the candidates, -0.5 (")
    assert score_meaning(knn.with_classifier("pivot+regression"), gzsl=False) == (
        "0.5 x the standardised cosine similarity to the mean of the class's generated features + 0.5 x the "
        "standardised score of a text-to-class-mean regression, among the candidates")


def test_bad_input_exits_2_with_one_line_naming_it(photo_model, tmp_path, capsys):
    _, path, photos, articles = photo_model
    garbage = tmp_path / "garbage.gazsl"
    garbage.write_bytes(b"PK\x03\x04 not really a zip" * 10)
    cut = tmp_path / "cut.gazsl"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    other = tmp_path / "other.gazsl"
    import torch

    torch.save({**torch.load(path, weights_only=True), "schema_version": 2, "gazsl_version": "9.0"}, other)
    not_an_image = tmp_path / "bird.jpg"
    not_an_image.write_text("a bird, honestly")
    no_term = write_articles(tmp_path / "no_term", (5,))
    (no_term / "7.Odd_Bird.txt").write_text("Zzyzx qwop 1998.")
    cases = [
        (["--model", str(garbage)], f"{garbage}: not a readable gazsl model"),
        (["--model", str(cut)], f"{cut}: not a readable gazsl model"),
        (["--model", str(other)], f"{other} [schema_version]: a gazsl model of schema version 2, made by gazsl 9.0"),
        (["--model", str(path), "--images", str(not_an_image)], f"{not_an_image}: cannot read image"),
        (["--model", str(path), "--images", str(tmp_path / "absent.png")], f"{tmp_path / 'absent.png'}: image or folder (--images) not found"),
        (["--model", str(path), "--classes", str(no_term)], f"{no_term / '7.Odd_Bird.txt'}: no term of the vocabulary"),
        (["--model", str(path), "--top-k", "0"], "--top-k must be at least 1"),
    ]
    for changes, needle in cases:
        argv = {"--model": str(path), "--classes": str(articles), "--images": str(photos)}
        argv.update(dict(zip(changes[::2], changes[1::2])))
        line = cli_error_line(capsys, main, [a for kv in argv.items() for a in kv])
        assert line.startswith("error: ") and needle in line, (needle, line)


def test_a_model_without_a_backbone_says_why_it_cannot_read_photos(photo_model, tmp_path, capsys):
    model, _, photos, articles = photo_model
    model.image_backbone = None
    path = model.save(tmp_path / "no_backbone.gazsl")
    model.image_backbone = ImageBackbone(BACKBONES["efficientnet-lite0"], "float16")
    line = cli_error_line(capsys, main, ["--model", str(path), "--classes", str(articles), "--images", str(photos)])
    assert f"{path}: no image backbone was given to this model" in line


# ------------------------------------------------------------------ cub100: real photographs and articles
CUB100_CONFIG = {"text_reduced_dim": 128, "generator_hidden": 256, "critic_hidden": 256, "batch_size": 128,
                 "critic_steps": 2, "lr": 1e-3, "eval_start": 40, "eval_every": 40, "checkpoint_every": 1000,
                 "samples_per_class": 30, "patience": 0, "classifier": "pivot"}
PER_CLASS = 3  # photos of each unseen class run through EfficientNet-Lite0 on the CPU (the slow part)


@pytest.fixture(scope="module")
def cub100_run(tmp_path_factory):
    """A short honest cub100_easy run (about 20 s) on a store built here from the shared features."""
    if not (SHARED / "cub100" / "images").is_dir():
        pytest.skip("../shared/data/cub100 not found: real-photograph test skipped")
    from gazsl.datasets.build import build_store
    from gazsl.train import main as train

    root = tmp_path_factory.mktemp("cub100")
    store = build_store("cub", SHARED / "cub100", SHARED / "cub" / "wiki_articles", name="cub100",
                        features=SHARED / "cub100" / "features_efficientnet_lite0.npz")
    store.save(root / "cub100.h5")
    (root / "config.json").write_text(json.dumps(CUB100_CONFIG))
    train(["--split", "cub100_easy", "--store", str(root / "cub100.h5"), "--preset", "cpu", "--config",
           str(root / "config.json"), "--iters", "80", "--out", str(root / "run"), "--device", "cpu"])
    return root


def predict_cli(*args) -> list[dict]:
    """Run gazsl.predict in a fresh process; the CSV rows it wrote."""
    out = Path(args[args.index("--out") + 1])
    result = subprocess.run([sys.executable, "-m", "gazsl.predict", *map(str, args)], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(out.open()))


@pytest.mark.shared_data
@pytest.mark.slow
def test_predict_from_raw_photos_and_articles_gives_the_runs_top1(cub100_run, tmp_path):
    from gazsl.protocols.protocol import images_of, zsl_figures
    from gazsl.store.feature_store import FeatureStore

    store = FeatureStore.open(cub100_run / "cub100.h5")
    split, text = store.split("cub100_easy"), store.text("tfidf").vectors
    metrics = json.loads((cub100_run / "run" / "metrics.json").read_text())
    model = GAZSL.load(cub100_run / "run" / "model.gazsl")
    # the saved model is the evaluated one: its top-1 over every unseen image from the store is the run's
    unseen_images = images_of(store, split.unseen)
    assert zsl_figures(model, text, store, split.unseen, unseen_images)["zsl_top1"] == metrics["zsl_top1"]
    assert metrics["zsl_top1"] > 100 / len(split.unseen)  # above chance: a model that learned something

    # raw articles: the unseen classes' text vectors, exactly as the store has them
    articles = tmp_path / "articles"
    articles.mkdir()
    names = [store.class_names[c] for c in split.unseen]
    for c, name in zip(split.unseen, names):
        shutil.copy(SHARED / "cub" / "wiki_articles" / f"{store.class_ids[c]}.{name}.txt", articles)
    documents = [(articles / f"{store.class_ids[c]}.{n}.txt").read_text() for c, n in zip(split.unseen, names)]
    assert np.array_equal(model.encode(documents, names), text[split.unseen])

    # raw photos: the first PER_CLASS of each unseen class (store rows follow the shared .npz's paths)
    with np.load(SHARED / "cub100" / "features_efficientnet_lite0.npz") as z:
        paths = z["paths"]
    subset = np.concatenate([unseen_images[store.labels[unseen_images] == c][:PER_CLASS] for c in split.unseen])
    rows = predict_cli("--model", cub100_run / "run" / "model.gazsl", "--classes", articles, "--top-k", "1",
                       "--out", tmp_path / "p.csv", "--images", *[SHARED / "cub100" / "images" / paths[i] for i in subset])
    truth = [names[list(split.unseen).index(store.labels[i])] for i in subset]
    assert len(rows) == len(subset) * len(names)  # every class's score, whatever --top-k shows
    from_photos = [row["class"] for row in rows if row["rank"] == "1"]
    from_store = [names[j] for j in model.predict(text[split.unseen], store.features[subset])]
    top1_photos = 100 * np.mean(np.array(from_photos) == truth)
    top1_store = 100 * np.mean(np.array(from_store) == truth)
    assert abs(top1_photos - top1_store) <= 0.5, (top1_photos, top1_store)
    assert np.mean(np.array(from_photos) == from_store) >= 0.95  # the same answers, photo by photo, but for near-ties


@pytest.mark.shared_data
@pytest.mark.slow
def test_a_class_in_no_store_is_predicted_from_an_article_written_here(cub100_run, tmp_path):
    """An article written by this test, photos of one cub100 class: ranked with no store built or changed."""
    store_path = cub100_run / "cub100.h5"
    before = sha256_file(store_path)
    classes = tmp_path / "classes"
    classes.mkdir()
    for file in ("9.Brewer_Blackbird.txt", "36.Northern_Flicker.txt", "59.California_Gull.txt"):
        shutil.copy(SHARED / "cub" / "wiki_articles" / file, classes)
    (classes / "9001.Blue_Songbird.txt").write_text(
        "The blue songbird is a small finch of about 12 cm. The male is brilliant blue all over, with a darker blue "
        "head and black wings edged with blue. The female is plain brown with faint streaks on the breast and a "
        "whitish throat. It has a short conical grey bill and dark eyes, and sings from the tops of small trees.\n")
    photos = sorted((SHARED / "cub100" / "images" / "Indigo_Bunting").glob("*.jpg"))[:3]
    model_path = cub100_run / "run" / "model.gazsl"
    rows = predict_cli("--model", model_path, "--classes", classes, "--top-k", "4", "--out", tmp_path / "p.csv",
                       "--images", *photos)
    assert len(rows) == 3 * 4 and {r["class"] for r in rows} >= {"Blue_Songbird"}
    model = GAZSL.load(model_path)
    documents = [f.read_text() for f in sorted(classes.iterdir(), key=lambda f: int(f.name.split(".")[0]))]
    names = ["Brewer_Blackbird", "Northern_Flicker", "California_Gull", "Blue_Songbird"]
    scores = model.scores(model.encode(documents, names), model.embed(photos))
    for i, photo in enumerate(photos):
        mine = {r["class"]: float(r["score"]) for r in rows if r["image"] == str(photo)}
        assert mine == pytest.approx(dict(zip(names, scores[i])), abs=1e-4)
    assert sha256_file(store_path) == before and sorted(p.name for p in cub100_run.glob("*.h5")) == ["cub100.h5"]


def with_temperatures(model: GAZSL, path: Path, temperature: float, gzsl_temperature: float | None,
                      calibration: float | None = None) -> Path:
    """``model`` saved to ``path`` as an honest run saves it: temperatures (and a calibration) fitted on validation
    classes, here set by hand; the fixture's model is left as it was."""
    model.temperature_, model.gzsl_temperature_, model.gzsl_calibration_ = temperature, gzsl_temperature, calibration
    try:
        return model.save(path)
    finally:
        model.temperature_ = model.gzsl_temperature_ = model.gzsl_calibration_ = None


def test_the_probability_column_is_a_softmax_at_the_saved_temperature_summing_to_one(photo_model, tmp_path, capsys):
    model, _, photos, articles = photo_model
    documents, names = [ARTICLES[c][1] for c in (5, 6)], [ARTICLES[c][0] for c in (5, 6)]
    scores = model.scores(model.encode(documents, names), model.embed(sorted(photos.iterdir())))
    out, calls = tmp_path / "p.csv", set()
    for temperature in (0.002, 0.05):  # sure of the top class, then not
        path = with_temperatures(model, tmp_path / "tempered.gazsl", temperature, 0.004, calibration=0.1)
        main(["--model", str(path), "--classes", str(articles), "--images", str(photos), "--out", str(out)])
        lines = capsys.readouterr().out.splitlines()
        assert lines[1].startswith("probability: of each class among the ranked classes, a softmax of the scores at "
                                   f"temperature {temperature:g} (fitted on validation classes")
        assert lines[2].split() == ["photo", "rank", "class", "probability", "score"]
        rows = list(csv.DictReader(out.open()))
        expected = np.exp(scores / temperature) / np.exp(scores / temperature).sum(axis=1, keepdims=True)
        for i in (0, 1):
            mine = {r["class"]: float(r["probability"]) for r in rows if r["image"].endswith(f"bird{i}.png")}
            assert sum(mine.values()) == pytest.approx(1, abs=1e-5)
            assert mine == pytest.approx(dict(zip(names, expected[i])), abs=1e-6)
            first = lines[3 + 2 * i].split()
            p1, p2 = sorted(expected[i])[::-1]
            too_close = first[-4:] == ["too", "close", "to", "call"]
            assert first[3] == percent(p1) and too_close == (p1 < 2 * p2)
            calls.add(too_close)
    assert calls == {True, False}

    # under --gzsl: the GZSL temperature, over the training classes and the candidates
    main(["--model", str(path), "--classes", str(articles), "--images", str(photos / "bird1.png"), "--gzsl", "--out",
          str(out)])
    assert "temperature 0.004" in capsys.readouterr().out.splitlines()[1]
    probabilities = [float(r["probability"]) for r in csv.DictReader(out.open())]
    assert len(probabilities) == 6 and sum(probabilities) == pytest.approx(1, abs=1e-5)


def test_a_model_file_from_before_the_temperature_gives_the_note_and_the_raw_scores(photo_model, tmp_path, capsys):
    import torch

    model, _, photos, articles = photo_model
    path = with_temperatures(model, tmp_path / "new.gazsl", 0.002, 0.004)
    older = {k: v for k, v in torch.load(path, weights_only=True).items() if k not in ("temperature", "gzsl_temperature")}
    torch.save(older, tmp_path / "old.gazsl")  # as a gazsl without the fields wrote it
    loaded = GAZSL.load(tmp_path / "old.gazsl")
    assert loaded.temperature_ is None and loaded.gzsl_temperature_ is None
    out = tmp_path / "p.csv"
    main(["--model", str(tmp_path / "old.gazsl"), "--classes", str(articles), "--images", str(photos), "--out", str(out)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == NO_TEMPERATURE and lines[2].split() == ["photo", "rank", "class", "score"]
    rows = list(csv.DictReader(out.open()))
    assert {r["probability"] for r in rows} == {""} and all(float(r["score"]) for r in rows)
