"""Errors users can act on, and writes that never leave a half-written file."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator


class GazslError(ValueError):
    """A problem with the user's input: shown as one line, CLI exit code 2.

    A ValueError, as scikit-learn and numpy raise for a bad argument, so that code written for any estimator
    (``except ValueError``) catches a bad hyper-parameter or input of ours too.
    """


def data_error(path, problem: str, key: str | None = None) -> GazslError:
    where = f"{path}" + (f" [{key}]" if key else "")
    return GazslError(f"{where}: {problem}")


def one_line(err: Exception, limit: int = 200) -> str:
    """An exception as one short line, for a message that names its cause: library messages can run over several lines."""
    text = f"{type(err).__name__}: {' '.join(str(err).split())}"
    return text if len(text) <= limit else text[:limit] + " ..."


def read_utf8(path, what: str) -> str:
    """The text of ``path``; a missing, unreadable or non-UTF-8 file is a GazslError naming it and ``what`` it is."""
    path = Path(path)
    if not path.exists():
        raise data_error(path, f"{what} not found")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise data_error(path, f"cannot read {what}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise data_error(path, f"cannot read {what} ({err.strerror})") from None


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    A writer killed half-way leaves the previous ``path`` untouched (only a
    stray ``.tmp`` file that the next write replaces). A write that fails for
    the disk's sake (no space, no permission, read-only) becomes a GazslError
    naming ``path``, with the previous file still in place.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the result gets a plain file's mode
        os.replace(tmp, path)
    except OSError as err:
        if err.errno not in WRITE_ERRORS:
            raise
        kept = "the previous file is intact" if path.exists() else "nothing was written"
        raise data_error(path, f"cannot write ({os.strerror(err.errno)}); {kept}") from None
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()


# What a full, read-only or forbidden disk raises: the user's to fix, not a bug to trace.
WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG})


def write_text_atomic(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def sha256_file(path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run a CLI entry point: a GazslError becomes one line on stderr and exit code 2; a run stopped by SIGTERM or
    SIGINT (``gazsl.interrupt.Interrupted``, its checkpoint written) one line naming the command that resumes it,
    and 143 or 130. A table command resumes by being run again: its cells reuse finished runs and resume the others."""
    from gazsl.interrupt import Interrupted

    try:
        code = main(argv)
    except GazslError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as stop:
        spec = sys.modules["__main__"].__spec__  # python -m gazsl.<command>; None for a script (experiments/*.py)
        program = ["-m", main.__module__] if main.__module__ != "__main__" else (
            ["-m", spec.name] if spec is not None else [sys.argv[0]])
        command = shlex.join(["python", *program, *(sys.argv[1:] if argv is None else argv)])
        print(f"{stop}; resume with: {command}", file=sys.stderr)
        sys.exit(stop.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        output_closed()
    sys.exit(code or 0)


def output_closed() -> None:
    """The reader of our output went away (``gazsl --help | head``): stop quietly, as a shell tool does. What is
    still buffered goes to /dev/null, so that Python's own flush at exit does not fail again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(141)  # 128 + SIGPIPE, what a shell reports for a tool stopped by a closed pipe


@contextlib.contextmanager
def exclusive_lock(path, what: str, wait: bool = False) -> Iterator[None]:
    """Hold ``path`` as a lock for the ``with`` block: one writer of ``what`` at a time.

    A second process gets a GazslError naming the holder, or with ``wait``
    blocks until the holder is done.

    The lock is the kernel's (flock), so it dies with its process, SIGKILL
    included; the file names the holder (pid, host, command) for the message
    the next process gets. A file left with a holder in it by a process that is
    gone is taken over, with a note on stderr.
    """
    import fcntl
    import socket
    import time

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = _describe_holder(f.read())
        if not wait:
            f.close()
            raise data_error(path, f"{what} is in use by {holder}; wait for it to finish or use another folder") from None
        print(f"waiting for {what}, in use by {holder}", file=sys.stderr)
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
    f.seek(0)
    previous = f.read().strip()
    if previous:
        print(f"note: {path}: taking over the lock of {_describe_holder(previous)}, which is gone", file=sys.stderr)
    f.seek(0)
    f.truncate()
    f.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                        "command": " ".join(sys.argv)}) + "\n")
    f.flush()
    try:
        yield
    finally:
        f.seek(0)
        f.truncate()  # an empty lock file: released in good order
        f.close()


def _describe_holder(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"process {holder['pid']} on {holder['host']} (since {holder['started']}: {holder['command']})"
    except (ValueError, KeyError, TypeError):
        return "another process"


def writable_dir(path, what: str) -> Path:
    """``path`` as a folder this process can create or write in, checked before any work; else a GazslError naming it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise data_error(path, f"{what} must be a folder, but this is a file")
    _check_can_write_in(path, path, what)
    return path


def writable_file(path, what: str) -> Path:
    """``path`` as a file this process can write (atomically, beside it), checked before any work; else a GazslError."""
    path = Path(path)
    if path.is_dir():
        raise data_error(path, f"{what} must be a file, but this is a folder")
    _check_can_write_in(path.parent, path, what)
    return path


def _check_can_write_in(folder: Path, named: Path, what: str) -> None:
    """Raise a GazslError naming ``named`` unless ``folder`` exists or can be made, and takes a new file.

    Nothing is left behind: a probe file is made in the nearest folder that exists and removed. The probe is what
    decides, because permission bits say nothing to root and a special file system (/proc) passes ``os.access`` but
    refuses every file.
    """
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise data_error(named, f"cannot create {what}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise data_error(named, f"cannot write {what}: {existing} is not writable")
    try:
        fd, probe = tempfile.mkstemp(prefix=".gazsl-write-check.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise data_error(named, f"cannot write {what} in {existing} ({err.strerror})") from None


def readable_path(path, what: str, kind: str = "file") -> Path:
    """``path`` as an existing, readable ``kind`` ("file", "folder" or "any"); else a GazslError naming it."""
    path = Path(path)
    if not path.exists():
        raise data_error(path, f"{what} not found")
    if kind == "file" and path.is_dir():
        raise data_error(path, f"{what} must be a file, but this is a folder")
    if kind == "folder" and not path.is_dir():
        raise data_error(path, f"{what} must be a folder, but this is a file")
    try:
        if path.is_dir():
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read(1)
    except OSError as err:
        raise data_error(path, f"cannot read {what} ({err.strerror})") from None
    return path
