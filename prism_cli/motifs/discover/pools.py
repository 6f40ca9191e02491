"""Element pools as codes and one-hot tensors on a device, and their both-strand PWM scans."""

from __future__ import annotations

import numpy as np

from ..pwm import normalise

_EYE = np.eye(5, dtype=np.float32)[:, :4]   # code -> one-hot row, N = zeros
_CHUNK = 1024                                # sequences per convolution call


class _Pool:
    """Codes (N, L) and their one-hot tensor (N, 4, L + pad) on a device, kept in step;
    the ``pad`` zero (N) columns on the right let one convolution give every motif
    width a score at each of the L starts."""

    def __init__(self, codes: np.ndarray, device, pad: int):
        import torch

        self.codes = codes.copy()
        self.length = codes.shape[1]
        self.x = torch.zeros((len(codes), 4, self.length + pad), device=device)
        self.x[:, :, :self.length] = self._one_hot(np.arange(len(codes)))

    def _one_hot(self, rows):
        import torch

        return torch.from_numpy(_EYE[self.codes[rows]].transpose(0, 2, 1).copy()
                                ).to(self.x.device)

    def overwrite(self, rows: np.ndarray, starts: np.ndarray, width: int, filler: np.ndarray):
        """codes[r, s:s+width] = filler[r, s:s+width] for each (r, s)."""
        if len(rows) == 0:
            return
        cols = starts[:, None] + np.arange(width)[None, :]
        r = np.broadcast_to(rows[:, None], cols.shape)
        self.codes[r, cols] = filler[r, cols]
        touched = np.unique(rows)
        self.x[touched, :, :self.length] = self._one_hot(touched)


class _Scan:
    """Scores of K PWMs over a pool, both strands (log2 odds vs uniform).

    best : (N, K) numpy, each element's best window score; ``chunks`` keep the score
    tensors (B, K, 2, L) when asked, for :meth:`sites`."""

    def __init__(self, pwms: list[np.ndarray], pool: _Pool, keep: bool = False,
                 pseudocount: float = 0.01):
        import torch
        import torch.nn.functional as F

        self.widths = [len(p) for p in pwms]
        self.length = pool.length
        w_max = max(self.widths)
        k = np.zeros((2 * len(pwms), 4, w_max), dtype=np.float32)
        for i, p in enumerate(pwms):
            lo = np.log2(normalise(p, pseudocount) / 0.25)
            k[2 * i, :, :len(p)] = lo.T
            k[2 * i + 1, :, :len(p)] = lo[::-1, ::-1].T
        kernel = torch.from_numpy(k).to(pool.x.device)
        best, self.chunks = [], []
        with torch.no_grad():
            for r in range(0, len(pool.x), _CHUNK):
                s = F.conv1d(pool.x[r:r + _CHUNK], kernel)[..., :self.length]
                s = s.view(s.shape[0], len(pwms), 2, self.length)
                best.append(torch.stack([s[:, i, :, :self.length - w + 1].amax(dim=(1, 2))
                                         for i, w in enumerate(self.widths)], 1))
                if keep:
                    self.chunks.append(s)
        self.best = torch.cat(best).cpu().numpy()

    def sites(self, k: int, threshold: float):
        """Rows, strands, starts of the windows of PWM k scoring >= threshold."""
        import torch

        out, r0 = [], 0
        last = self.length - self.widths[k] + 1
        for s in self.chunks:
            rows = np.flatnonzero(self.best[r0:r0 + len(s), k] >= threshold)
            if len(rows):
                sel = s[torch.from_numpy(rows).to(s.device), k, :, :last]
                hit = (sel >= threshold).nonzero().cpu().numpy()
                hit[:, 0] = rows[hit[:, 0]] + r0
                out.append(hit)
            r0 += len(s)
        hit = np.concatenate(out) if out else np.zeros((0, 3), np.int64)
        return hit[:, 0], hit[:, 1], hit[:, 2]

