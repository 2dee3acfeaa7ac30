"""Every bad input has a clear answer: a GazslError of one line naming the file (and key or line).

Property-based (hypothesis): malformed bytes, shapes, dtypes and values are fed
to each loader. A loader may accept an input only if what it returns is what
the file really holds; otherwise it must raise a one-line GazslError naming
the file. No other exception type, no silent NaN, no silently changed data.
"""

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import cli_error_line, make_toy_store
from gazsl.generator import config as config_module
from gazsl.generator.config import Config
from gazsl.documents.corpus import read_corpus
from gazsl.io import GazslError
from gazsl.store.feature_store import FeatureStore

# derandomize: the same examples on every run, so CI is reproducible; database=None: nothing written to the repo
FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def assert_one_line(err: GazslError, *needles) -> None:
    message = str(err)
    assert "\n" not in message and message.strip() == message, message
    for needle in needles:
        assert str(needle) in message, (needle, message)


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> Path:
    path = make_toy_store(tmp_path_factory.mktemp("store") / "toy.h5", n_classes=8, per_class=5)
    store = FeatureStore.open(path)
    store.texts["tfidf"].vocabulary = [f"térm{i}" for i in range(store.texts["tfidf"].vectors.shape[1])]
    return store.save(path)


@pytest.fixture(scope="module")
def original(small_store) -> FeatureStore:
    return FeatureStore.open(small_store)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("examples")


def scratch(folder: Path, suffix: str) -> Path:
    """A fresh path for one hypothesis example: every example of a test shares the test's folder."""
    fd, name = tempfile.mkstemp(suffix=suffix, dir=folder)
    os.close(fd)
    Path(name).unlink()
    return Path(name)


def same_content(store: FeatureStore, original: FeatureStore) -> bool:
    """Every array, name, split and text of the two stores is identical."""
    if not all(np.array_equal(getattr(store, k), getattr(original, k)) for k in ("features", "labels", "class_ids", "super_ids")):
        return False
    if (store.class_names, store.super_names) != (original.class_names, original.super_names):
        return False
    if sorted(store.texts) != sorted(original.texts) or sorted(store.splits) != sorted(original.splits):
        return False
    for name, text in store.texts.items():
        if not np.array_equal(text.vectors, original.texts[name].vectors) or text.vocabulary != original.texts[name].vocabulary:
            return False
    parts = ("seen", "unseen", "val", "heldout_images")
    return all(np.array_equal(getattr(store.splits[n], p), getattr(original.splits[n], p)) for n in store.splits for p in parts)


# ------------------------------------------------------------------ feature store (.h5)
@FAST
@given(cut=st.floats(0, 1, exclude_max=True))
def test_truncated_store_is_refused(small_store, work, cut):
    bad = scratch(work, ".h5")
    data = small_store.read_bytes()
    bad.write_bytes(data[: int(cut * len(data))])
    with pytest.raises(GazslError) as err:
        FeatureStore.open(bad)
    assert_one_line(err.value, bad)


@settings(FAST, max_examples=60)
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=3))
def test_corrupt_store_is_refused_or_reads_the_same(small_store, work, original, flips):
    """Byte flips anywhere: an error naming the file, or the store as written (checksummed data and metadata)."""
    data = bytearray(small_store.read_bytes())
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    bad = scratch(work, ".h5")
    bad.write_bytes(bytes(data))
    try:
        store = FeatureStore.open(bad)
    except GazslError as err:
        assert_one_line(err, bad)
        return
    assert same_content(store, original)


def test_garbage_and_missing_store(tmp_path):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an HDF5 file at all\n" * 20)
    with pytest.raises(GazslError) as err:
        FeatureStore.open(garbage)
    assert_one_line(err.value, garbage, "not a readable HDF5 file")
    with pytest.raises(GazslError) as err:
        FeatureStore.open(tmp_path / "absent.h5")
    assert_one_line(err.value, tmp_path / "absent.h5", "not found")


STORE_KEYS = ["features", "labels", "classes/ids", "classes/super_ids", "splits/toy_easy/seen", "splits/toy_easy/unseen",
              "splits/toy_easy/val", "splits/toy_easy/heldout_images", "text/tfidf/vectors"]
def replace_dataset(work: Path, src: Path, key: str, value) -> Path:
    bad = scratch(work, ".h5")
    shutil.copy(src, bad)
    with h5py.File(bad, "r+") as f:
        del f[key]
        f.create_dataset(key, data=value)
    return bad


def assert_store_invariants(store: FeatureStore) -> None:
    """What training relies on, checked independently of FeatureStore.validate."""
    x, y, c = store.features, store.labels, store.n_classes
    assert x.ndim == 2 and x.dtype.kind == "f" and np.isfinite(x).all()
    assert y.shape == (len(x),) and y.dtype.kind in "iu" and (len(y) == 0 or (0 <= y.min() and y.max() < c))
    for split in store.splits.values():
        for part in ("seen", "unseen", "val"):
            arr = np.asarray(getattr(split, part))
            assert arr.ndim == 1 and (arr.size == 0 or (arr.dtype.kind in "iu" and 0 <= arr.min() and arr.max() < c))
        held = np.asarray(split.heldout_images)
        assert held.ndim == 1 and (held.size == 0 or (held.dtype.kind in "iu" and held.max() < len(y)))
    for text in store.texts.values():
        assert text.vectors.ndim == 2 and text.vectors.shape[0] == c and np.isfinite(text.vectors).all()


@FAST
@given(key=st.sampled_from(STORE_KEYS), value=hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.int64, np.int8, np.uint8, np.bool_]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=48)))
def test_wrong_shapes_and_dtypes_are_refused_naming_the_key(small_store, work, key, value):
    bad = replace_dataset(work, small_store, key, value)
    try:
        store = FeatureStore.open(bad)
    except GazslError as err:
        assert_one_line(err, bad)
        assert re.search(r"\.h5 \[[\w/]+\]: ", str(err)), str(err)  # names the key (maybe one the change broke)
        return
    assert_store_invariants(store)  # accepted only if it is a valid store after all


@FAST
@given(row=st.integers(0, 39), col=st.integers(0, 31), value=st.sampled_from([np.nan, np.inf, -np.inf]),
       in_text=st.booleans())
def test_nan_or_inf_is_refused_naming_key_and_row(small_store, work, row, col, value, in_text):
    bad = scratch(work, ".h5")
    shutil.copy(small_store, bad)
    key = "text/tfidf/vectors" if in_text else "features"
    with h5py.File(bad, "r+") as f:
        f[key][row % f[key].shape[0], col % f[key].shape[1]] = value
    with pytest.raises(GazslError) as err:
        FeatureStore.open(bad)
    assert_one_line(err.value, bad, f"[{key}]", "non-finite")
    if not in_text:
        assert f"row {row % 40}" in str(err.value)


@FAST
@given(index=st.integers(0, 39), label=st.one_of(st.integers(-10**6, -1), st.integers(8, 10**6)))
def test_labels_out_of_range_are_refused(small_store, work, index, label):
    with h5py.File(small_store, "r") as f:
        labels = f["labels"][()]
    labels[index] = label
    bad = replace_dataset(work, small_store, "labels", labels)
    with pytest.raises(GazslError) as err:
        FeatureStore.open(bad)
    assert_one_line(err.value, bad, "[labels]", "out of range")


# ------------------------------------------------------------------ corpus
@FAST
@given(content=st.one_of(st.binary(max_size=60), st.text(max_size=60).map(lambda t: t.encode("utf-8"))))
def test_any_article_bytes_read_or_refused_naming_the_file(work, content):
    folder = scratch(work, "")
    folder.mkdir()
    (folder / "1.Good_Bird.txt").write_text("1 a red bird\n")
    article = folder / "2.Odd_Bird.txt"
    article.write_bytes(content)
    try:
        corpus = read_corpus(folder)
    except GazslError as err:
        assert_one_line(err, article)
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            assert "not UTF-8" in str(err)
        else:
            assert "empty document" in str(err)
        return
    document = corpus.texts[2]
    assert document and all(line and line in content.decode("utf-8") for line in document.split("\n"))


def test_corpus_missing_class_names_the_ids(tmp_path):
    for cid in (1, 2, 4):
        (tmp_path / f"{cid}.Bird_{cid}.txt").write_text("1 a bird\n")
    corpus = read_corpus(tmp_path)
    with pytest.raises(GazslError) as err:
        corpus.documents([1, 2, 3, 4, 5])
    assert_one_line(err.value, tmp_path, "2 class id(s): 3, 5")
    with pytest.raises(GazslError) as err:
        read_corpus(tmp_path / "absent")
    assert_one_line(err.value, "absent", "not found")


JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                          max_leaves=6)


@FAST
@given(records=st.lists(st.one_of(
    st.fixed_dictionaries({"class_id": st.integers(1, 5), "text": st.sampled_from(["a red bird", "wings"])}),
    st.dictionaries(st.sampled_from(["class_id", "text", "x"]), JSON_VALUE, max_size=3),
    JSON_VALUE), min_size=1, max_size=5), junk=st.sampled_from(["", "not json", "{", "\u00ff"]))
def test_jsonl_corpus_read_or_refused_naming_the_line(work, records, junk):
    path = scratch(work, ".jsonl")
    lines = [json.dumps(r) for r in records] + ([junk] if junk else [])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        corpus = read_corpus(path)
    except GazslError as err:
        assert_one_line(err, path)
        assert "[line " in str(err) or "[class_id " in str(err) or "empty corpus" in str(err), str(err)
        return
    good = [r for r in records if isinstance(r, dict) and type(r.get("class_id")) is int and isinstance(r.get("text"), str)]
    assert len(good) == len(records) and not junk.strip()  # accepted: every line was a well-formed record
    assert set(corpus.texts) == {r["class_id"] for r in good}


# ------------------------------------------------------------------ config files
CONFIG_TYPES = {f: type(v) for f, v in Config().to_dict().items()}


@FAST
@given(values=st.dictionaries(st.one_of(st.sampled_from(sorted(CONFIG_TYPES)), st.text(min_size=1, max_size=10)),
                              JSON_VALUE, min_size=1, max_size=4))
def test_config_with_unknown_or_ill_typed_fields(work, values):
    path = scratch(work, ".json")
    path.write_text(json.dumps(values))
    try:
        config = config_module.load(path, config_module.preset("cpu"))
    except GazslError as err:
        assert_one_line(err, path)
        first = next(iter(values))  # fields are checked in file order
        if first not in CONFIG_TYPES:
            assert f"unknown config field '{first}'" in str(err)
        return
    assert all(k in CONFIG_TYPES for k in values)
    for key, value in config.to_dict().items():
        assert type(value) is CONFIG_TYPES[key], key
        if isinstance(value, float):
            assert np.isfinite(value), key


def test_config_is_checked_when_made():
    with pytest.raises(GazslError, match=r"^Config: field 'classifier' must be one of .*, got 'svm'$"):
        config_module.preset("cpu").replace(classifier="svm")  # not at the first evaluation, minutes later
    with pytest.raises(GazslError, match="^Config: field 'batch_size' must be int, got '8'$"):
        Config(batch_size="8")
    with pytest.raises(GazslError, match="^Config: field 'lr' must be a finite number"):
        Config(lr=float("nan"))
    assert type(Config(lr=1).lr) is float  # an int where a float is meant, as in a JSON file


@pytest.mark.parametrize("text, needle", [
    ('{"lr": NaN}', "'lr' must be a finite number"),
    ('{"gp_lambda": Infinity}', "'gp_lambda' must be a finite number"),
    ('{"beta1": 5.0}', "'beta1' must be in [0, 1)"),
    ('{"device": "tpu"}', "'device' must be one of"),
    ('{"iterations": 1.5}', "'iterations' must be int"),
    ('{"fast_step": 1}', "'fast_step' must be bool"),
    ('{"lr": 1e-3,}', "[line 1]: invalid JSON"),
    ('[1, 2]', "one JSON object"),
])
def test_config_values_that_would_crash_or_go_nan_later(tmp_path, text, needle):
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(GazslError) as err:
        config_module.load(path, config_module.preset("cpu"))
    assert_one_line(err.value, path, needle)


# ------------------------------------------------------------------ release files (.mat, .pkl, .npz)
def _mat_bytes(tmp: Path, compress: bool) -> bytes:
    path = tmp / "split.mat"
    scipy.io.savemat(path, {"train_cid": np.arange(1, 7)[None], "test_cid": np.arange(7, 9)[None]}, do_compression=compress)
    return path.read_bytes()


@FAST
@given(cut=st.floats(0, 1, exclude_max=True), compress=st.booleans())
def test_truncated_mat_refused_or_whole(tmp_path, work, cut, compress):
    from gazsl.datasets.release import load_split

    data = _mat_bytes(tmp_path, compress)
    bad = scratch(work, ".mat")
    bad.write_bytes(data[: int(cut * len(data))])
    try:
        train, test = load_split(bad, 8, 6, 2)
    except GazslError as err:
        assert_one_line(err, bad)
        return
    assert train.tolist() == list(range(1, 7)) and test.tolist() == [7, 8]


@FAST
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=3))
def test_corrupt_mat_gives_one_line_or_checked_values(tmp_path, work, flips):
    """No checksum in MATLAB v5: a flip may change a value, but never into an unchecked one or a traceback."""
    from gazsl.datasets.release import load_split

    data = bytearray(_mat_bytes(tmp_path, compress=True))
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    bad = scratch(work, ".mat")
    bad.write_bytes(bytes(data))
    try:
        train, test = load_split(bad, 8, 6, 2)
    except GazslError as err:
        assert_one_line(err, bad)
        return
    assert sorted(train.tolist() + test.tolist()) == list(range(1, 9))


def test_truncated_mat73_is_refused(tmp_path):
    from gazsl.store.readers import load_mat

    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("pfc_feat", data=np.ones((3, 40), np.float32))
    data = path.read_bytes()
    for cut in (600, len(data) // 2, len(data) - 8):
        (tmp_path / "cut.mat").write_bytes(data[:cut])
        with pytest.raises(GazslError) as err:
            load_mat(tmp_path / "cut.mat", "pfc_feat")
        assert_one_line(err.value, tmp_path / "cut.mat", "truncated or not a MATLAB")


LABELS = np.array([0, 1, 2, 1, 0, 2, 2, 1], dtype=np.int64)


@FAST
@given(cut=st.floats(0, 1, exclude_max=True), as_list=st.booleans(), protocol=st.sampled_from([2, 4]))
def test_truncated_label_pickle_is_refused(work, cut, as_list, protocol):
    from gazsl.store.readers import load_labels

    data = pickle.dumps(LABELS.tolist() if as_list else LABELS, protocol=protocol)
    bad = scratch(work, ".pkl")
    bad.write_bytes(data[: int(cut * len(data))])
    with pytest.raises(GazslError) as err:
        load_labels(bad)
    assert_one_line(err.value, bad)


@FAST
@given(value=st.one_of(JSON_VALUE, hnp.arrays(dtype=st.sampled_from([np.float64, np.int32, np.bool_, np.uint8]),
                                               shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=5))))
def test_label_pickle_of_the_wrong_kind(work, value):
    from gazsl.store.readers import load_labels

    bad = scratch(work, ".pkl")
    bad.write_bytes(pickle.dumps(value, protocol=2))
    try:
        labels = load_labels(bad)
    except GazslError as err:
        assert_one_line(err, bad)
        return
    assert labels.dtype == np.int64 and labels.ndim == 1 and labels.size > 0
    assert np.array_equal(labels, np.asarray(value))


def _npz_bytes(tmp: Path) -> bytes:
    path = tmp / "feat.npz"
    np.savez(path, features=np.arange(12, dtype=np.float16).reshape(4, 3), label=np.array([0, 1, 0, 1]),
             class_names=np.array(["A", "B"]), paths=np.array(["A/1.jpg", "B/1.jpg", "A/2.jpg", "B/2.jpg"]))
    return path.read_bytes()


@FAST
@given(cut=st.floats(0, 1, exclude_max=True))
def test_truncated_npz_is_refused(tmp_path, work, cut):
    from gazsl.vision.backbone import read_feature_npz

    data = _npz_bytes(tmp_path)
    bad = scratch(work, ".npz")
    bad.write_bytes(data[: int(cut * len(data))])
    with pytest.raises(GazslError) as err:
        read_feature_npz(bad)
    assert_one_line(err.value, bad)


@FAST
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=2))
def test_corrupt_npz_refused_or_the_same(tmp_path, work, flips):
    """Zip members carry CRC-32s: a flip is an error or lands where it changes nothing that is read."""
    from gazsl.vision.backbone import read_feature_npz

    data = bytearray(_npz_bytes(tmp_path))
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    bad = scratch(work, ".npz")
    bad.write_bytes(bytes(data))
    try:
        got = read_feature_npz(bad)
    except GazslError as err:
        assert_one_line(err, bad)
        return
    assert np.array_equal(got["features"], np.arange(12).reshape(4, 3)) and got["label"].tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize("change, needle", [
    ({"features": np.full((4, 3), np.nan, np.float32)}, "[features]: non-finite"),
    ({"label": np.array([0, 1, 0, 7])}, "[label]: label out of range"),
    ({"label": np.array([0.0, 1.0, 0.0, 1.0])}, "integer labels"),
    ({"features": np.array([["a"] * 3] * 4)}, "float features"),
    ({"features": np.zeros((4,), np.float32)}, "do not agree"),
])
def test_npz_wrong_values_dtypes_shapes(tmp_path, change, needle):
    from gazsl.vision.backbone import read_feature_npz

    arrays = dict(features=np.ones((4, 3), np.float32), label=np.array([0, 1, 0, 1]), class_names=np.array(["A", "B"]),
                  paths=np.array(["A/1.jpg", "B/1.jpg", "A/2.jpg", "B/2.jpg"]), **{})
    arrays.update(change)
    path = tmp_path / "f.npz"
    np.savez(path, **arrays)
    with pytest.raises(GazslError) as err:
        read_feature_npz(path)
    assert_one_line(err.value, path, needle)


def test_non_utf8_class_list_is_refused(tmp_path):
    from gazsl.datasets.release import read_cub_class_names

    path = tmp_path / "classes.txt"
    path.write_bytes(b"1 001.Black_footed_Albatross\n2 002.Laysan\xff_Albatross\n")
    with pytest.raises(GazslError) as err:
        read_cub_class_names(path)
    assert_one_line(err.value, path, "cannot read")


# ------------------------------------------------------------------ text encoding
def test_article_with_no_terms_is_refused_not_a_zero_vector(tmp_path):
    from gazsl.documents.encoders import encode_tfidf

    (tmp_path / "1.Red_Bird.txt").write_text("1 a small red bird with black wings\n")
    (tmp_path / "2.Odd_Bird.txt").write_text("1 the of and 1887\n")  # only stop words and a number
    with pytest.raises(GazslError) as err:
        encode_tfidf(read_corpus(tmp_path), [1, 2])
    assert_one_line(err.value, tmp_path / "2.Odd_Bird.txt", "no term")
    (tmp_path / "1.Red_Bird.txt").write_text("1 the and of\n")
    with pytest.raises(GazslError) as err:
        encode_tfidf(read_corpus(tmp_path), [1, 2])
    assert_one_line(err.value, tmp_path, "no terms")


# ------------------------------------------------------------------ the CLIs: exit code 2 and one line
def test_train_cli_unknown_split_encoder_and_corrupt_checkpoint(small_store, tmp_path, capsys):
    from gazsl.train import main

    base = ["--store", str(small_store), "--iters", "0", "--out", str(tmp_path / "run")]
    assert "unknown split 'toy_medium' (available: toy_easy)" in cli_error_line(capsys, main, base + ["--split", "toy_medium"])
    assert "no text vectors for encoder 'nope'" in cli_error_line(capsys, main, base + ["--split", "toy_easy", "--text", "nope"])
    absent = ["--store", str(tmp_path / "absent.h5"), "--split", "toy_easy", "--out", str(tmp_path / "run")]
    assert f"{tmp_path / 'absent.h5'}: feature store not found" in cli_error_line(capsys, main, absent)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint_select.pt").write_bytes(b"PK\x03\x04 torn")
    err = cli_error_line(capsys, main, base + ["--split", "toy_easy", "--resume"], after_progress=True)
    assert "checkpoint_select.pt: unreadable checkpoint" in err


def test_text_cli_unknown_encoder(small_store, tmp_path, capsys):
    from gazsl.text import main

    (tmp_path / "1.A.txt").write_text("1 bird\n")
    err = cli_error_line(capsys, main, ["encode", "--corpus", str(tmp_path), "--store", str(small_store), "--encoder", "nope"])
    assert "unknown encoder 'nope'" in err


def test_cli_exit_code_in_a_real_process(tmp_path):
    """The same path end to end in a fresh interpreter: exit status 2, one line, no traceback."""
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 40)
    from test_run_safety import DEFAULT_THREADS_ENV  # the thread count a user gets

    result = subprocess.run([sys.executable, "-m", "gazsl.text", "encode", "--corpus", str(tmp_path), "--store", str(bad)],
                            capture_output=True, text=True, timeout=120, env=DEFAULT_THREADS_ENV)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert str(bad) in result.stderr and "not a readable HDF5 file" in result.stderr
