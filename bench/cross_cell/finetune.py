"""Few-shot fine-tuning of the `crossattn` baseline on a held-out cell's support set.

This is the standard few-shot baseline of the cross-cell benchmark, NOT a PRISM feature
(`prism adapt` refuses crossattn models: they have no environment).  It loads a
`prism train --arch crossattn` checkpoint and fine-tunes every parameter with binary
cross-entropy on the support pairs, with a fixed recipe chosen before looking at any
held-out data:

    AdamW(lr=1e-4, weight_decay=0.01), mini-batches of 32, `epochs` passes over the
    support (default 20, at most `max_steps` = 200 steps), dropout on, no augmentation.

Prediction goes through prism_cli.predict (the path `prism score` uses).
"""

from __future__ import annotations

import numpy as np
import torch

from prism_cli.checkpoint import load_checkpoint
from prism_cli.predict.cache import resolve_device
from prism_cli.predict.environment import predict
from prism_cli.predict.pairs import frame_outputs


def _pair_logits(model, enh_codes, prom_codes, log_d) -> torch.Tensor:
    """U (= classification logit for crossattn), shape=(B,)."""
    return model.pair(model.encode_enhancers(enh_codes), model.encode_promoters(prom_codes),
                      log_d)["U"]


def finetune(model, enhancers: np.ndarray, promoters: np.ndarray, enh_idx: np.ndarray,
             prom_idx: np.ndarray, log_d: np.ndarray, y: np.ndarray, epochs: int = 20,
             lr: float = 1e-4, batch_size: int = 32, max_steps: int = 200,
             seed: int = 0) -> dict:
    """Fine-tune ``model`` in place on support pairs; returns {"steps", "final_loss"}.

    enhancers/promoters : uint8 (n_elements, L) dataset codes; enh_idx, prom_idx, log_d,
    y : per support pair, shape=(n,).
    """
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    n = len(y)
    y_t = torch.tensor(np.asarray(y), dtype=torch.float32)
    steps, last = 0, float("nan")
    was_training = model.training
    model.train()
    torch.manual_seed(seed)  # dropout masks
    try:
        for _ in range(epochs):
            order = rng.permutation(n)
            for s in range(0, n, batch_size):
                b = order[s:s + batch_size]
                e = torch.from_numpy(np.ascontiguousarray(enhancers[enh_idx[b]])).to(device)
                p = torch.from_numpy(np.ascontiguousarray(promoters[prom_idx[b]])).to(device)
                d = torch.as_tensor(np.asarray(log_d[b], dtype=np.float32)).to(device)
                logit = _pair_logits(model, e, p, d)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    logit.float(), y_t[b].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                steps += 1
                last = float(loss.detach())
                if steps >= max_steps:
                    return {"steps": steps, "final_loss": last}
    finally:
        model.train(was_training)
    return {"steps": steps, "final_loss": last}


def predict_rows(model, ds, rows: np.ndarray, inputs=None) -> np.ndarray:
    """p of the dataset pairs ``rows`` through the inference path, shape=(len(rows),).
    inputs : (enhancer, promoter) element inputs (default: the dataset's codes)."""
    inputs = inputs if inputs is not None else (ds.enhancers, ds.promoters)
    out = frame_outputs(model, inputs, ds.pairs.iloc[rows])
    return predict(model, out["U"], out["z_F"], None)["p"].double().numpy()


def finetuned_scores(run_dir: str, ds, support: np.ndarray, query: np.ndarray,
                     seed: int = 0, device: str = "cpu", element_inputs: bool = False,
                     **recipe) -> dict:
    """Load the crossattn checkpoint of ``run_dir``, fine-tune on ``support`` rows, and
    return {"query": p (len(query),), "support": in-sample p (len(support),), "steps"}.
    element_inputs : read what the checkpoint's element-feature source gives (features
    and/or codes, prism_cli.features.model_inputs) instead of the dataset's codes."""
    model, meta = load_checkpoint(run_dir, device=resolve_device(device))
    if model.has_environment:
        raise ValueError("fine-tuning baseline expects a crossattn checkpoint")
    inputs = (ds.enhancers, ds.promoters)
    if element_inputs:
        from prism_cli.features import model_inputs
        inputs = model_inputs(ds, meta)
    pairs = ds.pairs.iloc[support]
    info = finetune(model, inputs[0], inputs[1], pairs["enh_idx"].to_numpy(),
                    pairs["prom_idx"].to_numpy(), ds.log_distance()[support],
                    pairs["label"].to_numpy(), seed=seed, **recipe)
    return {"query": predict_rows(model, ds, query, inputs),
            "support": predict_rows(model, ds, support, inputs),
            **info}
