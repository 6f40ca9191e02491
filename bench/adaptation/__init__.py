"""Adaptation to held-out cells: element features + environment estimate on
leave-one-cell-out folds (``element_features``), the correctly specified refit reference
on simulated worlds (``sim_refit_reference``) and the product-command support-size curve
(``adapt_curve.sh``).
"""
