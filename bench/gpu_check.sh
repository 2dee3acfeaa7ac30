#!/usr/bin/env bash
# GPU check for the fast training step (issue 7), one short script: under 5 minutes on an H100/H200.
#
#   bash bench/gpu_check.sh        # logs to $OUT (default ./gpu_check_out): one log per run and summary.txt
#
# 1. versions and CUDA availability; 2. the equivalence tests on cuda (float64); 3. bench/train_step.py on cuda
# at cub and nab shapes, fast step, with and without bf16 and torch.compile, plus the reference step as baseline.
# Runs go in order of importance and each gets what is left of a 280 s budget, so the script always finishes.
# Needs only torch, numpy (and pytest for step 2) on the machine; gazsl is imported from this checkout.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
BUDGET=${BUDGET:-280}
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

python -c "import torch; print('torch', torch.__version__, '| cuda available:', torch.cuda.is_available(),
'|', torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')" 2>&1 | tee -a "$SUMMARY"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | tee -a "$SUMMARY"
if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "no CUDA device: nothing to check" | tee -a "$SUMMARY"
    exit 1
fi

# run NAME LIMIT_S CMD...: at most LIMIT_S seconds, and never past the budget
run() {
    local name=$1 limit=$2
    shift 2
    local left=$((BUDGET - SECONDS))
    if ((left < 15)); then
        echo "== $name: skipped, budget spent" | tee -a "$SUMMARY"
        return
    fi
    ((limit > left)) && limit=$left
    echo "== $name (limit ${limit}s): $*" | tee -a "$SUMMARY"
    local start=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    grep -E "^(precision:|GEMM throughput|iteration:|evaluation:|host sync|efficiency|speedup=|[0-9]+ (passed|failed)|FAILED|.*Error)" \
        "$OUT/$name.log" | tail -n 12 | sed 's/^/   /' | tee -a "$SUMMARY"
    echo "   rc=$rc, $((SECONDS - start)) s" | tee -a "$SUMMARY"
}

if python -c "import pytest" 2>/dev/null; then
    run tests_cuda 60 env GAZSL_TEST_DEVICE=cuda python -m pytest -q tests/test_fast_step.py
else
    echo "== tests_cuda: skipped, pytest is not installed" | tee -a "$SUMMARY"
fi

B="python bench/train_step.py --device cuda --iters 20"
# float32 runs time the reference step too (last line speedup=); the others skip it
run cub_fast 40 $B --shapes cub --bf16 off --sync-check --profile
run nab_fast 40 $B --shapes nab --bf16 off --sync-check
run cub_fast_bf16 40 $B --shapes cub --bf16 auto --no-reference
run nab_fast_bf16 40 $B --shapes nab --bf16 auto --no-reference
run cub_fast_compile 75 $B --shapes cub --bf16 off --compile --no-reference
run cub_fast_bf16_compile 75 $B --shapes cub --bf16 on --compile --no-reference
run nab_fast_bf16_compile 75 $B --shapes nab --bf16 on --compile --no-reference
echo "total $SECONDS s" | tee -a "$SUMMARY"
