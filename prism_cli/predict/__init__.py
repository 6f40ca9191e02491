"""The one inference path shared by validation, ``prism adapt`` and ``prism score``.

    cache.py        ElementCache.build(model, inputs, element indices, "enhancer"|"promoter")
                      encodes each unique element once -> tokens (n, n_tok, d_model);
                      encode_chunks (also training's), batch_map, evaluating, devices
    pairs.py        pair_outputs(model, enh_cache, prom_cache, enh_idx, prom_idx, log_d)
                      -> {"z_I", "U", "z_F"} per pair; rows_outputs: rows -> caches -> outputs
    support.py      support episodes: sizes, draws, padding to (E, W) rows + mask
    environment.py  estimate_environment (student guess refined to the MAP of the support
                      labels' likelihood, model/posterior.py), teacher_pi, mean_environment,
                      predict(model, U, z_F, pi) -> {"p", "R", "logit"}, nearest_cells
    adapt.py        adapt_cell: the record ``prism adapt`` registers
    score.py        environments of cells and score_pairs, chromosome by chromosome
    score_inputs.py the checks of ``prism score``'s inputs before torch loads

Environments at prediction time:

* unseen cell, support given:  pi = estimate_environment(...)[0]            ("student")
* known training cell:          pi = teacher_pi(model, cell index)           ("teacher")
* known cell + support:         pi = estimate_environment(..., prior_cell=c)  ("fused":
  the same posterior with the cell's teacher environment as its prior)
* no cell, no support:          pi = mean_environment(model)                ("zero-shot":
  the average of the training cells' environments, the honest guess for a cell nothing is
  known of).
  ``predict(..., pi=None)`` is U_I alone (R = 0), a diagnostic only.

Inference functions run under ``torch.no_grad()`` with the model in eval mode and restore
the mode they found.  This package never imports ``train/`` or ``commands/`` (training
imports it), and importing it alone does not import torch.
"""
