"""What the model reads for the elements of one role (enhancers or promoters).

``ElementInputs(codes, features)[rows]`` gives the element input of model/features.py:

* codes only      -> uint8 (k, L)        (sequence tower)
* features only   -> float32 (k, F)      (feature tower)
* both            -> float32 (k, F + L)  (features, then the codes as exact integers)
"""

from __future__ import annotations

from typing import Callable

import numpy as np


class ElementInputs:
    """codes : uint8 (n, L) (a dataset memmap) or None; features : float32 (n, F) or None."""

    def __init__(self, codes: np.ndarray | None, features: np.ndarray | None):
        if codes is None and features is None:
            raise ValueError("ElementInputs needs codes, features or both")
        if codes is not None and features is not None and len(codes) != len(features):
            raise ValueError(f"{len(codes)} element windows but {len(features)} feature rows")
        self.codes, self.features = codes, features

    def __len__(self) -> int:
        return len(self.codes if self.codes is not None else self.features)

    def take(self, rows, transform_codes: Callable[[np.ndarray], np.ndarray] | None = None
             ) -> np.ndarray:
        """The element input of ``rows`` (int array); ``transform_codes`` (e.g. training
        augmentation) is applied to the codes part only."""
        rows = np.asarray(rows, dtype=np.int64)
        codes = None
        if self.codes is not None:
            codes = np.ascontiguousarray(self.codes[rows])
            if transform_codes is not None:
                codes = transform_codes(codes)
        if self.features is None:
            return codes
        feats = np.ascontiguousarray(self.features[rows], dtype=np.float32)
        if codes is None:
            return feats
        return np.concatenate([feats, codes.astype(np.float32)], axis=1)

    __getitem__ = take
