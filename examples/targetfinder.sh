#!/usr/bin/env bash
# Real-data example: adapt the shipped model to a cell line from a small labelled BEDPE,
# score that cell's candidate pairs and evaluate them.  A few minutes on a laptop CPU.
#
#   bash examples/targetfinder.sh            # CELL=K562, 64 support pairs
#   CELL=HUVEC N_SUPPORT=256 bash examples/targetfinder.sh
#
# Data: ../shared/data (hg19 windows around TargetFinder elements; read in place).  The
# shipped model reads 200 bp windows starting at each element's 5' end (start
# coordinate, both sides): with your own full hg19 FASTA, give PRISM the TargetFinder
# element coordinates and these windows are cut for you (the model's checkpoint records
# them).  Caveat: the shipped model was trained on all five TargetFinder cell lines, so
# adapting it to one of them is a demonstration of the commands, not a held-out test;
# the leave-one-cell-out numbers are in models/prism-targetfinder5-hg19/MODEL_CARD.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
CELL=${CELL:-K562}
N_SUPPORT=${N_SUPPORT:-64}
OUT=${OUT:-examples/out-targetfinder}
MODEL=prism-targetfinder5-hg19
mkdir -p "$OUT"
export PRISM_HOME="$OUT/home"      # the adapted cell is registered here, not in ~/.local

# support: N_SUPPORT labelled pairs of CELL off chr1-4 (random, fixed seed);
# candidates: every pair of CELL on chr1-4 (with labels, so we can evaluate)
python - "$DATA/targetfinder_w200.bedpe" "$CELL" "$N_SUPPORT" "$OUT" <<'EOF'
import sys
import pandas as pd
path, cell, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
pairs = pd.read_csv(path, sep="\t")
pairs = pairs[pairs["cell"] == cell]
test = pairs["#chrom1"].isin(["chr1", "chr2", "chr3", "chr4"])
pairs[~test].sample(n=n, random_state=0).to_csv(f"{out}/support.bedpe", sep="\t", index=False)
pairs[test].to_csv(f"{out}/candidates.bedpe", sep="\t", index=False)
print(f"{cell}: {n} support pairs, {int(test.sum())} candidate pairs on chr1-4")
EOF

prism adapt -m "$MODEL" -s "$OUT/support.bedpe" -g "$DATA/hg19_sparse.fa.gz" \
    -c "$CELL-example" --force
prism score -m "$MODEL" -p "$OUT/candidates.bedpe" -g "$DATA/hg19_sparse.fa.gz" \
    -c "$CELL-example" -o "$OUT/scored.bedpe.gz" --force
prism evaluate -p "$OUT/scored.bedpe.gz" --by none --force -o "$OUT/metrics.tsv"
cat "$OUT/metrics.tsv"
