"""Rows of text built with numpy, without a Python string per value.

A column's text is held as byte *planes*: a uint8 array, shape=(width, rows), plane k
holding the k-th byte of every row's text and NUL where a row has no byte there (NUL
bytes may sit anywhere in a value's planes, between its parts too; they are dropped).
:func:`join_planes` puts the columns' planes and the separators one under the other,
turns the stack into rows and drops every NUL.  (Planes, not rows: numpy copies and
computes along long contiguous rows of planes quickly, and along short rows of a
(rows, width) table slowly.)

Floats are the shortest text that reads back to the same float64 (Python's ``repr``).
Values that are exactly float32 (what the model writes) with 2**-19 <= |x| < 2**53 get
theirs from exact integer arithmetic (:func:`_shortest`); any other value is formatted
with ``repr``, each distinct value once.

``io/scored/layout.py`` decides which column of a scored BEDPE gets which planes (the
same text as ``layout._format_column``) and keeps the Python formatting as the fallback;
``pair_table.tsv_bytes`` takes its integer columns from :func:`int_planes`.
"""

from __future__ import annotations

import numpy as np

MISSING = "."

_POW10 = 10 ** np.arange(19, dtype=np.int64)
_POW5 = 5 ** np.arange(23, dtype=np.int64)
_POW5F = _POW5.astype(np.float64)  # exact (5**22 < 2**53)
_POW2F_AT = 64
_POW2F = np.ldexp(1.0, np.arange(-_POW2F_AT, 64))  # 2**j at j + _POW2F_AT
_POW10F_AT = 30
_POW10F = np.array([float(10 ** j) if j >= 0 else float(f"1e{j}")
                    for j in range(-_POW10F_AT, 40)])  # nearest float64 to 10**j
_DIGITS4 = np.ascontiguousarray(
    (np.arange(10_000)[:, None] // np.array([1000, 100, 10, 1]) % 10 + ord("0"))
    .astype(np.uint8).T)  # "0000" ... "9999" as planes, shape=(4, 10000)
_FAST_LOW, _FAST_HIGH = 2.0 ** -19, 2.0 ** 53  # the range of _shortest
_NUL, _DOT, _ZERO = 0, ord("."), ord("0")


class NotPlain(Exception):
    """A value planes cannot hold (a NUL byte, text UTF-8 cannot encode): the caller
    formats the rows with Python instead, which behaves as it always did."""


def tab_error() -> ValueError:
    return ValueError("a text value contains a tab or newline; it cannot be written to a "
                      "tab-separated file")


# --------------------------------------------------------------------------- planes

def int_planes(v: np.ndarray) -> np.ndarray:
    """Decimal text of int64 ``v`` ('-' where negative), right-aligned, shape=(w, n)."""
    if len(v) == 0:
        return np.zeros((1, 0), dtype=np.uint8)
    if v.min() == np.iinfo(np.int64).min:  # |v| does not fit in int64
        return text_planes(list(map(str, v.tolist())))
    mag = np.abs(v)
    top = int(mag.max())
    groups = []
    while True:
        groups.append(np.take(_DIGITS4, mag % 10_000, axis=1))
        if top < 10_000:
            break
        top //= 10_000
        mag = mag // 10_000
    planes = np.concatenate(groups[::-1])[-len(str(int(mag.max()))) - 4 * (len(groups) - 1):]
    # leading zeros: the planes before a row's first nonzero digit (all but the last)
    seen = planes[0] != _ZERO
    for plane in planes[:-1]:
        seen |= plane != _ZERO
        plane *= seen
    if (v < 0).any():
        sign = np.where(v < 0, ord("-"), _NUL).astype(np.uint8)
        planes = np.concatenate([sign[None], planes])
    return planes


def text_planes(values: list[str], empty: str | None = None) -> np.ndarray:
    """UTF-8 text of ``values`` (str), left-aligned, shape=(w, n); ``empty`` (one ASCII
    character) replaces empty strings when given."""
    n = len(values)
    if n == 0:
        return np.zeros((1, 0), dtype=np.uint8)
    try:
        blob = ("\n".join(values) + "\n").encode()
    except UnicodeEncodeError:
        raise NotPlain from None
    if b"\x00" in blob:
        raise NotPlain
    if blob.count(b"\n") != n or b"\t" in blob or b"\r" in blob:
        raise tab_error()
    a = np.frombuffer(blob, dtype=np.uint8)
    if len(a) % n == 0 and (a[len(a) // n - 1::len(a) // n] == 10).all():
        w = len(a) // n - 1  # all of one length (names, ids): no gather
        planes = a.reshape(n, w + 1)[:, :w].T.copy()
        length = np.full(n, w)
    else:
        end = np.flatnonzero(a == 10)
        start = np.empty_like(end)
        start[0] = 0
        start[1:] = end[:-1] + 1
        length = end - start
        w = int(length.max())
        at = np.arange(w)[:, None]
        planes = np.take(a, np.minimum(start + at, len(a) - 1))
        planes *= at < length
    if w == 0:
        planes = np.zeros((1, n), dtype=np.uint8)
    if empty is not None and (length == 0).any():
        planes[0, length == 0] = ord(empty)
    return planes


def float_planes(v: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``repr`` of each float64 of ``v``, '.' where ``missing``, shape=(w, n)."""
    n = len(v)
    a = np.abs(v)
    with np.errstate(over="ignore", invalid="ignore"):
        fast = (a >= _FAST_LOW) & (a < _FAST_HIGH) & (v.astype(np.float32) == v) & ~missing
    if n and fast.all():
        c, zeros, s, ok = _shortest(a)
        if ok.all():
            return _float_text(c, zeros, s, v < 0)
    rows = np.flatnonzero(fast)
    pieces = []
    if len(rows):
        c, zeros, s, ok = _shortest(a[rows])
        if not ok.all():
            rows, c, zeros, s = rows[ok], c[ok], zeros[ok], s[ok]
            fast[:] = False
            fast[rows] = True
        pieces.append((rows, _float_text(c, zeros, s, v[rows] < 0)))
    slow = np.flatnonzero(~fast & ~missing)
    if len(slow):
        # distinct bit patterns (0.0 and -0.0 apart), each formatted once
        uniq, inverse = np.unique(v[slow].view(np.int64), return_inverse=True)
        planes = text_planes(list(map(repr, uniq.view(np.float64).tolist())))
        pieces.append((slow, np.take(planes, inverse.reshape(-1), axis=1)))
    if len(pieces) == 1 and len(pieces[0][0]) == n:
        return pieces[0][1]
    out = np.zeros((max([len(p) for _, p in pieces] + [1]), n), dtype=np.uint8)
    for at, planes in pieces:
        out[:len(planes), at] = planes
    out[0, missing] = _DOT
    return out


# --------------------------------------------------------------------------- floats

def _shortest(a: np.ndarray):
    """Shortest round-trip digits of positive floats that are exactly float32 values,
    2**-19 <= a < 2**53.

    a = m * 2**e (m < 2**24, the float32 significand); X = a * 10**s is scaled into
    [1e16, 1e17) and split exactly into an integer xi and a fraction f (f * 2**k an
    integer, k <= 22, so float64 holds f plus any integer below 2**30 exactly). The
    float64s that read back as ``a`` are those within h = 2**(e-30) * 10**s of X (half
    the float64 spacing, 0.55 <= h < 11.2; exact in float64). Of the integers in
    [X - h, X + h] the one with most trailing zeros is the shortest text, and of two
    such the nearer to X, the even one if equally near: what repr writes. The bounds
    have 30 or more significant digits, so no candidate lies on one. Next to a power of
    two (m = 2**23) the interval is lopsided: those are left to repr (``ok`` False).

    Returns (c, zeros, s, ok): c int64 in [1e16, 1e17) the 17 digits, ``zeros`` of them
    trailing (not written), a = c * 10**-s.
    """
    bits = a.view(np.int64)
    m = (bits >> 29 & 0x7FFFFF) | 0x800000
    e = (bits >> 52) - 1046  # a = m * 2**e
    # floor(log10(a)): floor((e + 23) * log10(2)), or one more
    e10 = (e + 23) * 78913 >> 18
    e10 += a >= np.take(_POW10F, e10 + 1 + _POW10F_AT)
    s = 16 - e10
    xi, f = _scaled(m, e, s)
    scaled = (xi >= _POW10[16]) & (xi < _POW10[17])  # (always, as e10 is exact)
    h = np.take(_POW5F, s) * np.take(_POW2F, e + s - 30 + _POW2F_AT)
    # level 0: the nearest integer (half to even), always in the interval as h > 0.5
    best = xi + ((f > 0.5) | ((f == 0.5) & (xi & 1 == 1)))
    zeros = np.zeros(len(a), dtype=np.int64)
    low = xi - xi // 1000 * 1000  # levels 1-3 (multiples of 10, 100, 1000) on X mod 1000
    live = None  # rows with a candidate at every level so far (None: all)
    for t in range(1, 18):
        g = _POW10[t]
        x = xi if live is None else xi[live]
        r = (low if live is None else low[live]) % g if t <= 3 else x - x // g * g
        down = x - r
        fx = f if live is None else f[live]
        # X - down and down + g - X: exact wherever they are near h (small integers)
        d_down = r + fx
        d_up = (g - r) - fx
        hh = h if live is None else h[live]
        hit_down, hit_up = d_down <= hh, d_up <= hh
        hit = hit_down | hit_up
        if not hit.any():
            break
        # the nearer; equally near: the even last digit (round half to even, as repr)
        up = hit_up & (~hit_down | (d_up < d_down))
        tie = hit_down & hit_up & (d_up == d_down)
        if tie.any():
            up |= tie & ((down // g) % 2 == 1)
        if live is None:  # all rows: no gather
            best += hit * (down + g * up - best)
            zeros = hit.astype(np.int64)
            live = np.flatnonzero(hit)
        else:
            live = live[hit]
            best[live] = (down + g * up)[hit]
            zeros[live] = t
    top = best == _POW10[17]  # X rounded up to 10**17: 10**16 at one less s
    if top.any():
        best[top] //= 10
        zeros[top] -= 1
        s = s - top
    return best, zeros, s, scaled & (m != 0x800000)


def _scaled(m, e, s):
    """X = m * 2**e * 10**s as (xi, f): xi = floor(X) int64, f = X - xi float64."""
    e2 = e + s
    p = np.take(_POW5, s)
    k = np.maximum(-e2, 0)
    mask = (np.int64(1) << k) - 1
    mr = m * (p & mask)
    xi = (m * (p >> k) + (mr >> k)) << np.maximum(e2, 0)
    return xi, (mr & mask) * np.take(_POW2F, _POW2F_AT - k)


def _float_text(c, zeros, s, negative) -> np.ndarray:
    """repr's layout of c * 10**-s (c: 17 digits, the last ``zeros`` not written),
    shape=(w, n): d.ddde-XX where the exponent is < -4 or >= 16, else positional with
    '.0' after a whole number."""
    n_rows = len(c)
    if n_rows == 0:
        return np.zeros((1, 0), dtype=np.uint8)
    hi = c // 10 ** 8  # 9 and 8 digits
    lo = (c - hi * 10 ** 8).astype(np.int32)
    hi = hi.astype(np.int32)
    dig = np.concatenate([np.take(_DIGITS4, hi // 10 ** 8, axis=1)[3:],
                          np.take(_DIGITS4, hi // 10 ** 4 % 10 ** 4, axis=1),
                          np.take(_DIGITS4, hi % 10 ** 4, axis=1),
                          np.take(_DIGITS4, lo // 10 ** 4, axis=1),
                          np.take(_DIGITS4, lo % 10 ** 4, axis=1)])  # shape=(17, n)
    n = (17 - zeros).astype(np.int8)  # significant digits
    exp10 = (16 - s).astype(np.int8)  # exponent of the first digit
    point = exp10 + 1  # digits before the decimal point
    sci = (exp10 < -4) | (exp10 >= 16)
    lead = ~sci & (point <= 0)  # 0.000ddd
    # digits written (with the zeros of a whole number), and where the point goes
    keep = np.where(sci | lead, n, np.maximum(n, point))
    at = np.where(sci, np.where(n > 1, 1, 99), np.where(lead, 99, point)).astype(np.int8)
    dig *= np.arange(17, dtype=np.int8)[:, None] < keep
    pad = np.zeros((1, n_rows), dtype=np.uint8)
    if (at == at[0]).all():  # one place for the point (or none) in every row
        p = int(at[0])
        body = (dig if p > 17 else
                np.concatenate([dig[:p], np.full((1, n_rows), _DOT, np.uint8), dig[p:]]))
    else:  # digit c before the point, '.', digit c - 1 after it (masks: faster than where)
        col = np.arange(18, dtype=np.int8)[:, None]
        before, after = (col < at).view(np.uint8), (col > at).view(np.uint8)
        body = (np.concatenate([dig, pad]) * before + np.concatenate([pad, dig]) * after
                + (1 - before - after) * np.uint8(_DOT))
    parts = []
    if negative.any():
        parts.append((negative * np.uint8(ord("-")))[None])
    if lead.any():
        zero = lead * np.uint8(_ZERO)
        parts += [zero[None], (lead * np.uint8(_DOT))[None]]
        if (point < 0).any():
            parts.append(zero * (np.arange(3, dtype=np.int8)[:, None] < -point))
    parts.append(body)
    whole = ~sci & (point >= n)  # ddd00.0
    if whole.any():
        parts.append((whole * np.uint8(_ZERO))[None])
    if sci.any():
        mag = np.abs(exp10).astype(np.uint8)
        ex = np.zeros((4, n_rows), dtype=np.uint8)
        ex[0] = sci * np.uint8(ord("e"))
        ex[1] = np.where(exp10 < 0, ord("-"), ord("+")) * sci
        ex[2] = (mag // 10 + _ZERO) * sci
        ex[3] = (mag % 10 + _ZERO) * sci
        parts.append(ex)
    return np.concatenate(parts)


# --------------------------------------------------------------------------- rows

def join_planes(columns: list[np.ndarray]) -> bytes:
    """Tab-separated, newline-terminated rows of the columns' planes."""
    n = columns[0].shape[1]
    if n == 0:
        return b""
    tab = np.full((1, n), ord("\t"), dtype=np.uint8)
    parts = [x for planes in columns for x in (planes, tab)]
    parts[-1] = np.full((1, n), ord("\n"), dtype=np.uint8)
    return np.concatenate(parts).T.tobytes().translate(None, b"\x00")
