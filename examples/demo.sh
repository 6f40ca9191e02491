#!/usr/bin/env bash
# PRISM end to end on a simulated world, in a few minutes on a laptop CPU:
#   simulate -> extract -> train on 5 cells -> adapt on the 6th from 64 labelled pairs
#   -> score its held-out chromosome -> evaluate against the truth.
# Usage: bash examples/demo.sh [OUTDIR]    (default: demo/; replaced if it exists)
set -euo pipefail
OUT=${1:-demo}
EPOCHS=${PRISM_DEMO_EPOCHS:-6}
rm -rf "$OUT" && mkdir -p "$OUT"
cd "$OUT"

echo "== 1. a synthetic genome with 6 cell lines and known truth"
prism simulate -o world --seed 7

echo "== 2. the held-out cell CELL5: 64 support pairs from its training chromosomes (chr1-chr2),"
echo "      its pairs on chr4 to score (no training cell sees chr4 either)"
awk -F'\t' 'NR == 1 || ($11 != "CELL5")' world/pairs.bedpe > train_pairs.bedpe
awk -F'\t' 'NR == 1 || ($11 == "CELL5" && ($1 == "chr1" || $1 == "chr2"))' world/pairs.bedpe \
  | { IFS= read -r h; echo "$h"; awk 'BEGIN{srand(7)} {print rand() "\t" $0}' | sort -k1,1g \
      | cut -f2- | awk 'NR <= 64'; } > support_CELL5.bedpe
awk -F'\t' 'NR == 1 || ($11 == "CELL5" && $1 == "chr4")' world/pairs.bedpe > query_CELL5.bedpe
wc -l support_CELL5.bedpe query_CELL5.bedpe

echo "== 3. extract 500 bp windows (the simulator's recommendation)"
prism extract -g world/genome.fa -p train_pairs.bedpe -o data \
  --enhancer-length 500 --promoter-length 500

echo "== 4. train on CELL0-CELL4 (validation chr3, test chr4 never seen)"
prism train --data data --cells CELL0,CELL1,CELL2,CELL3,CELL4 \
  --val-chroms chr3 --test-chroms chr4 --epochs "$EPOCHS" --seed 0 -o run

echo "== 5. adapt to CELL5 from its 64 support pairs"
prism adapt -m run -s support_CELL5.bedpe -g world/genome.fa -c CELL5

echo "== 6. score CELL5's chr4 pairs: adapted environment, and zero-shot for comparison"
prism score -p query_CELL5.bedpe -m run -g world/genome.fa -c CELL5 -o scored_CELL5.bedpe
prism score -p query_CELL5.bedpe -m run -g world/genome.fa --zero-shot -o scored_zero_shot.bedpe

echo "== 7. evaluate"
prism evaluate -p scored_CELL5.bedpe --plot curves_CELL5.png -o metrics_CELL5.tsv
prism evaluate -p scored_zero_shot.bedpe -o metrics_zero_shot.tsv
echo "== the simulator's reference scores for CELL5 (oracle = true p) were printed in step 1"
echo "done: see $OUT/"
