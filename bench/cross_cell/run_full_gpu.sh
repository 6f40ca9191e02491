#!/usr/bin/env bash
# Full cross-cell benchmark (docs/cross_cell.md) for a GPU session, from the repo root:
#
#     bash bench/cross_cell/run_full_gpu.sh [OUT]            # default OUT=cc_full
#
# Every held-out cell (6 simulated, 5 TargetFinder), seeds 0,1,2 for every method and
# every ablation, the default PRISM model and training settings (ModelConfig /
# TrainConfig defaults), JOBS tasks at a time on the one GPU.  Resumable: rerun the same
# command and finished tasks (OUT/*/tasks/*.tsv) are skipped, so it can be spread over
# several sessions.  Environment: DATA_DIR (real data, default /work/shared/data),
# JOBS (default 4), THREADS (CPU threads per process, default 3), CELLS (comma list of
# held-out cells to restrict to, e.g. to split the work), DATASETS (default "sim real"),
# STEPS (default "cross_cell score"; "score" alone: only the `prism score` throughput
# bench, docs/benchmarks.md "score throughput", 1 M pairs on the GPU, a few minutes).
set -euo pipefail
OUT=${1:-cc_full}
DATA_DIR=${DATA_DIR:-/work/shared/data}
JOBS=${JOBS:-4}
THREADS=${THREADS:-3}
DATASETS=${DATASETS:-sim real}
STEPS=${STEPS:-cross_cell score}
CELL_ARGS=()
if [[ -n "${CELLS:-}" ]]; then CELL_ARGS=(--cells "$CELLS"); fi

nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
if ! python -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "no CUDA GPU visible to torch: this script is for a GPU machine (see docs/benchmarks.md)" >&2
    exit 1
fi
if [[ " $STEPS " == *" score "* ]]; then
    mkdir -p "$OUT"
    python -m bench.throughput.score --pairs 1000000 --device cuda --uncached-pairs 1000 \
        --workdir "$OUT/score_bench" | tee "$OUT/score_throughput.md"
    rm -rf "$OUT/score_bench"
fi
if [[ " $STEPS " != *" cross_cell "* ]]; then exit 0; fi
for ds in $DATASETS; do
    python -m bench.cross_cell run --dataset "$ds" --mode full -o "$OUT/$ds" \
        --data-dir "$DATA_DIR" --jobs "$JOBS" --threads "$THREADS" --device cuda \
        "${CELL_ARGS[@]}"
done
dirs=()
for ds in $DATASETS; do dirs+=("$OUT/$ds"); done
python -m bench.cross_cell report -o "${dirs[@]}" --markdown "$OUT/report.md" \
    --plot "$OUT/cross_cell_learning_curve.png"
echo "report: $OUT/report.md"
