"""One table of every method and generator switch, all under the honest protocol.

    python -m gazsl.leaderboard --splits cub100_easy cub100_hard aviary_easy aviary_hard --seeds 3 --jobs 4
    python -m gazsl.leaderboard --render-only     # rewrite the tables and plots from leaderboard.json, no run

The methods, their runs, the baselines' protocol and the tables: ``gazsl.protocols.leaderboard``. Writes
experiments/results/leaderboard.md and leaderboard.json.
"""

from __future__ import annotations

from gazsl.io import GazslError, write_json_atomic
from gazsl.protocols.cells import run_cells
from gazsl.protocols.leaderboard import (METHODS, add_plugin, choose_on_validation, method_figures, run_training,
                                         stored_results, write_tables)
from gazsl.protocols.tables import parse_table_args, table_parser


def main(argv=None) -> int:
    parser = table_parser("gazsl.leaderboard", __doc__.split("\n\n")[0], splits_required=False)
    parser.add_argument("--methods", nargs="+", default=list(METHODS),
                        help=f"rows of the table ({', '.join(METHODS)}), or method plugins by import path "
                        "(package.module:Class) or entry point of gazsl.methods, scored as the baselines")
    parser.add_argument("--render-only", action="store_true",
                        help="no run: rewrite leaderboard.md, the <split>_top1.png plots and the split files' "
                        "verdicts from the figures stored in RESULTS/leaderboard.json (its splits, methods and seeds)")
    args, command = parse_table_args(parser, argv)
    if args.render_only:
        if args.splits:
            parser.error("--render-only renders the splits leaderboard.json holds: leave out --splits")
        command, results, splits, methods, seeds = stored_results(args.results)
        print(write_tables(results, command, splits, methods, seeds, args.results, args.configs))
        return 0
    if not args.splits:
        parser.error("--splits is required (unless --render-only)")
    args.methods = [add_plugin(m) for m in args.methods]
    if "gazsl_chosen" in args.methods and not any(METHODS[m].training for m in args.methods):
        raise GazslError("--methods gazsl_chosen chooses among GAZSL rows: list some (e.g. gazsl gazsl_pivot)")
    listed = [m for m in args.methods if not METHODS[m].chosen]
    runs = sorted({(split, METHODS[m].run, seed) for m in listed for split in args.splits for seed in range(args.seeds)})
    made = run_cells(runs, args.runs, args.configs, args.jobs, run=run_training)
    results = {(split, m, seed): method_figures(m, made[(split, METHODS[m].run, seed)])
               for m in listed for split in args.splits for seed in range(args.seeds)}
    if len(listed) < len(args.methods):
        results.update(choose_on_validation(results, args.splits, args.seeds, listed))
    cells = [(split, m, seed) for m in args.methods for split in args.splits for seed in range(args.seeds)]
    write_json_atomic(args.results / "leaderboard.json",
                      {"command": command, "cells": [{**results[c], "method": c[1]} for c in cells]})
    print(write_tables(results, command, args.splits, args.methods, args.seeds, args.results, args.configs))
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
