"""Element tokens computed once: devices, eval mode, CPU threads, chunked encoding and the
ElementCache of a set of elements (what every pair of them reads)."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint


def resolve_device(name: str | None = "auto") -> torch.device:
    """"auto"/None -> cuda when available else cpu; "cpu"/"cuda" as given."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from ..errors import PrismInputError
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


def device_of(model) -> torch.device:
    return next(model.parameters()).device


@contextlib.contextmanager
def cpu_threads(n: int):
    """torch's intra-op CPU threads set to ``n`` inside the block, restored on exit."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def batch_map(fn, batches: list, device="cpu", workers: int = 1) -> list:
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


def encode_chunks(encode, inputs, chunk: int, grad: bool = False, device="cpu",
                  workers: int = 1) -> list[torch.Tensor]:
    """``encode`` of ``inputs`` ``chunk`` elements at a time (chunk <= 0: all at once).

    inputs : anything with ``len`` that slices along its first axis into what ``encode``
        takes (a tensor (n, ...), or rows read lazily from a memmap)
    grad=True (training): under autograd, each chunk is checkpointed (recomputed in
        backward) when there is more than one, so long windows do not hold every
        activation.  grad=False: no autograd, ``workers`` chunks at once on CPU threads
        (:func:`batch_map`).
    Returns the chunks' outputs, in order (``torch.cat`` them).
    """
    n = len(inputs)
    step = chunk if chunk > 0 else max(n, 1)
    slices = [slice(s, s + step) for s in range(0, n, step)]
    if not grad:
        return batch_map(lambda sl: encode(inputs[sl]), slices, device, workers)
    if len(slices) <= 1:
        return [encode(inputs[0:n])]
    if not torch.is_grad_enabled():
        return [encode(inputs[sl]) for sl in slices]
    return [checkpoint(encode, inputs[sl], use_reentrant=False) for sl in slices]


class _Rows:
    """Rows ``rows`` of an element store (memmap or ElementInputs), read a slice at a time
    onto ``device``: uint8/float (len(sl), ...) tensors."""

    def __init__(self, store, rows: np.ndarray, device):
        self.store, self.rows, self.device = store, rows, device

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, sl: slice) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.store[self.rows[sl]])).to(self.device)


class ElementCache:
    """Tokens of a set of elements, and the pair head's per-element terms, looked up by
    element index.

    indices : np.ndarray int64, shape=(n,), sorted unique element indices
    tokens  : Tensor, shape=(n, n_tokens, d_model), float32 (on ``tokens.device``)
    terms   : the model's ``element_terms`` of the tokens (dict of (n, ...) float32
        tensors, "tokens" among them)
    """

    def __init__(self, indices: np.ndarray, tokens: torch.Tensor,
                 terms: dict[str, torch.Tensor]):
        self.indices = np.asarray(indices, dtype=np.int64)
        self.tokens = tokens
        self.terms = terms

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
        device = device_of(model)
        encode = model.encode_enhancers if kind == "enhancer" else model.encode_promoters

        def one(batch):
            tok = encode(batch).float()
            return tok if keep_on_device else tok.cpu()

        with evaluating(model):
            out = encode_chunks(one, _Rows(codes, uniq, device), batch_size,
                                device=device, workers=workers)
            if out:
                tokens = torch.cat(out)
            else:
                tokens = torch.zeros(0, model.cfg.tokens_per_element, model.cfg.d_model)
            # the terms stay on an accelerator (they are ~5x the tokens: per-pair copies
            # from the CPU would cost more than the pair head)
            on_device = keep_on_device or device.type != "cpu"
            terms = {k: v.float() if on_device else v.float().cpu()
                     for k, v in model.element_terms(tokens.to(device), kind).items()}
        return cls(uniq, tokens, terms)
