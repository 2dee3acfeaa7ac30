"""The ``gazsl`` command: ``gazsl <command> [args]`` runs ``python -m gazsl.<command> [args]``.

    gazsl --help                 # the commands, one line each
    gazsl train --split aviary_easy
    gazsl predict --help
"""

from __future__ import annotations

import importlib
import sys

# command -> what it does; each is the module gazsl.<command> with a main(argv), imported only when run (most pull in
# torch, which `gazsl --help` does not need)
COMMANDS = {
    "train": "train GAZSL on one split under a protocol; metrics and model in a run folder",
    "predict": "rank the classes of new photographs from the classes' articles",
    "serve": "a page on localhost to try a model: drop photographs, add classes from articles",
    "data": "build feature stores from CUB / NABirds folders, your own class folders or the GAZSL release; extract image features",
    "text": "encode class documents into text vectors of a store, or import class vectors made elsewhere",
    "aviary": "build the embedded synthetic aviary",
    "reproduce": "multi-seed result tables under both protocols",
    "leaderboard": "every method and generator switch under the honest protocol",
    "tune": "tune a method's settings on validation classes (Optuna)",
    "benchmark": "the cross-validated benchmark over class folds: cells, runs, paired intervals",
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, what in COMMANDS.items()]
    return ("usage: gazsl <command> [args]   (the same as python -m gazsl.<command> [args])\n\ncommands:\n"
            + "\n".join(lines) + "\n\n`gazsl <command> --help` describes a command's arguments.")


def main(argv: list[str] | None = None) -> None:
    from gazsl.io import output_closed, run_cli

    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        try:
            print(usage(), flush=True)
        except BrokenPipeError:
            output_closed()
        sys.exit(0 if argv else 2)
    if argv[0] in ("-V", "--version"):
        from gazsl.version import __version__

        print(f"gazsl {__version__}")
        sys.exit(0)
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command '{name}' (available: {', '.join(COMMANDS)}); see gazsl --help", file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(f"gazsl.{name}")
    sys.argv[0] = f"gazsl {name}"  # argparse's usage lines name the command as typed
    run_cli(module.main, rest)


if __name__ == "__main__":
    main()
