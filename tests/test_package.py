"""The package as people install it: ``python -m build`` makes an sdist and, from it, a wheel; the wheel, installed
into a fresh virtual environment outside the repository, trains on the aviary and serves its page.

What this proves is that the package's files ship: the data that is not Python (the dataset facts, the tuning
spaces, the page's assets) and the ``gazsl`` command. So the environment holds the wheel alone as gazsl, with no
source tree on ``sys.path`` (no PYTHONPATH, no editable install, a working folder outside the clone), and the
test checks where ``gazsl`` is imported from. Its dependencies (torch, numpy, ...) are not the question and would
take minutes to install: a ``.pth`` file makes the running environment's site-packages readable after the fresh
environment's own, as plain folders, so that environment's own ``.pth`` files (an editable gazsl among them) are
not run. That the declared dependencies install is what ``pip install -e ".[test]"`` of ``.ci/run`` shows.
"""

import json
import os
import shutil
import site
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from test_serve import free_port

REPO = Path(__file__).resolve().parents[1]
ITERATIONS = 30  # a few seconds: the point is that training runs from the installed wheel, not how well

pytestmark = pytest.mark.package


def version() -> str:
    namespace: dict = {}
    exec((REPO / "src" / "gazsl" / "version.py").read_text(encoding="utf-8"), namespace)
    return namespace["__version__"]


def clone_files(destination: Path) -> None:
    """The files a clone of the working tree holds (tracked, and new ones git does not ignore), copied."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout to know which files a clone holds")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():  # a deleted, not yet committed file is still listed
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def run(command, cwd: Path, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{command}: exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200, url
        return response.read()


def test_the_wheel_installs_outside_the_repository_trains_and_serves(tmp_path):
    assert REPO not in tmp_path.parents, "the test needs a folder outside the repository"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GAZSL_FEATURES")}
    tree, dist = tmp_path / "clone", tmp_path / "dist"
    clone_files(tree)

    # the sdist, then the wheel built from the unpacked sdist (so the sdist is known to be complete)
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, tree], tmp_path, env)
    v = version()
    wheel, sdist = dist / f"gazsl-{v}-py3-none-any.whl", dist / f"gazsl-{v}.tar.gz"
    assert wheel.exists() and sdist.exists(), sorted(p.name for p in dist.iterdir())
    package_files = {p.relative_to(tree / "src").as_posix() for p in (tree / "src" / "gazsl").rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts}
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("gazsl/")}
    assert shipped == package_files, {"missing": sorted(package_files - shipped), "extra": sorted(shipped - package_files)}
    with tarfile.open(sdist) as archive:
        in_sdist = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"README.md", "pyproject.toml", "CITATION.cff", "CHANGELOG.md"} <= in_sdist, sorted(in_sdist)

    # a fresh environment holding the wheel; the running environment's packages readable after its own
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path, env)
    run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-deps", "--no-index",
         wheel], tmp_path, env)
    (own_site,) = (venv / "lib").glob("python*/site-packages")
    (own_site / "zz_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    work = tmp_path / "work"  # no clone here: the aviary and its corpora are built in this folder
    work.mkdir()
    python, gazsl = venv / "bin" / "python", venv / "bin" / "gazsl"

    where = run([python, "-c", "import gazsl, importlib.metadata as m; print(gazsl.__file__); print(m.version('gazsl'))"],
                work, env).stdout.split()
    assert Path(where[0]).is_relative_to(own_site) and where[1] == v, where
    assert run([gazsl, "--version"], work, env).stdout.strip() == f"gazsl {v}"

    run([gazsl, "train", "--iters", ITERATIONS, "--out", "run"], work, env, timeout=600)
    metrics = json.loads((work / "run" / "metrics.json").read_text())
    assert metrics["versions"]["gazsl"] == v and 0 <= metrics["zsl_top1"] <= 100, metrics.get("versions")
    assert (work / "run" / "model.gazsl").is_file()

    assert "--model" in run([gazsl, "serve", "--help"], work, env).stdout
    port = free_port()
    server = subprocess.Popen([gazsl, "serve", "--model", "run/model.gazsl", "--classes", "text_corpora/aviary_articles",
                               "--port", str(port)], cwd=work, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                page = get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()[-2000:]
                assert time.monotonic() < deadline, "gazsl serve did not answer within 120 s"
                time.sleep(0.5)
        assert page == (tree / "src" / "gazsl" / "serving" / "static" / "index.html").read_bytes()
        for asset in sorted((tree / "src" / "gazsl" / "serving" / "static").iterdir()):  # every asset of the page
            assert get(f"http://127.0.0.1:{port}/static/{asset.name}") == asset.read_bytes(), asset.name
    finally:
        server.terminate()
        server.wait(timeout=30)
