"""The README's Python example, as a newcomer runs it: saved beside a clone named ``gazsl`` (the repository's own
name, which once hid the installed package as a namespace package) and run from that folder, which holds no corpus.

The example is taken from README.md itself, so the two cannot drift apart. Its one change, said in the example's own
comment: ``iterations=150`` instead of the preset's 600, so that it runs in about half a minute.
"""

import re
import subprocess
import sys
from pathlib import Path

from test_run_safety import DEFAULT_THREADS_ENV

REPO = Path(__file__).resolve().parents[1]
PRESET = 'gazsl.preset("cpu")'
ITERATIONS = 150  # about 20 s on one core; 40 left it at chance, 150 gives about 40 %


def readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("In Python, GAZSL is an estimator")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_the_readme_example_runs_from_a_folder_beside_the_clone(tmp_path):
    from gazsl.datasets.aviary_world import ensure_aviary

    example = readme_example()
    assert example.count(PRESET) == 1 and f"iterations={ITERATIONS})" in example  # the change the README announces
    store = ensure_aviary(tmp_path / "store" / "aviary.h5", tmp_path / "store" / "text_corpora")
    work = tmp_path / "work"
    work.mkdir()
    (work / "gazsl").symlink_to(REPO, target_is_directory=True)  # the clone, under its own name
    (work / "example.py").write_text(example.replace(PRESET, f"{PRESET}.replace(iterations={ITERATIONS})"))
    result = subprocess.run([sys.executable, "example.py"], cwd=work, capture_output=True, text=True, timeout=600,
                            env={**DEFAULT_THREADS_ENV, "GAZSL_FEATURES": str(store.parent)})  # as a user runs it
    assert result.returncode == 0, result.stderr[-2000:]
    top1 = re.fullmatch(r"top-1 (\d+\.\d)%", result.stdout.strip().splitlines()[-1])
    # far above chance (100/31 = 3.2 % among the 31 unseen species): the example trains and predicts, not only runs
    assert top1 and 5 * 100 / 31 < float(top1.group(1)) <= 100, result.stdout
    # it read no corpus from the working folder, and wrote there only the model it saves
    assert sorted(p.name for p in work.iterdir()) == ["aviary.gazsl", "example.py", "gazsl"]
