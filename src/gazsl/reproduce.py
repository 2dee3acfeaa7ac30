"""Multi-seed result tables: one experiment config per table cell, runs under both protocols.

    python -m gazsl.reproduce --splits aviary_easy aviary_hard --seeds 3

reads experiments/configs/<split>.json, trains each (split, protocol, seed)
under runs/reproduce/ (finished runs are reused, interrupted ones resumed),
and writes experiments/results/<split>.md and <split>_gzsl.png; the file opens with the leaderboard's verdict on the
split where experiments/results/leaderboard.json holds it (``gazsl.leaderboard``, which refreshes it).
"""

from __future__ import annotations

from gazsl.io import write_text_atomic
from gazsl.protocols.leaderboard import split_verdict
from gazsl.protocols.protocol import PROTOCOLS
from gazsl.protocols.cells import read_cell, run_cells
from gazsl.protocols.tables import environments, parse_table_args, plot_curves, table, table_parser


def main(argv=None) -> int:
    parser = table_parser("gazsl.reproduce", __doc__.split("\n\n")[0])
    parser.add_argument("--protocol", choices=(*PROTOCOLS, "both"), default="both")
    args, command = parse_table_args(parser, argv)
    protocols = PROTOCOLS if args.protocol == "both" else (args.protocol,)
    cells = [(split, p, seed) for split in args.splits for p in protocols for seed in range(args.seeds)]
    metrics = run_cells(cells, args.runs, args.configs, args.jobs)
    for split in args.splits:
        results = {p: [metrics[(split, p, seed)] for seed in range(args.seeds)] for p in protocols}
        text = table(split, results)
        plot_curves(split, results, args.runs, args.results / f"{split}_gzsl.png")
        preset = results[protocols[0]][0]["preset"]
        note = read_cell(split, args.configs).get("note")
        verdict = split_verdict(args.results, split)
        write_text_atomic(args.results / f"{split}.md", (
            f"# {split}\n\n" + (f"{verdict}\n\n" if verdict else "") + f"Made by:\n\n```bash\n{command}\n```\n\n"
            + (f"Config note: {note}\n\n" if note else "") +
            f"Preset `{preset}` with `{args.configs / f'{split}.json'}`; mean ± std over seeds 0..{args.seeds - 1}. "
            "Top-1 is per sample over unseen classes (the paper's figure); AUSUC is the area under the "
            "seen-unseen accuracy curve. Under the honest protocol GZSL accuracies (AUSUC, seen, unseen, H) are means "
            "of per-class accuracies, on the exact curve; under the paper protocol they are per-sample accuracies over "
            "the authors' 400 constants -2, -1.99, ..., 1.99, as their code computes them. Every GZSL figure calibrates the "
            "scores of the *GZSL classifier*: with kNN that is the pivot classifier (cosine to each class's mean "
            "generated feature), as kNN votes take too few values to calibrate. *Oracle-selected* figures pick the best evaluation on the unseen test set, "
            "as the original code did: they are biased upwards and shown only to make that bias visible. "
            "Under the honest protocol, iterations are chosen on validation classes and GZSL seen accuracy "
            "is measured on held-out seen images. "
            f"Made on: {environments([m for runs in results.values() for m in runs])}.\n\n"
            f"{text}\n\n![seen-unseen curves]({split}_gzsl.png)\n"))
        print(f"\n## {split}\n{text}")
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
