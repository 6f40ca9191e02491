"""Cross-cell benchmark: leave-one-cell-out x chromosome split (docs/cross_cell.md).

    python -m bench.cross_cell run|report|export ...      (harness.py)

Modules: ``harness`` (the driver), ``split`` (folds), ``baselines`` (logistic
regressions), ``finetune`` (the fine-tuned crossattn baseline), ``cli`` (the `prism`
command-line calls), ``report`` (markdown tables and the learning-curve plot).
"""
