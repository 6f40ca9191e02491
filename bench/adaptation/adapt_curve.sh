#!/usr/bin/env bash
# Held-out-cell AUPR against support size, through the product commands only.
#
# Needs a finished examples/demo.sh folder (world/, run/ trained on CELL0-4):
#   [RUN=MODEL_DIR] bash bench/adaptation/adapt_curve.sh DEMO_DIR [CELL] [SEEDS]
# For each support size 16/64/256 and seed: draw that many labelled pairs of CELL from
# chr1-chr2 (its training chromosomes), `prism adapt`, `prism score` CELL's chr4 pairs,
# `prism evaluate`; plus zero-shot (support 0). Prints one TSV row per run.
set -euo pipefail
DEMO=$(cd "$1" && pwd)
CELL=${2:-CELL5}
SEEDS=${3:-"1 2 3"}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
G=$DEMO/world/genome.fa
awk -F'\t' -v c="$CELL" 'NR == 1 || ($11 == c && $1 == "chr4")' "$DEMO/world/pairs.bedpe" > query.bedpe
awk -F'\t' -v c="$CELL" 'NR > 1 && $11 == c && ($1 == "chr1" || $1 == "chr2")' \
  "$DEMO/world/pairs.bedpe" > pool.tsv
head -1 "$DEMO/world/pairs.bedpe" > header
cp -r "${RUN:-$DEMO/run}" run   # RUN=... to use another trained model
metric() {  # metrics.tsv -> "aupr auroc"
  awk -F'\t' 'NR == 1 {for (i = 1; i <= NF; i++) k[$i] = i} NR == 2 {print $k["aupr"] "\t" $k["auroc"] "\t" $k["prevalence"]}' "$1"
}
printf 'support\tseed\taupr\tauroc\tprevalence\n'
prism score query.bedpe -m run -g "$G" --zero-shot -o zs.bedpe >/dev/null
prism evaluate zs.bedpe -o zs.tsv >/dev/null
printf '0\t-\t%s\n' "$(metric zs.tsv)"
for n in 16 64 256; do
  for seed in $SEEDS; do
    { cat header; awk -v s="$seed" 'BEGIN {srand(s)} {print rand() "\t" $0}' pool.tsv \
        | sort -k1,1g | cut -f2- | awk -v n="$n" 'NR <= n'; } > support.bedpe
    name="${CELL}_n${n}_s${seed}"
    prism adapt -m run -s support.bedpe -g "$G" -c "$name" --seed "$seed" >/dev/null
    prism score query.bedpe -m run -g "$G" -c "$name" -o s.bedpe --force >/dev/null
    prism evaluate s.bedpe -o m.tsv --force >/dev/null
    printf '%s\t%s\t%s\n' "$n" "$seed" "$(metric m.tsv)"
  done
done
