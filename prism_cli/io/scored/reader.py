"""Reading a scored BEDPE and its JSON sidecar back."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd

from ...errors import PrismInputError
from .layout import COORD_COLUMNS, MISSING, TEXT_COLUMNS

# pandas < 3 parses floats exactly only with float_precision="round_trip"; pandas 3 always
# does and deprecates the argument.
_PANDAS_MAJOR = int(pd.__version__.split(".")[0])


def _compression(path: Path) -> str | None:
    with open(path, "rb") as fh:
        return "gzip" if fh.read(2) == b"\x1f\x8b" else None


def _open_binary(path: Path):
    """The file's bytes, decompressed when it is gzip/BGZF."""
    import gzip

    fh = open(path, "rb")
    if fh.read(2) == b"\x1f\x8b":
        fh.seek(0)
        return gzip.GzipFile(fileobj=fh)
    fh.seek(0)
    return fh


def read_header(path: str | Path) -> tuple[list[str], int]:
    """Column names from the last ``#`` line before the data, and the number of such lines."""
    path = Path(path)
    if not path.exists():
        raise PrismInputError("no such file", str(path))
    names, n_header = None, 0
    with _open_binary(path) as raw, io.TextIOWrapper(raw, errors="replace") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            n_header += 1
            if not line.startswith("##"):
                names = line[1:].rstrip("\r\n").split("\t")
    if names is None:
        raise PrismInputError("no '#' header line naming the columns (is this a scored BEDPE "
                              "written by `prism score`?)", str(path))
    return names, n_header


def read_scored_bedpe(path: str | Path) -> pd.DataFrame:
    """Read a scored BEDPE back into a DataFrame (column names from the header line).

    '.' reads as missing; floats are parsed exactly (every float64 reads back bit-equal);
    chromosome, name, strand and cell columns stay text. ``df.attrs`` holds ``path`` and
    ``first_data_line`` (1-based file line of row 0), so callers can cite ``file:line``.
    Raises PrismInputError for a missing file, a missing header or a row with the wrong number
    of fields.
    """
    path = Path(path)
    names, n_header = read_header(path)
    with _open_binary(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno <= n_header:
                continue
            n_fields = raw.count(b"\t") + 1
            if n_fields != len(names):
                if not raw.strip():
                    raise PrismInputError("empty line", str(path), lineno)
                raise PrismInputError(f"{n_fields} fields, the header names {len(names)}",
                                      str(path), lineno)
    dtypes = {c: str for c in TEXT_COLUMNS if c in names}
    exact = {} if _PANDAS_MAJOR >= 3 else {"float_precision": "round_trip"}
    try:
        df = pd.read_csv(path, sep="\t", header=None, names=names, skiprows=n_header,
                         dtype=dtypes, na_values=[MISSING], keep_default_na=False,
                         comment=None, quoting=3, compression=_compression(path), **exact)
    except pd.errors.EmptyDataError:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in names})
    for c in COORD_COLUMNS + ["score"]:
        if c in df.columns and len(df) and not pd.api.types.is_integer_dtype(df[c].dtype):
            bad = _first_non_integer(df[c])
            raise PrismInputError(f"{c} must be an integer, got {df[c].iloc[bad]!r}",
                                  str(path), n_header + 1 + bad)
    df.attrs["path"] = str(path)
    df.attrs["first_data_line"] = n_header + 1
    return df


def _first_non_integer(values: pd.Series) -> int:
    for i, v in enumerate(values):
        try:
            if isinstance(v, float) and (math.isnan(v) or v % 1 != 0):
                return i
            int(v)
        except (TypeError, ValueError):
            return i
    return 0


def read_sidecar(path: str | Path) -> dict | None:
    """The JSON sidecar ``<path>.json`` of a scored BEDPE, or None when there is none."""
    sidecar = Path(str(path) + ".json")
    if not sidecar.exists():
        return None
    try:
        with open(sidecar) as fh:
            meta = json.load(fh)
    except json.JSONDecodeError as err:
        raise PrismInputError(f"not valid JSON ({err.msg})", str(sidecar), err.lineno) from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise PrismInputError("not a JSON text file", str(sidecar)) from None
    if not isinstance(meta, dict):
        raise PrismInputError("expected a JSON object", str(sidecar))
    return meta
