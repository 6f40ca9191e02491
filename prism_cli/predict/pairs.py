"""Pair outputs from element tokens: the one path from pair rows to z_I, U_I and z_F.

    rows -> element_caches (each unique element encoded once) -> log_distance
         -> pair_outputs (the pair head, in chunks, from the cached tokens)

``rows_outputs`` does all of it for one set of rows (adapt's support, validation,
feature effects); ``prism score`` builds the caches once per chromosome and calls
``pair_outputs`` per chunk of pairs.
"""

from __future__ import annotations

import numpy as np
import torch

from .cache import ElementCache, batch_map, device_of, evaluating

BATCH_PAIRS = 2048  # pairs per batch of the pair head (the fastest of 1024-8192 on CPU-2)


def log_distance(distance) -> np.ndarray:
    """log10 of the centre distance (at least 1 bp): float32, shape=(n_pairs,)."""
    return np.log10(np.maximum(np.asarray(distance), 1)).astype(np.float32)


def element_caches(model, enhancers, promoters, enh_idx, prom_idx, batch_size: int = 256,
                   workers: int = 1) -> tuple[ElementCache, ElementCache]:
    """The enhancer and promoter caches of the elements of some pairs.

    enhancers, promoters : element inputs (code memmaps or ElementInputs);
    enh_idx, prom_idx : element indices, shape=(n_pairs,).
    """
    return (ElementCache.build(model, enhancers, enh_idx, "enhancer", batch_size,
                               workers=workers),
            ElementCache.build(model, promoters, prom_idx, "promoter", batch_size,
                               workers=workers))


def pair_outputs(model, enh_cache: ElementCache, prom_cache: ElementCache, enh_idx,
                 prom_idx, log_distance, chunk_size: int = BATCH_PAIRS,
                 workers: int = 1, keys=("z_I", "U", "z_F")) -> dict[str, torch.Tensor]:
    """z_I, U and z_F of pairs from cached element terms (``model.pair_from_terms``: the
    numbers of ``model.pair`` on the tokens, to float round-off), in chunks of
    ``chunk_size`` pairs (``workers`` chunks at once on CPU threads, see :func:`batch_map`).

    enh_idx, prom_idx : element indices, shape=(n_pairs,); log_distance : shape=(n_pairs,)
    Returns CPU float32 tensors: z_I (n, d_z), U (n,), z_F (n, d_f) (those of ``keys``).
    """
    device = device_of(model)
    e_rows = torch.from_numpy(enh_cache.rows(enh_idx))
    p_rows = torch.from_numpy(prom_cache.rows(prom_idx))
    ld = torch.as_tensor(np.asarray(log_distance, dtype=np.float32))

    def one(sl):
        e = {k: v.index_select(0, e_rows[sl].to(v.device)).to(device)
             for k, v in e_terms.items()}
        p = {k: v.index_select(0, p_rows[sl].to(v.device)).to(device)
             for k, v in p_terms.items()}
        out = model.pair_from_terms(e, p, ld[sl].to(device))
        return {k: out[k].float().cpu() for k in keys}

    e_terms, p_terms = enh_cache.terms, prom_cache.terms
    with evaluating(model):
        parts = batch_map(one, [slice(s, s + chunk_size)
                                for s in range(0, len(ld), chunk_size)], device, workers)
    if not parts:
        cfg = model.cfg
        d_f = cfg.d_f if model.has_environment else cfg.d_z
        empty = {"z_I": torch.zeros(0, cfg.d_z), "U": torch.zeros(0), "z_F": torch.zeros(0, d_f)}
        return {k: empty[k] for k in keys}
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def rows_outputs(model, enhancers, promoters, enh_idx, prom_idx, log_d,
                 batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Pair outputs of pairs given by their element indices (n_pairs,) and log10
    distances (n_pairs,): their elements encoded once, then the pair head.
    Returns CPU float32 z_I (n, d_z), U (n,), z_F (n, d_f)."""
    enh, prom = element_caches(model, enhancers, promoters, enh_idx, prom_idx, batch_size)
    return pair_outputs(model, enh, prom, enh_idx, prom_idx, log_d)


def frame_outputs(model, inputs, pairs) -> dict[str, torch.Tensor]:
    """:func:`rows_outputs` of a pairs table (enh_idx, prom_idx, distance columns);
    inputs : the (enhancer, promoter) element inputs its indices point into."""
    e_idx, p_idx = pairs["enh_idx"].to_numpy(), pairs["prom_idx"].to_numpy()
    return rows_outputs(model, inputs[0], inputs[1], e_idx, p_idx,
                        log_distance(pairs["distance"].to_numpy()))
