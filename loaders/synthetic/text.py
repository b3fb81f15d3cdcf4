"""Fixed-width text built in bulk: byte matrices turned into Arrow string arrays.

Formatting millions of ids or timestamps one Python string at a time takes tens of
seconds; writing their characters column by column into an ``(n, width)`` byte
matrix and handing the buffer to Arrow takes a fraction of one.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = [
    "HEX_LOWER",
    "HEX_UPPER",
    "ascii_bytes",
    "calendar_date",
    "iso_timestamps",
    "put_digits",
    "put_hex",
    "strings_from_bytes",
]

HEX_LOWER = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
HEX_UPPER = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


def strings_from_bytes(matrix: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """Turn a fixed-width ASCII byte matrix into an Arrow string array, one row each.

    Parameters
    ----------
    matrix : np.ndarray
        ``uint8``, shape ``(n, width)``: the characters of each string.
    valid : np.ndarray, optional
        ``bool`` ``(n,)``: rows to keep; the others become null.

    Returns
    -------
    pa.StringArray
        Length ``n``; row ``i`` is ``matrix[i].tobytes().decode()``.

    Examples
    --------
    >>> strings_from_bytes(np.frombuffer(b"abcd", dtype=np.uint8).reshape(2, 2)).to_pylist()
    ['ab', 'cd']
    """
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(matrix, dtype=np.uint8)
    bitmap = None
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        pa.string(), n, [bitmap, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def ascii_bytes(text: str) -> np.ndarray:
    """The characters of ``text`` as a ``uint8`` array."""
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8)


def put_digits(out: np.ndarray, column: int, values: np.ndarray, width: int) -> None:
    """Write ``values`` zero-padded to ``width`` decimal digits at ``out[:, column:]``."""
    rest = values.astype(np.int64, copy=True)
    for j in range(width - 1, -1, -1):  # a loop over digit positions, not rows
        out[:, column + j] = rest % 10 + 48
        rest //= 10


def put_hex(out: np.ndarray, column: int, values: np.ndarray, width: int, upper: bool) -> None:
    """Write the low ``4 * width`` bits of ``values`` as hex digits at ``out[:, column:]``."""
    table = HEX_UPPER if upper else HEX_LOWER
    v = values.astype(np.uint64, copy=False)
    for j in range(width):
        shift = np.uint64(4 * (width - 1 - j))
        out[:, column + j] = table[((v >> shift) & np.uint64(15)).astype(np.intp)]


def calendar_date(seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month (1-12) and day (1-31) of epoch seconds (UTC), each ``int64``."""
    day = (seconds // 86_400).astype("datetime64[D]")
    month_start = day.astype("datetime64[M]")
    year = day.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    dom = (day - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, dom


def iso_timestamps(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """Epoch seconds as ISO-8601 UTC text, ``2026-03-01T08:15:02Z``.

    Parameters
    ----------
    seconds : np.ndarray
        ``int64`` ``(n,)``: seconds since the Unix epoch (1970 or later).
    valid : np.ndarray, optional
        ``bool`` ``(n,)``: rows to format; the others become null.

    Examples
    --------
    >>> iso_timestamps(np.array([0, 1_782_777_600])).to_pylist()
    ['1970-01-01T00:00:00Z', '2026-06-30T00:00:00Z']
    """
    seconds = np.asarray(seconds, dtype=np.int64)
    if valid is not None:
        seconds = np.where(valid, seconds, 0)
    year, month, dom = calendar_date(seconds)
    clock = seconds % 86_400
    out = np.empty((len(seconds), 20), dtype=np.uint8)
    put_digits(out, 0, year, 4)
    put_digits(out, 5, month, 2)
    put_digits(out, 8, dom, 2)
    put_digits(out, 11, clock // 3600, 2)
    put_digits(out, 14, clock // 60 % 60, 2)
    put_digits(out, 17, clock % 60, 2)
    out[:, 4] = out[:, 7] = ord("-")
    out[:, 10] = ord("T")
    out[:, 13] = out[:, 16] = ord(":")
    out[:, 19] = ord("Z")
    return strings_from_bytes(out, valid)
