#!/usr/bin/env bash
# Every committed result table in one go, on a machine with a GPU and many cores. On an H200 with 16 cores and
# 12-13 jobs, one cpu-preset run took 50-70 s (before every run scored five classifiers).
# Each command below also runs as it is on a CPU, only slower: finished runs are reused, so rerunning a table
# command afterwards only rewrites the table.
#
#   bash experiments/run_on_gpu.sh [JOBS]      # needs features/cub100.h5 with its minilm vectors (see below)
set -u
cd "$(dirname "$0")/.."
JOBS=${1:-8}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
SPLITS="aviary_easy aviary_hard cub100_easy cub100_hard"
start=$SECONDS
stamp() { echo "[$((SECONDS - start)) s] $*"; }

stamp "aviary store"
python -m gazsl.aviary build

stamp "reproduce tables (both protocols)"
python -m gazsl.reproduce --splits $SPLITS --seeds 3 --jobs "$JOBS"

stamp "text encoders (cub100, honest): tfidf is the reproduce tables' honest runs; the other texts run beside them"
# minilm vectors are embedded on the CPU beforehand (python -m gazsl.text encode ..., see
# experiments/text_encoders.py): this machine has no copy of the MiniLM model.
python experiments/text_encoders.py run --jobs "$JOBS"

stamp "leaderboard (honest): 4 GAZSL trainings per split and seed, every classifier scored on each; the plain"
stamp "trainings are the reproduce tables' honest runs, so both quote one set of runs"
python -m gazsl.leaderboard --splits cub100_easy cub100_hard aviary_easy aviary_hard --seeds 3 --jobs "$JOBS"
stamp "validation rule, before and after (the leaderboard on random-validation copies of the hard splits' stores)"
python experiments/validation_rule.py --splits cub100_hard aviary_hard --seeds 3 --jobs "$JOBS"
python -m gazsl.leaderboard --splits cub100_easy cub100_hard aviary_easy aviary_hard --seeds 3 --jobs "$JOBS"  # quotes it
stamp "done"
