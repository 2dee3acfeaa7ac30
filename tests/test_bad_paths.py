"""Bad paths given to gazsl.train and gazsl.predict: one line naming the path and the problem, exit 2, nothing written.

Tests run as root, where permission bits stop no write: the unwritable places used here are ones that refuse root too
(/proc, a file where a folder is needed, a read-only file system's refusal). The checks run before any work, so predict is given a dummy model file.
"""

import errno
import os
import tempfile
from pathlib import Path

import pytest

from conftest import cli_error_line
from gazsl import predict, train
from gazsl.io import GazslError, readable_path, writable_dir, writable_file


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def world(tmp_path):
    (tmp_path / "photo.jpg").write_bytes(b"not really a photo")
    (tmp_path / "model.gazsl").write_bytes(b"not really a model")
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "5.Orange_Bird.txt").write_text("An orange bird.")
    return tmp_path


@pytest.mark.parametrize("out, problem", [
    ("{d}/photo.jpg", "must be a folder, but this is a file"),
    ("{d}/photo.jpg/run", "photo.jpg is a file, not a folder"),
    ("/proc/gazsl-test/run", "cannot write run folder (--out) in /proc"),
])
def test_train_refuses_an_out_it_cannot_write(world, toy_store, capsys, out, problem):
    out = out.format(d=world)
    before = listing(world)
    line = cli_error_line(capsys, train.main, ["--split", "toy_easy", "--store", str(toy_store), "--out", out])
    assert line.startswith(f"error: {out}: ") and problem in line
    assert listing(world) == before


def test_train_refuses_a_store_or_config_that_is_a_folder(world, capsys):
    line = cli_error_line(capsys, train.main, ["--split", "toy_easy", "--store", str(world), "--out", str(world / "r")])
    assert line == f"error: {world}: feature store (--store) must be a file, but this is a folder"
    line = cli_error_line(capsys, train.main, ["--split", "toy_easy", "--config", str(world), "--out", str(world / "r")])
    assert line == f"error: {world}: config file (--config) must be a file, but this is a folder"
    assert not (world / "r").exists()


@pytest.mark.parametrize("out, problem", [
    ("{d}/photo.jpg/pred.csv", "photo.jpg is a file, not a folder"),
    ("{d}/articles", "predictions file (--out) must be a file, but this is a folder"),
    ("/proc/gazsl-test/pred.csv", "in /proc"),
])
def test_predict_refuses_an_out_it_cannot_write(world, capsys, out, problem):
    out = out.format(d=world)
    before = listing(world)
    line = cli_error_line(capsys, predict.main, ["--model", str(world / "model.gazsl"), "--classes", str(world / "articles"),
                                                 "--images", str(world / "photo.jpg"), "--out", out])
    assert line.startswith(f"error: {out}: ") and problem in line
    assert listing(world) == before


@pytest.fixture(params=["file system", "permissions"])
def read_only(request, world, monkeypatch):
    """A folder ``RO`` in ``world`` that takes no new file: a read-only file system (mounting one needs privileges a
    test lacks, so its refusal, EROFS, is what the write probe meets there) or permission bits (where they count)."""
    folder = world / "RO"
    folder.mkdir()
    if request.param == "file system":
        real = tempfile.mkstemp

        def mkstemp(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == folder:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            return real(*args, dir=dir, **kwargs)
        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        return folder
    folder.chmod(0o555)
    request.addfinalizer(lambda: folder.chmod(0o755))
    if os.access(folder, os.W_OK):
        pytest.skip("running as root: permission bits do not stop writes")
    return folder


@pytest.mark.parametrize("below", ["run", ""])  # --out RO/run, and --out RO itself (which once failed taking its lock)
def test_train_refuses_a_read_only_out(world, toy_store, read_only, capsys, below):
    out = str(read_only / below)  # Path / "" is the folder itself
    before = listing(world)
    line = cli_error_line(capsys, train.main, ["--split", "toy_easy", "--store", str(toy_store), "--out", out])
    assert line.startswith(f"error: {out}: cannot write run folder (--out)") and str(read_only) in line, line
    assert listing(world) == before


def test_predict_refuses_a_read_only_out(world, read_only, capsys):
    out = str(read_only / "pred.csv")
    before = listing(world)
    line = cli_error_line(capsys, predict.main, ["--model", str(world / "model.gazsl"), "--classes", str(world / "articles"),
                                                 "--images", str(world / "photo.jpg"), "--out", out])
    assert line.startswith(f"error: {out}: cannot write predictions file (--out)") and str(read_only) in line, line
    assert listing(world) == before


@pytest.mark.parametrize("flag, value, problem", [
    ("--model", "articles", "model file (--model) must be a file, but this is a folder"),
    ("--model", "missing.gazsl", "model file (--model) not found"),
    ("--classes", "missing", "class articles (--classes) not found"),
    ("--images", "missing.jpg", "image or folder (--images) not found"),
])
def test_predict_refuses_inputs_it_cannot_read(world, capsys, flag, value, problem):
    argv = {"--model": str(world / "model.gazsl"), "--classes": str(world / "articles"), "--images": str(world / "photo.jpg")}
    argv[flag] = str(world / value)
    line = cli_error_line(capsys, predict.main, [a for pair in argv.items() for a in pair])
    assert line == f"error: {world / value}: {problem}"


def test_unreadable_file_is_refused_where_permissions_count(tmp_path):
    secret = tmp_path / "secret.gazsl"
    secret.write_bytes(b"x")
    secret.chmod(0)
    if os.access(secret, os.R_OK):
        pytest.skip("running as root: permission bits do not stop reads")
    with pytest.raises(GazslError, match="cannot read"):
        readable_path(secret, "model file")


def test_writable_checks_leave_nothing_behind(tmp_path):
    assert writable_dir(tmp_path / "a" / "b", "run folder") == tmp_path / "a" / "b"
    assert writable_file(tmp_path / "c" / "pred.csv", "predictions file") == tmp_path / "c" / "pred.csv"
    assert listing(tmp_path) == []
