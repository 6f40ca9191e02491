"""Base codes, one-hot, reverse complement.

Sequences are stored as uint8 codes A=0, C=1, G=2, T=3, N=4 (anything else, including
IUPAC ambiguity codes, is N). Lowercase (soft-masked) bases are upper-cased first.
One-hot is ACGT order with N as an all-zero column.
"""

from __future__ import annotations

import numpy as np

N_CODE = 4
ALPHABET = "ACGTN"

# byte value -> code; lowercase maps like uppercase, everything else is N.
_LUT = np.full(256, N_CODE, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _LUT[ord(_b)] = _i
    _LUT[ord(_b.lower())] = _i
_DECODE = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


def encode(seq: str | bytes) -> np.ndarray:
    """Encode a DNA string. Returns uint8 codes, shape=(len(seq),)."""
    if isinstance(seq, str):
        seq = seq.encode("ascii", errors="replace")
    return _LUT[np.frombuffer(seq, dtype=np.uint8)]


def encode_bytes_into(buf: bytes | memoryview, out: np.ndarray) -> None:
    """Encode raw ASCII bytes into a preallocated uint8 array of the same length."""
    np.take(_LUT, np.frombuffer(buf, dtype=np.uint8), out=out)


def decode(codes: np.ndarray) -> str:
    """Codes, shape=(L,) -> upper-case string with N for code 4."""
    return _DECODE[np.asarray(codes, dtype=np.uint8)].tobytes().decode("ascii")


def reverse_complement(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of codes along the last axis, shape preserved (N stays N)."""
    return _COMPLEMENT[np.asarray(codes)][..., ::-1].copy()


def one_hot(codes, device=None, dtype=None):
    """Codes, shape=(..., L) (numpy or torch, uint8) -> one-hot, shape=(..., 4, L).

    Runs on ``device`` (default: the tensor's own device, or cuda if available for numpy
    input). N (code 4) becomes an all-zero column.
    """
    import torch

    if not torch.is_tensor(codes):
        codes = torch.from_numpy(np.ascontiguousarray(codes))
    if device is not None:
        codes = codes.to(device, non_blocking=True)
    dtype = dtype or torch.float32
    x = torch.nn.functional.one_hot(codes.long(), num_classes=5)[..., :4]  # (..., L, 4)
    return x.transpose(-1, -2).to(dtype)


def reverse_complement_one_hot(x):
    """Reverse complement of a one-hot tensor, shape=(..., 4, L): flip ACGT and length."""
    return x.flip(-2).flip(-1)
