"""prism_cli.predict pieces shared with training, and the typed Checkpoint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from prism_cli.checkpoint import Checkpoint
from prism_cli.model import build_model
from prism_cli.predict.cache import ElementCache, encode_chunks
from prism_cli.predict.pairs import frame_outputs, pair_outputs
from prism_cli.predict.support import pad_rows

from .conftest import save_tiny_model
from .test_model import tiny


def test_pad_rows_known_answer():
    rows, mask = pad_rows([np.array([4, 2]), np.array([], dtype=np.int64), np.array([7, 8, 9])])
    assert rows.dtype == np.int64 and mask.dtype == bool
    assert rows.tolist() == [[4, 2, 0], [0, 0, 0], [7, 8, 9]]
    assert mask.tolist() == [[True, True, False], [False, False, False], [True, True, True]]
    rows, mask = pad_rows([])
    assert rows.shape == mask.shape == (0, 0)


def test_checkpointed_chunks_give_the_values_and_gradients_of_one_pass():
    torch.manual_seed(0)
    model = build_model(tiny()).eval()
    codes = torch.from_numpy(np.random.default_rng(0).integers(0, 5, (7, 48), dtype=np.uint8))

    def grads(chunk):
        model.zero_grad()
        out = torch.cat(encode_chunks(model.encode_enhancers, codes, chunk, grad=True))
        out.pow(2).sum().backward()
        return out.detach(), [p.grad.clone() for p in model.enhancer_tower.parameters()
                              if p.grad is not None]

    whole, g_whole = grads(0)
    parts, g_parts = grads(3)
    assert torch.allclose(whole, parts, atol=1e-5)
    assert len(g_whole) == len(g_parts) > 0
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(g_whole, g_parts))
    plain = torch.cat(encode_chunks(model.encode_enhancers, codes, 3))
    assert not plain.requires_grad and torch.allclose(plain, whole, atol=1e-5)


def test_frame_outputs_are_the_caches_and_the_log10_distance():
    torch.manual_seed(0)
    model = build_model(tiny()).eval()
    rng = np.random.default_rng(2)
    enh = rng.integers(0, 5, (6, 40), dtype=np.uint8)
    prom = rng.integers(0, 5, (4, 40), dtype=np.uint8)
    pairs = pd.DataFrame({"enh_idx": rng.integers(0, 6, 9), "prom_idx": rng.integers(0, 4, 9),
                          "distance": [0, 1, 10, 999, 10_000, 5, 123_456, 2, 70]})
    out = frame_outputs(model, (enh, prom), pairs)
    ec = ElementCache.build(model, enh, pairs["enh_idx"], "enhancer")
    pc = ElementCache.build(model, prom, pairs["prom_idx"], "promoter")
    ld = np.log10([1, 1, 10, 999, 10_000, 5, 123_456, 2, 70])
    direct = pair_outputs(model, ec, pc, pairs["enh_idx"], pairs["prom_idx"], ld)
    for k in ("z_I", "U", "z_F"):
        assert torch.equal(out[k], direct[k]), k


def test_checkpoint_fields_are_read_from_the_metadata(tmp_path):
    prefix = save_tiny_model(tmp_path / "m" / "model")
    meta_only = Checkpoint.read(tmp_path / "m")
    assert meta_only.model is None
    assert meta_only.cells == ["A", "B"] and meta_only.support_sizes == (4, 32)
    assert [(w.length, w.anchor) for w in meta_only.windows] == [(64, "center"), (64, "center")]
    assert meta_only.arch == "prism" and meta_only.splits is None
    assert meta_only.element_features is None and meta_only.dataset_path is None
    loaded = Checkpoint.load(prefix, "cpu")
    assert loaded.model is not None and not loaded.model.training
    assert loaded.cells == meta_only.cells and loaded.meta["format"] == "prism-checkpoint"


@pytest.mark.parametrize("cells", [["A", "B"], {"names": ["A", "B"]},
                                   [{"name": "A"}, {"name": "B"}]])
def test_checkpoint_reads_older_metadata_spellings(cells):
    meta = {"cells": cells, "model_config": {"enhancer_length": 30, "promoter_length": 20},
            "windows": {"promoter_anchor": "five_prime"}}
    ck = Checkpoint.from_meta(meta)
    assert ck.cells == ["A", "B"]
    assert ck.support_sizes == (8, 256)                  # no train_config: the defaults
    assert [(w.length, w.anchor) for w in ck.windows] == [(30, "center"), (20, "five_prime")]
