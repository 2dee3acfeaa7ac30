"""The MiniLM encoding of cub100's visual descriptions (one caption a line, mean-pooled per class): time and throughput.

    python bench/encode_descriptions.py [--sample 2000] [--batch-size 64] [--repeats 2]

Reads every caption of cub100's photographs the way ``gazsl data build-cub100 --descriptions`` does (each photograph's
ten lines, ``gazsl.documents.descriptions``), counts the captions, the distinct ones and their tokens, then embeds a
random sample of the distinct captions with ``MinilmEncoder(unit="line")`` (no cache) ``--repeats`` times and
extrapolates to all of them by their token count (the model's cost grows with the tokens). It prints the wall clock
and the process's CPU time: on a machine shared with other work the wall clock is the load's, and CPU seconds over
the cores are what an idle machine would take (if the threads scaled perfectly). ``--sample 0`` embeds everything.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from gazsl.datasets.build import original_names, read_cub_folder
from gazsl.documents.descriptions import photo_captions
from gazsl.documents.sentence_encoder import MinilmEncoder, MinilmSettings
from gazsl.generator.precision import cpu_name

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=SHARED / "cub100")
    parser.add_argument("--descriptions", type=Path, default=SHARED / "cub" / "descriptions")
    parser.add_argument("--sample", type=int, default=2000, help="distinct captions embedded (0: all)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    folder = read_cub_folder(args.images)
    captions = [c for photo in photo_captions(args.descriptions, folder.class_ids, original_names(folder))
                for c in photo if c]
    distinct = sorted(set(captions))
    encoder = MinilmEncoder(MinilmSettings(unit="line", batch_size=args.batch_size))
    tokens = np.array(encoder.token_lengths(distinct)) + 2  # [CLS] and [SEP]
    print(f"{cpu_name()}, {len(os.sched_getaffinity(0))} cores available; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{len(captions)} captions of {len(folder.paths)} photographs, {len(distinct)} distinct; tokens per caption "
          f"max {tokens.max()} (the model's window is {encoder.model.max_seq_length}: nothing truncated), "
          f"mean {tokens.mean():.1f}, {tokens.sum()} in all")
    rng = np.random.default_rng(0)
    picked = np.arange(len(distinct)) if not args.sample else rng.choice(len(distinct), args.sample, replace=False)
    sample = [distinct[i] for i in picked]
    share = tokens[picked].sum() / tokens.sum()
    encoder.embed(sample[:64])  # warm-up: the first forward pass pays for allocations
    for repeat in range(args.repeats):
        fresh = MinilmEncoder(encoder.settings, model=encoder.model)  # nothing remembered between repeats
        wall, cpu = time.perf_counter(), time.process_time()
        fresh.embed(sample)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"repeat {repeat}: {len(sample)} captions in {wall:.1f} s wall, {cpu:.1f} CPU s "
              f"({len(sample) / wall:.0f} captions/s wall, {len(sample) / cpu:.0f} per CPU s); "
              f"all {len(distinct)} distinct captions by tokens: {wall / share:.0f} s at this load, "
              f"{cpu / share / len(os.sched_getaffinity(0)):.0f} s on idle cores; "
              f"load average now {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
