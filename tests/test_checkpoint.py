"""Checkpoints: exact round trip, self-describing metadata, no unpickling ever."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

from prism_cli.predict import cache, environment, pairs
from prism_cli.checkpoint import (load_checkpoint, load_train_state, read_meta,
                                  save_checkpoint, save_train_state)
from prism_cli.errors import PrismInputError
from prism_cli.model import build_model

from .test_model import tiny


class _Evil:
    """Unpickling this creates a marker file (stands in for arbitrary code execution)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _model(arch="prism"):
    torch.manual_seed(0)
    return build_model(tiny(arch=arch)).eval()


def _outputs(model):
    rng = np.random.default_rng(0)
    enh = rng.integers(0, 5, (6, 40), dtype=np.uint8)
    prom = rng.integers(0, 5, (4, 40), dtype=np.uint8)
    e_idx, p_idx = rng.integers(0, 6, 30), rng.integers(0, 4, 30)
    ld = rng.uniform(3, 5, 30)
    ec = cache.ElementCache.build(model, enh, e_idx, "enhancer")
    pc = cache.ElementCache.build(model, prom, p_idx, "promoter")
    out = pairs.pair_outputs(model, ec, pc, e_idx, p_idx, ld)
    pi = environment.teacher_pi(model, 1) if model.has_environment else None
    return out, environment.predict(model, out["U"], out["z_F"], pi)["p"]


@pytest.mark.parametrize("arch", ["prism", "crossattn"])
def test_round_trip_gives_identical_predictions(tmp_path, arch):
    model = _model(arch)
    meta = {"cells": [{"name": "A", "index": 0}], "splits": {"val": ["chr3"], "test": ["chr4"]}}
    prefix = save_checkpoint(tmp_path / "best", model, meta)
    assert (tmp_path / "best.safetensors").exists() and (tmp_path / "best.json").exists()
    loaded, meta2 = load_checkpoint(tmp_path)              # a run directory -> best
    assert not loaded.training
    assert meta2["splits"]["test"] == ["chr4"] and meta2["format"] == "prism-checkpoint"
    assert meta2["model_config"]["arch"] == arch
    out1, p1 = _outputs(model)
    out2, p2 = _outputs(loaded)
    for k in out1:
        assert torch.equal(out1[k], out2[k])
    assert torch.equal(p1, p2)
    for path in (prefix, str(prefix) + ".safetensors", str(prefix) + ".json"):
        assert load_checkpoint(path)[1]["model_config"] == meta2["model_config"]


def test_checkpoint_saved_before_kmer_token_loads_without_it(tmp_path):
    """A config stored without ``kmer_k`` (older PRISM) rebuilds the model it was: no
    k-mer token, identical predictions; one stored with it keeps its token."""
    model = _model()                        # tiny(): kmer_k=0
    save_checkpoint(tmp_path / "old", model, {})
    meta_path = tmp_path / "old.json"
    meta = json.loads(meta_path.read_text())
    del meta["model_config"]["kmer_k"]
    meta_path.write_text(json.dumps(meta))
    loaded, _ = load_checkpoint(tmp_path / "old")
    assert loaded.cfg.kmer_k == 0 and loaded.enhancer_tower.kmer is None
    assert torch.equal(_outputs(model)[1], _outputs(loaded)[1])
    torch.manual_seed(0)
    with_kmer = build_model(tiny(kmer_k=3)).eval()
    save_checkpoint(tmp_path / "new", with_kmer, {})
    assert load_checkpoint(tmp_path / "new")[0].cfg.kmer_k == 3


def test_existing_directory_gets_model_prefix(tmp_path):
    save_checkpoint(tmp_path, _model(), {})
    assert (tmp_path / "model.safetensors").exists()
    assert read_meta(tmp_path)["format"] == "prism-checkpoint"


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    save_checkpoint(tmp_path / "m", _model(), {})
    (tmp_path / "m.safetensors").write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(PrismInputError, match="refusing"):
        load_checkpoint(tmp_path / "m")
    # a torch.save'd (zip) full pickle of the model too
    torch.save(_model(), tmp_path / "m.safetensors")
    with pytest.raises(PrismInputError):
        load_checkpoint(tmp_path / "m.safetensors")
    assert not marker.exists()


def test_safetensors_whose_first_byte_is_0x80_loads(tmp_path):
    """A valid file whose header length is 128 mod 256 starts with 0x80, like a pickle."""
    from safetensors.torch import load_file, save_file

    model = _model()
    save_checkpoint(tmp_path / "m", model, {})
    path = tmp_path / "m.safetensors"
    state = load_file(str(path))
    for pad in range(300):
        save_file(state, str(path), metadata={"pad": "y" * pad})
        if path.read_bytes()[:1] == b"\x80":
            break
    assert path.read_bytes()[:1] == b"\x80"
    loaded, _ = load_checkpoint(tmp_path / "m")
    assert torch.equal(_outputs(loaded)[1], _outputs(model)[1])


def test_malicious_resume_state_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "last.state.pt"
    torch.save({"optimizer": _Evil(marker)}, path)
    with pytest.raises(PrismInputError, match="refusing"):
        load_train_state(path)
    assert not marker.exists()
    save_train_state(path, {"optimizer": {"state": {}, "param_groups": []},
                            "torch_rng": torch.get_rng_state()})
    state = load_train_state(path)
    assert torch.equal(state["torch_rng"], torch.get_rng_state())


def test_bad_metadata_is_an_input_error(tmp_path):
    save_checkpoint(tmp_path / "m", _model(), {})
    meta = json.loads((tmp_path / "m.json").read_text())
    meta["model_config"]["channels"] = 999                  # weights no longer fit
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(PrismInputError, match="does not match"):
        load_checkpoint(tmp_path / "m")
    (tmp_path / "m.json").write_text("not json")
    with pytest.raises(PrismInputError, match="not JSON"):
        load_checkpoint(tmp_path / "m")
    with pytest.raises(PrismInputError, match="not found"):
        load_checkpoint(tmp_path / "nothing")


def test_checkpoint_saved_before_the_element_path_of_z_f_loads_without_it(tmp_path):
    """A config stored without ``z_f_elements`` (the shipped model's era) rebuilds a
    model whose z_F = MLP(z_I) only, with identical predictions."""
    torch.manual_seed(0)
    old = build_model(tiny(z_f_elements=False)).eval()
    save_checkpoint(tmp_path / "old", old, {})
    meta_path = tmp_path / "old.json"
    meta = json.loads(meta_path.read_text())
    del meta["model_config"]["z_f_elements"]
    meta_path.write_text(json.dumps(meta))
    loaded, _ = load_checkpoint(tmp_path / "old")
    assert loaded.cfg.z_f_elements is False and loaded.element_path is None
    assert torch.equal(_outputs(old)[1], _outputs(loaded)[1])
