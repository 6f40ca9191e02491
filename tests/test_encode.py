import numpy as np
import pytest
import torch

from prism_cli.encode import (decode, encode, one_hot, reverse_complement,
                              reverse_complement_one_hot)


def test_encode_known_answer_lowercase_and_n():
    assert encode("ACGTacgtNnRy").tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4, 4, 4, 4]
    assert decode(encode("acgtNRA")) == "ACGTNNA"


def test_reverse_complement_known_and_involution():
    assert decode(reverse_complement(encode("AACGTN"))) == "NACGTT"
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=(7, 33), dtype=np.uint8)
    assert np.array_equal(reverse_complement(reverse_complement(x)), x)


def test_one_hot_and_rc_agree(device):
    codes = encode("ACGTN")
    x = one_hot(codes, device=device)
    assert x.shape == (4, 5) and x.device.type == device
    expected = torch.tensor([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0],
                             [0, 0, 0, 1, 0]], dtype=torch.float32)
    assert torch.equal(x.cpu(), expected)
    batch = np.random.default_rng(1).integers(0, 5, size=(3, 20), dtype=np.uint8)
    rc_then_onehot = one_hot(reverse_complement(batch))
    onehot_then_rc = reverse_complement_one_hot(one_hot(batch))
    assert torch.equal(rc_then_onehot, onehot_then_rc)
    assert one_hot(torch.from_numpy(batch)).shape == (3, 4, 20)
