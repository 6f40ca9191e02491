"""The one inference path shared by validation, ``prism adapt`` and ``prism score``.

    1. ElementCache.build(model, codes, element_indices, "enhancer"|"promoter")
         encodes each unique element once -> tokens (n, n_tok, d_model)
    2. pair_outputs(model, enh_cache, prom_cache, enh_idx, prom_idx, log_distance)
         -> {"z_I", "U", "z_F"} per pair, computed in chunks from cached tokens
    3. estimate_environment(model, support outputs + labels, sizes, n_episodes, rng)
         -> pi, pi_sd, pis: the student's guess refined to the MAP of the support labels'
            likelihood (model/posterior.py), its Laplace sd, and the estimates of random
            sub-supports of the training sizes
    4. predict(model, U, z_F, pi) -> {"p", "R", "logit"}

Environments at prediction time:

* unseen cell, support given:  pi = estimate_environment(...)[0]            ("student")
* known training cell:          pi = teacher_pi(model, cell index)           ("teacher")
* known cell + support:         pi = estimate_environment(..., prior_cell=c)  ("fused":
  the same posterior with the cell's teacher environment as its prior)
* no cell, no support:          pi = None -> p = sigmoid(U_I / T), R = 0     ("zero-shot",
  U-only: it ignores every environment, so its probabilities are not calibrated to any
  cell; ``mean_environment(model)`` gives the average training environment instead).

All functions run under ``torch.no_grad()`` with the model in eval mode and restore the
mode they found.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch



def resolve_device(name: str | None = "auto") -> torch.device:
    """"auto"/None -> cuda when available else cpu; "cpu"/"cuda" as given."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from .errors import PrismInputError
        raise PrismInputError("--device cuda requested but CUDA is not available")
    return torch.device(name)


@contextlib.contextmanager
def evaluating(model: torch.nn.Module):
    """Eval mode + no_grad inside; the model's previous mode is restored on exit."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def _device_of(model) -> torch.device:
    return next(model.parameters()).device


class ElementCache:
    """Tokens of a set of elements, looked up by element index.

    indices : np.ndarray int64, shape=(n,), sorted unique element indices
    tokens  : Tensor, shape=(n, n_tokens, d_model), float32 (on ``tokens.device``)
    """

    def __init__(self, indices: np.ndarray, tokens: torch.Tensor):
        self.indices = np.asarray(indices, dtype=np.int64)
        self.tokens = tokens

    def __len__(self) -> int:
        return len(self.indices)

    def rows(self, element_idx) -> np.ndarray:
        """Row of each element index in ``tokens``; KeyError for an element not cached."""
        element_idx = np.asarray(element_idx, dtype=np.int64)
        if element_idx.size == 0:
            return np.zeros(0, dtype=np.int64)
        rows = np.searchsorted(self.indices, element_idx)
        rows = np.minimum(rows, len(self.indices) - 1)
        if len(self.indices) == 0 or (self.indices[rows] != element_idx).any():
            raise KeyError("element not in cache")
        return rows

    @classmethod
    def build(cls, model, codes: np.ndarray, element_idx, kind: str,
              batch_size: int = 256, keep_on_device: bool = False,
              workers: int = 1) -> "ElementCache":
        """Encode the unique elements among ``element_idx``.

        codes : array, uint8, shape=(n_elements, L) (a dataset memmap is fine), or the
            ElementInputs of the role (features and/or codes)
        kind  : "enhancer" or "promoter" (which tower)
        workers : batches encoded at once on CPU threads (see :func:`batch_map`)
        """
        if kind not in ("enhancer", "promoter"):
            raise ValueError(f"kind must be enhancer or promoter, not {kind!r}")
        uniq = np.unique(np.asarray(element_idx, dtype=np.int64))
        device = _device_of(model)
        encode = model.encode_enhancers if kind == "enhancer" else model.encode_promoters

        def one(rows):
            batch = torch.from_numpy(np.ascontiguousarray(codes[rows])).to(device)
            tok = encode(batch).float()
            return tok if keep_on_device else tok.cpu()

        with evaluating(model):
            out = batch_map(one, [uniq[s:s + batch_size]
                                  for s in range(0, len(uniq), batch_size)], device, workers)
        if out:
            tokens = torch.cat(out)
        else:
            tokens = torch.zeros(0, model.cfg.tokens_per_element, model.cfg.d_model)
        return cls(uniq, tokens)


def pair_outputs(model, enh_cache: ElementCache, prom_cache: ElementCache, enh_idx,
                 prom_idx, log_distance, chunk_size: int = 8192,
                 workers: int = 1) -> dict[str, torch.Tensor]:
    """z_I, U and z_F of pairs from cached tokens, in chunks of ``chunk_size`` pairs
    (``workers`` chunks at once on CPU threads, see :func:`batch_map`).

    enh_idx, prom_idx : element indices, shape=(n_pairs,); log_distance : shape=(n_pairs,)
    Returns CPU float32 tensors: z_I (n, d_z), U (n,), z_F (n, d_f).
    """
    device = _device_of(model)
    e_rows = torch.from_numpy(enh_cache.rows(enh_idx))
    p_rows = torch.from_numpy(prom_cache.rows(prom_idx))
    ld = torch.as_tensor(np.asarray(log_distance, dtype=np.float32))

    def one(sl):
        e = enh_cache.tokens[e_rows[sl]].to(device)
        p = prom_cache.tokens[p_rows[sl]].to(device)
        out = model.pair(e, p, ld[sl].to(device))
        return {k: out[k].float().cpu() for k in ("z_I", "U", "z_F")}

    with evaluating(model):
        parts = batch_map(one, [slice(s, s + chunk_size)
                                for s in range(0, len(ld), chunk_size)], device, workers)
    if not parts:
        cfg = model.cfg
        d_f = cfg.d_f if model.has_environment else cfg.d_z
        return {"z_I": torch.zeros(0, cfg.d_z), "U": torch.zeros(0), "z_F": torch.zeros(0, d_f)}
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


@contextlib.contextmanager
def cpu_threads(n: int):
    """torch's intra-op CPU threads set to ``n`` inside the block, restored on exit."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def batch_map(fn, batches: list, device, workers: int = 1) -> list:
    """``[fn(b) for b in batches]``, run under ``torch.no_grad()``.

    On CPU with ``workers > 1``, ``workers`` batches run at once on threads (torch
    releases the GIL inside its kernels), each op single-threaded: the small matrices of
    the towers and the pair head keep a core busy far better this way than split across
    intra-op threads, and a batch gives the same numbers whichever thread ran it.
    """
    def run(b):
        with torch.no_grad():  # grad mode is per thread
            return fn(b)

    if workers <= 1 or torch.device(device).type != "cpu" or len(batches) <= 1:
        return [run(b) for b in batches]
    from concurrent.futures import ThreadPoolExecutor

    with cpu_threads(1), ThreadPoolExecutor(min(workers, len(batches))) as pool:
        return list(pool.map(run, batches))


def sample_support_sizes(n_available: int, sizes, n_episodes: int,
                         rng: np.random.Generator) -> np.ndarray:
    """Episode support sizes: log-uniform integers in ``sizes`` = (lo, hi) (or one int),
    capped at the number of available pairs.  Returns int64, shape=(n_episodes,)."""
    lo, hi = (sizes, sizes) if np.isscalar(sizes) else sizes
    lo, hi = min(int(lo), n_available), min(int(hi), n_available)
    if hi <= lo:
        return np.full(n_episodes, hi, dtype=np.int64)
    u = rng.uniform(math.log(lo), math.log(hi + 1), size=n_episodes)
    return np.minimum(np.floor(np.exp(u)).astype(np.int64), hi)


def draw_support(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` distinct positions of ``labels``, with at least one positive and one
    negative when both exist.  labels : int, shape=(n,) (-1 = unlabelled)."""
    n = len(labels)
    if size >= n:
        return rng.permutation(n)
    forced = []
    for cls in (1, 0):
        where = np.flatnonzero(labels == cls)
        if len(where):
            forced.append(int(rng.choice(where)))
    forced = np.array(forced[:size], dtype=np.int64)
    rest = np.setdiff1d(np.arange(n), forced, assume_unique=False)
    extra = rng.choice(rest, size=size - len(forced), replace=False)
    return rng.permutation(np.concatenate([forced, extra]))


def estimate_environment(model, support: dict, sizes=(8, 256), n_episodes: int = 32,
                         generator: np.random.Generator | None = None,
                         prior_cell: int | None = None):
    """The environment of one cell from its support set.

    support : {"z_F": (n, d_f), "U": (n,), "y": (n,) int (1/0, -1 = unlabelled)}
    The estimate is ``model.support_environment`` on the whole support: the student's
    amortised guess refined to the MAP of the support labels' likelihood, with the prior
    built from the training cells' teacher environments (or, with ``prior_cell``, that
    training cell's own: a known cell with extra support).
    Returns (pi (K,), pi_sd (K,), pis (n_episodes, K)) as CPU float32 tensors: pi_sd is the
    Laplace (posterior curvature) sd of pi; pis are the estimates from ``n_episodes``
    random sub-supports of the training support sizes ``sizes`` (their spread says how
    much the estimate depends on which pairs were in the support; 0 episodes: empty).
    """
    from .model.posterior import pi_sd_from_cov

    if not model.has_environment:
        raise ValueError("this model has no cell environment (arch crossattn)")
    rng = generator if generator is not None else np.random.default_rng(0)
    y = np.asarray(support["y"], dtype=np.int64)
    n = len(y)
    if n == 0:
        raise ValueError("empty support set")
    device = _device_of(model)
    z_f_all = torch.as_tensor(support["z_F"]).float().to(device)
    u_all = torch.as_tensor(support["U"]).float().to(device)
    y_all = torch.from_numpy(y).to(device)
    with evaluating(model):
        full = model.support_environment(z_f_all[None], u_all[None], y_all[None],
                                         torch.ones(1, n, dtype=torch.bool, device=device),
                                         prior_cell=prior_cell)
        pi = full["pi"][0].float().cpu()
        if "cov_theta" in full:
            sd = pi_sd_from_cov(full["theta"], full["cov_theta"], model.cfg.env_softmax)[0]
        else:
            sd = torch.zeros_like(full["pi"][0])
        pis = torch.zeros(0, pi.shape[0])
        if n_episodes > 0:
            sizes_e = sample_support_sizes(n, sizes, n_episodes, rng)
            width = int(sizes_e.max())
            rows = np.zeros((n_episodes, width), dtype=np.int64)
            mask = np.zeros((n_episodes, width), dtype=bool)
            for e, s in enumerate(sizes_e):
                pick = draw_support(y, int(s), rng)
                rows[e, :len(pick)] = pick
                mask[e, :len(pick)] = True
            rows_t = torch.from_numpy(rows).to(device)
            pis = model.support_environment(z_f_all[rows_t], u_all[rows_t], y_all[rows_t],
                                            torch.from_numpy(mask).to(device),
                                            prior_cell=prior_cell)["pi"].float().cpu()
    return pi, sd.float().cpu(), pis


def teacher_pi(model, cell_index: int) -> torch.Tensor:
    """pi_T(c) of a training cell (index into the checkpoint's cell registry), (K,)."""
    with evaluating(model):
        c = torch.tensor([int(cell_index)], device=_device_of(model))
        return model.teacher_environment(c)[0].float().cpu()


def mean_environment(model) -> torch.Tensor:
    """Average of the training cells' teacher environments, (K,)."""
    with evaluating(model):
        return model.mean_teacher_environment().float().cpu()


def predict(model, u, z_f, pi=None, chunk_size: int = 65536) -> dict[str, torch.Tensor]:
    """Probabilities from pair outputs and an environment.

    u : (n,), z_f : (n, d_f), pi : (K,) environment, or None for zero-shot.
    Returns CPU float32 {"p": (n,), "R": (n,), "logit": (n,)}.
    pi=None is U-only: p = sigmoid(U_I / T), R = 0 (no environment at all).
    For arch crossattn, p = sigmoid(U) whatever pi is.
    """
    device = _device_of(model)
    u = torch.as_tensor(u).float()
    z_f = torch.as_tensor(z_f).float()
    p_parts, r_parts, l_parts = [], [], []
    with evaluating(model):
        for s in range(0, len(u), chunk_size):
            uu = u[s:s + chunk_size].to(device)
            if model.has_environment and pi is not None:
                r = model.resistance(z_f[s:s + chunk_size].to(device),
                                     torch.as_tensor(pi).float().to(device))
            else:
                r = torch.zeros_like(uu)
            logit = model.logit(uu, r)
            p_parts.append(torch.sigmoid(logit).cpu())
            r_parts.append(r.float().cpu())
            l_parts.append(logit.float().cpu())
    if not p_parts:
        z = torch.zeros(0)
        return {"p": z, "R": z, "logit": z}
    return {"p": torch.cat(p_parts), "R": torch.cat(r_parts), "logit": torch.cat(l_parts)}
