"""The README and the documentation's examples, as a newcomer runs them.

* Every command in a README code block is run: by ``.ci/run`` (the blocks between ``<!-- setup-command -->``,
  ``<!-- test-command -->``, ``<!-- docs-command -->`` and ``<!-- cluster-test-command -->`` markers, which it
  extracts and runs as they are), by a test here (the training command, with ``--iters`` appended), or, where it
  needs real photographs or hours, by a named test that runs the same command with every option the README gives
  it (``COVERED_BY``): a README command none of these runs fails ``test_every_readme_command_is_run``.
* The README's headline table is the one ``experiments/headline.py`` computes from the committed benchmark cells.
* The Python example of docs/getting-started.md, saved beside a clone named ``gazsl`` (the repository's own name,
  which once hid the installed package as a namespace package) and run from that folder, which holds no corpus. Its
  one change, said in the example's own comment: ``iterations=150`` instead of the preset's 600, so that it runs in
  about half a minute.
"""

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import load_experiment
from test_run_safety import DEFAULT_THREADS_ENV

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PRESET = 'gazsl.preset("cpu")'
ITERATIONS = 150  # about 20 s on one core; 40 left it at chance, 150 gives about 40 %
RUN_BY_CI = ("setup-command", "test-command", "docs-command", "cluster-test-command")  # .ci/run's README blocks
TRAIN_HERE = "gazsl train --split aviary_hard --seed 1 --out runs/hard1"  # run by the test below
TRAIN_ITERATIONS = 30
# (command, subcommand) -> the tests that run it, each with the README's options
COVERED_BY = {
    ("data", "build"): ["tests/test_own_classes.py"],
    ("train", None): ["tests/test_own_classes.py", "tests/test_bad_inputs.py"],
    ("predict", None): ["tests/test_own_classes.py"],
    ("serve", None): ["tests/test_serve.py"],
    ("benchmark", "run"): ["tests/test_benchmark.py", "tests/test_table_signals.py"],
    ("benchmark", "table"): ["tests/test_benchmark.py"],
    ("text", "encode"): ["tests/test_sentence_encoder.py"],
}
WITH_SUBCOMMANDS = ("data", "text", "benchmark", "aviary")
# README blocks that are excerpts of a documentation page's worked example, which a test runs as it stands:
# marker -> (the page, the marker of its example's block, the test that runs it)
EXCERPTS = {
    "own-method-example": ("docs/own-method.md", "<!-- example: commands -->", "tests/test_own_method.py"),
    "own-text-example": ("docs/own-text.md", "<!-- own-vectors-example -->", "tests/test_own_vectors.py"),
}


def readme() -> str:
    return README.read_text(encoding="utf-8")


def code_blocks(text: str) -> list[tuple[str | None, list[str]]]:
    """Each ```bash block of the text: the name of the <!-- NAME --> marker around it (or None), its command lines."""
    blocks = []
    for match in re.finditer(r"```bash\n(.*?)```", text, re.S):
        before = text[:match.start()]
        opened = re.findall(r"<!-- ([\w-]+) -->\s*$", before)
        name = opened[0] if opened and f"<!-- /{opened[0]} -->" in text[match.end():match.end() + 40] else None
        lines = [re.sub(r"\s+#.*$", "", line).strip() for line in match.group(1).splitlines()]
        blocks.append((name, [line for line in lines if line and not line.startswith("#")]))
    return blocks


def words(command: str) -> tuple[str, str | None, list[str]]:
    """``gazsl X [Y] --a 1 --b`` -> (X, Y or None, ["--a", "--b"])."""
    tokens = shlex.split(command)
    assert tokens[0] == "gazsl", command
    sub = tokens[2] if tokens[1] in WITH_SUBCOMMANDS else None
    return tokens[1], sub, [t for t in tokens if t.startswith("--")]


def test_every_readme_command_is_run():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    unrun = []
    for name, lines in code_blocks(readme()):
        if name in EXCERPTS:
            page, marker, runner = EXCERPTS[name]
            text = (REPO / page).read_text(encoding="utf-8")
            example = code_blocks(text[text.index(marker):])[0][1]
            assert [line for line in lines if line not in example] == [], f"README's {name} is not {page}'s example"
            assert page in (REPO / runner).read_text(encoding="utf-8"), f"{runner} does not run {page}'s example"
            continue
        if name in RUN_BY_CI:
            assert name in ci, f".ci/run does not run the README's {name} block"
            if name == "docs-command":  # .ci/run appends --site-dir to its one line, so no comment may end it
                raw = re.search(r"<!-- docs-command -->\n```bash\n(.*?)```", readme(), re.S).group(1).splitlines()
                assert len(raw) == 1 and raw[0].endswith("mkdocs build --strict"), raw
            continue
        for line in lines:
            if line == TRAIN_HERE:
                continue
            if line.startswith("pip install -e "):  # an extra that .ci/run's test install holds
                extras = re.fullmatch(r'pip install -e "\.\[([\w,]+)\]"', line).group(1).split(",")
                optional = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
                for extra in extras:
                    assert extra in optional and set(optional[extra]) <= set(optional["test"]), (line, extra)
                continue
            command, sub, options = words(line)
            tests = COVERED_BY.get((command, sub))
            if tests is None:
                unrun.append(line)
                continue
            source = "\n".join((REPO / t).read_text(encoding="utf-8") for t in tests)
            assert f'"{command}"' in source or f"gazsl.{command}" in source, (line, tests)
            assert sub is None or f'"{sub}"' in source, (line, tests)
            missing = [o for o in options if f'"{o}"' not in source]
            assert not missing, f"{line}: no test of {tests} gives {missing}"
    assert not unrun, f"README commands that no test and not .ci/run runs: {unrun}"


def test_the_readme_training_command_runs(tmp_path):
    from gazsl.datasets.aviary_world import ensure_aviary

    assert any(TRAIN_HERE in lines for _, lines in code_blocks(readme()))
    store = ensure_aviary(tmp_path / "features" / "aviary.h5", tmp_path / "text_corpora")
    command = shlex.split(TRAIN_HERE) + ["--iters", str(TRAIN_ITERATIONS)]
    result = subprocess.run([sys.executable, "-m", "gazsl", *command[1:]], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600, env={**DEFAULT_THREADS_ENV, "GAZSL_FEATURES": str(store.parent)})  # the
    # thread count a user gets
    assert result.returncode == 0, result.stderr[-2000:]
    run = tmp_path / "runs" / "hard1"
    metrics = json.loads((run / "metrics.json").read_text())
    assert (metrics["split"], metrics["seed"], metrics["protocol"]) == ("aviary_hard", 1, "honest")
    assert (run / "model.gazsl").is_file() and (run / "tb").is_dir()  # what the README's comment promises


def test_the_readme_headline_table_is_the_benchmarks():
    headline = load_experiment("headline")
    benchmarks = {label: (headline.read_design(REPO / design), json.loads((REPO / results).read_text(encoding="utf-8")))
                  for label, (design, results) in headline.TEXTS.items()}
    texts = headline.text_table(benchmarks)
    marked = re.search(r"<!-- headline-table[^>]*-->\n(.*?)\n<!-- /headline-table -->", readme(), re.S).group(1)
    assert marked == texts
    articles = headline.headline_table(*benchmarks["Wikipedia articles"])
    assert (REPO / headline.OUTPUT).read_text(encoding="utf-8") == headline.page(texts, articles)  # as computed
    assert readme().index("<!-- /headline-table -->") < len("\n".join(readme().splitlines()[:40]))  # first screen


def docs_example() -> str:
    text = (REPO / "docs" / "getting-started.md").read_text(encoding="utf-8")
    start = text.index("In Python, GAZSL is an estimator")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_the_python_example_runs_from_a_folder_beside_the_clone(tmp_path):
    from gazsl.datasets.aviary_world import ensure_aviary

    example = docs_example()
    assert example.count(PRESET) == 1 and f"iterations={ITERATIONS})" in example  # the change the docs announce
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


def test_the_readmes_links_into_the_repository_lead_somewhere():
    """The README's relative links (into docs/, the changelog, the citation, the picture) resolve; mkdocs build
    --strict checks the site's own."""
    targets = re.findall(r"\]\(((?!https?:|#)[^)#]+)", readme())
    assert targets and not [t for t in targets if not (REPO / t).exists()]
