"""Shared tiny fixtures: a FASTA of a few hundred bases written in the test."""

from __future__ import annotations

import pysam
import pytest
import torch

# Test tensors are tiny: one thread avoids OpenMP spin-wait overhead (and oversubscription
# when the machine is busy), and makes CPU results independent of the core count.
torch.set_num_threads(1)

CHR1 = ("ACGTacgtNNACGTTGCA" * 20)[:300]          # 300 bp, soft-masked and N
CHR2 = ("GGGCCCAAATTT" * 30)[:250]                 # 250 bp


def write_fasta(path, seqs: dict[str, str]):
    with open(path, "w") as fh:
        for name, seq in seqs.items():
            fh.write(f">{name}\n")
            for i in range(0, len(seq), 60):
                fh.write(seq[i:i + 60] + "\n")
    pysam.faidx(str(path))
    return path


@pytest.fixture
def tiny_fasta(tmp_path):
    return write_fasta(tmp_path / "g.fa", {"chr1": CHR1, "chr2": CHR2})


def write_text(path, text: str):
    path.write_text(text)
    return path


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA not available")
    return request.param


def save_tiny_model(prefix):
    """A small random-weight PRISM checkpoint (torch seed 0; 64 bp windows, training cells
    A and B, supports of 4-32 pairs) saved at ``prefix``; its folder is created."""
    import torch

    from prism_cli.checkpoint import save_checkpoint
    from prism_cli.model import ModelConfig, build_model

    torch.manual_seed(0)
    cfg = ModelConfig(enhancer_length=64, promoter_length=64, channels=16, d_model=16,
                      n_heads=2, d_z=16, d_f=8, n_prototypes=4, d_env=8, student_hidden=16,
                      n_tokens=4, n_cells=2, dilations=(2,))
    meta = {"cells": [{"name": "A", "index": 0}, {"name": "B", "index": 1}],
            "windows": {"enhancer_length": 64, "promoter_length": 64},
            "train_config": {"support_min": 4, "support_max": 32}}
    prefix.parent.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(prefix, build_model(cfg), meta)
