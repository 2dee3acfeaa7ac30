"""The cross-validated benchmark (design: experiments/benchmark.json): cells, runs and its table.

    gazsl benchmark run --protocols cub100_scs cub100_sce --jobs 2   # every missing cell, then the table
    gazsl benchmark list                                             # one command per cell (Slurm, GNU parallel)
    gazsl benchmark cell --protocol cub100_scs --repeat 0 --fold 3 --method gazsl --seed 0
    gazsl benchmark table                                            # collect finished cells; names missing ones
    gazsl benchmark export experiments/results/cells.json              # the finished cells so far, for restore
    gazsl benchmark restore experiments/results/benchmark.json        # a results file's cells back as finished cells
    gazsl benchmark render experiments/results/benchmark.json         # rewrite a results file's tables from its cells

Each cell (protocol, repeat, fold, method, seed) is independent and locks its own folder, so cells can run on
several machines that share the runs folder; ``table`` writes experiments/results/benchmark.md, .json and
benchmark_forest.png once every cell of the chosen protocols is finished.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from gazsl.io import GazslError, write_json_atomic, write_text_atomic
from gazsl.progress import Progress
from gazsl.protocols import benchmark as bm
from gazsl.protocols.cells import run_cells as run_cells_of_table

RESULTS = Path("experiments/results")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gazsl benchmark", description=__doc__.split("\n\n")[0])
    p.add_argument("--design", type=Path, default=bm.DESIGN, help="the benchmark's design (JSON)")
    p.add_argument("--runs", type=Path, default=bm.RUNS, help="where cells leave their records and runs")
    sub = p.add_subparsers(dest="action", required=True)
    for name, what in (("list", "print the command of every cell, one per line"),
                       ("run", "run every missing cell (--jobs at a time), then write the table"),
                       ("table", "write the table from the finished cells; name the missing ones")):
        s = sub.add_parser(name, help=what)
        s.add_argument("--protocols", nargs="+", help="benchmark protocols (default: all of the design)")
        if name != "list":
            s.add_argument("--results", type=Path, default=RESULTS, help="where the table goes")
        if name == "run":
            s.add_argument("--jobs", type=int, default=1, help="cells run at once (each gets cores / jobs threads)")
    x = sub.add_parser("export", help="write the finished cells and the design to a file that restore reads: a "
                       "benchmark carried to another machine or session before every cell has run")
    x.add_argument("cells_file", type=Path)
    x.add_argument("--protocols", nargs="+", help="benchmark protocols (default: all of the design)")
    r = sub.add_parser("restore", help="write the cells of a results file (benchmark.json, or one that export wrote) "
                       "back into the runs folder, where the design and store still define them the same way")
    r.add_argument("results_file", type=Path)
    d = sub.add_parser("render", help="rewrite benchmark.md, .json and the forest plot from the cells and design a "
                       "results file holds (no store, no run; its command kept)")
    d.add_argument("results_file", type=Path)
    d.add_argument("--results", type=Path, help="where the table goes (default: the results file's folder)")
    c = sub.add_parser("cell", help="run one cell (or reuse it when finished)")
    c.add_argument("--protocol", required=True)
    c.add_argument("--repeat", type=int, required=True)
    c.add_argument("--fold", type=int, required=True)
    c.add_argument("--method", required=True)
    c.add_argument("--seed", type=int, default=0)
    return p


def run_cells(todo: list[bm.Cell], design: Path, runs: Path, jobs: int) -> None:
    """Every cell of ``todo``, ``jobs`` at a time; SIGTERM or Ctrl-C stops them as it stops every table command."""
    with Progress("benchmark cells", len(todo), unit="cell") as progress:
        def done(task: tuple) -> None:
            print(f"done: {task[0].command(design, runs)}", file=sys.stderr, flush=True)
            progress.update()

        # no lock on the runs folder: each cell locks its own, so that machines sharing it can run cells at once
        run_cells_of_table([(cell,) for cell in todo], runs, design, jobs, run=run_one, lock=False, on_done=done)


def run_one(cell: bm.Cell, runs: Path, design: Path, threads: int | None = None) -> dict:
    """One cell, as ``gazsl.protocols.cells.run_cells`` calls it (module-level: worker processes import it)."""
    print(f"+ {cell.command(design, runs)}", file=sys.stderr, flush=True)
    return bm.run_cell(cell, design, runs, threads)


def write_table(design_path: Path, design: dict, runs: Path, protocols: list[str] | None, results: Path,
                command: str) -> str:
    found, missing = bm.collect(design, runs, protocols)
    if missing:
        for cell in missing:
            print(cell.command(design_path, runs))
        raise GazslError(f"{runs}: {len(missing)} of {len(found) + len(missing)} benchmark cells are missing (their "
                         "commands are listed above); run them, then the table again")
    return write_results(design_path, design, found, protocols or list(design["protocols"]), results, command)


def cell_entries(found: dict) -> list[dict]:
    """The finished cells as a results file holds them, and as ``restore`` reads them: each record with its cell."""
    return [{"cell": vars(c), **record} for c, record in sorted(found.items())]


def write_results(design_path: Path, design: dict, found: dict, protocols: list[str], results: Path,
                  command: str) -> str:
    """benchmark.md, benchmark.json and benchmark_forest.png of the finished cells ``found``; returns the verdict and
    the tables."""
    from gazsl.protocols import benchmark_table as bt

    summaries = {p: bt.protocol_summary(design, found, p) for p in protocols}
    text = "\n\n".join(bt.protocol_table(design, p, s) for p, s in summaries.items())
    bt.forest_plot(design, summaries, results / "benchmark_forest.png")
    write_json_atomic(results / "benchmark.json", {
        "command": command, "recommended": design["recommended"]["method"], "design": design,
        "protocols": summaries,
        "cells": cell_entries(found)})
    figures = " and ".join(bt.FIGURES[k][0] for k in design["claim_figures"])
    write_text_atomic(results / "benchmark.md", (
        f"# Cross-validated benchmark\n\n{bt.verdict(design, summaries)}\n\nMade by:\n\n```bash\n{command}\n```\n\n"
        f"Design, pre-registered before the first cell: `{design_path}`. {design['claim']} Every fold is an ordinary "
        "split under the honest protocol: its unseen classes are one fold of the classes, and each method's settings "
        f"(GAZSL's iteration count per classifier, the baselines' hyper-parameters, every GZSL calibration) are chosen "
        f"on the mean over {design['validation_folds']} disjoint validation folds of its seen classes, with models "
        "fitted on the seen classes minus each; no choice sees an unseen class. Figures: top-1 % per sample over the "
        "fold's unseen classes, averaged over seeds. Intervals: paired over the same folds, "
        f"{design['interval']}. Per-fold figures and every cell's chosen settings: `benchmark.json`; the forest "
        f"plot: `benchmark_forest.png`."
        + ("" if design["claim_figures"] == ["zsl_top1"] else f" The claim is decided on {figures} (`claim_figures`).")
        + f"\n\n{text}\n"))
    return f"{bt.verdict(design, summaries)}\n\n{text}"


def render(design_path: Path, stored_path: Path, results: Path | None) -> str:
    """The tables of a results file (``benchmark.json``) rewritten from the cells it holds, under the design file
    ``design_path`` (which must be the design the file was made with: the file keeps its keys sorted, the design
    file gives the table its order)."""
    import json

    from gazsl.io import data_error, one_line

    design = bm.read_design(design_path)
    try:
        stored = json.loads(Path(stored_path).read_text(encoding="utf-8"))
        found = {bm.Cell(**entry["cell"]): {k: v for k, v in entry.items() if k != "cell"} for entry in stored["cells"]}
        made_with, command, protocols = stored["design"], stored["command"], list(stored["protocols"])
        made_with.setdefault("methods", {})
        made_with.setdefault("claim_figures", ["zsl_top1"])
    except FileNotFoundError:
        raise data_error(stored_path, "benchmark results not found") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise data_error(stored_path, f"not a benchmark results file ({one_line(err, 120)})") from None
    if made_with != design:
        changed = sorted(k for k in design.keys() | made_with.keys() if design.get(k) != made_with.get(k))
        raise data_error(stored_path, f"made with another design than {design_path} (they differ in {changed})")
    protocols = [p for p in design["protocols"] if p in protocols]
    found = {c: found[c] for c in bm.cells(design, protocols) if c in found}  # the order the table command collects in
    return write_results(design_path, design, found, protocols, results or Path(stored_path).parent, command)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    command = "gazsl benchmark " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    if args.action == "render":
        print(render(args.design, args.results_file, args.results))
        return 0
    design = bm.read_design(args.design)
    if args.action == "cell":
        cell = bm.Cell(args.protocol, args.repeat, args.fold, args.method, args.seed)
        if cell not in bm.cells(design):
            raise GazslError(f"{args.design}: no such benchmark cell ({cell.command(args.design, args.runs)}); "
                             "`gazsl benchmark list` prints them")
        record = bm.run_cell(cell, args.design, args.runs)
        for row, figures in record["rows"].items():
            print(f"{row}: top-1 {figures['zsl_top1']:.1f}%, validation top-1 per class "
                  f"{figures['val_top1_per_class']:.1f}%")
        return 0
    if args.action == "restore":
        restored, present, left_out = bm.restore_cells(design, args.results_file, args.runs)
        print(f"{args.runs}: {restored} cell(s) restored from {args.results_file}, {present} already there"
              + (f", {left_out} left out (protocols or methods the design does not have)" if left_out else ""))
        return 0
    if args.action == "export":
        found, missing = bm.collect(design, args.runs, args.protocols)
        write_json_atomic(args.cells_file, {"command": command, "design": design, "cells": cell_entries(found)})
        print(f"{args.cells_file}: {len(found)} of {len(found) + len(missing)} cells finished; `gazsl benchmark "
              f"--design {args.design} restore {args.cells_file}` brings them back")
        return 0
    todo = bm.cells(design, args.protocols)
    if args.action == "list":
        print("\n".join(cell.command(args.design, args.runs) for cell in todo))
        return 0
    if args.action == "run":
        _, missing = bm.collect(design, args.runs, args.protocols)
        run_cells(missing, args.design, args.runs, args.jobs)
    print(write_table(args.design, design, args.runs, args.protocols, args.results, command))
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
