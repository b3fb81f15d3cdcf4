"""Identifiers that look like a lender's real data, generated in bulk.

Bank cards are 16-digit UnionPay-style numbers with a valid Luhn check digit, phone
numbers are mainland China mobiles written ``+86 1xx xxxx xxxx``, wallets are 16-digit
``2088...`` ids, devices are Android ids (16 hex digits) or iOS vendor ids (UUIDs).
The pseudonymization tests search outputs for exactly these shapes.

Every generator maps a serial number ``0..n-1`` through a bijection, so ids are unique
by construction (no birthday collisions at a million users) yet look scattered. All
work is vectorised: strings are assembled as fixed-width byte matrices and handed to
Arrow without a Python loop over rows.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from riskgraph.loaders.synthetic.text import (
    HEX_UPPER,
    ascii_bytes,
    calendar_date,
    put_digits,
    put_hex,
    strings_from_bytes,
)

__all__ = [
    "ACCOUNT_TYPES",
    "application_ids",
    "card_numbers",
    "device_ids",
    "luhn_check_digits",
    "phone_numbers",
    "platform_ids",
    "user_ids",
    "wallet_ids",
]

#: ``account_type`` values, in the order of the integer codes the generator uses.
ACCOUNT_TYPES = ("bank_card", "phone", "wallet")

# Issuer prefixes of the shape of UnionPay debit cards (62xxxx).
_CARD_BINS = (
    "622848", "622588", "622202", "621700", "622700", "621226",
    "622609", "621483", "623668", "622908", "621799", "622262",
)  # fmt: skip
# Mainland China mobile number prefixes (three digits after the country code).
_PHONE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "147", "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "173", "175", "176", "177", "178", "180", "181", "182", "183",
    "184", "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip


def _scatter(n: int, modulus: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct integers in ``[0, modulus)``: an affine bijection of a shuffled range.

    ``(a * i + b) mod modulus`` with ``gcd(a, modulus) = 1`` is a bijection, so the
    results are unique; the shuffle hides the arithmetic progression.
    """
    if n > modulus:
        raise ValueError(f"cannot draw {n} distinct values below {modulus}")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # a * i must not overflow int64.
    high = min(modulus, (2**62) // n)
    low = max(1, high // 3)
    a = int(rng.integers(low, high)) if high > low else 1
    while math.gcd(a, modulus) != 1:
        a += 1
    b = int(rng.integers(0, modulus))
    i = rng.permutation(n).astype(np.int64)
    return (a * i + b) % modulus


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser: a bijection on 64-bit integers that looks random."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def luhn_check_digits(digits: np.ndarray) -> np.ndarray:
    """Luhn check digit of each row of ``digits``.

    Parameters
    ----------
    digits : np.ndarray
        Integers 0-9, shape ``(n, width)``: the number without its check digit.

    Returns
    -------
    np.ndarray
        ``int64``, shape ``(n,)``: the digit that makes each number Luhn-valid.

    Examples
    --------
    >>> luhn_check_digits(np.array([[7, 9, 9, 2, 7, 3, 9, 8, 7, 1]])).tolist()
    [3]
    """
    d = digits.astype(np.int64)
    width = d.shape[1]
    # Counting from the right of the full number (check digit = position 1), the
    # digits at even positions are doubled: the payload's last digit and every second.
    doubled = (width - 1 - np.arange(width)) % 2 == 0
    values = np.where(doubled, d * 2, d)
    values = np.where(values > 9, values - 9, values)
    return (10 - values.sum(axis=1) % 10) % 10


def user_ids(n: int, rng: np.random.Generator) -> pa.StringArray:
    """``n`` distinct user ids: ``U`` and 10 digits, e.g. ``U4081736205``."""
    out = np.empty((n, 11), dtype=np.uint8)
    out[:, 0] = ord("U")
    put_digits(out, 1, _scatter(n, 10**10, rng), 10)
    return strings_from_bytes(out)


def card_numbers(n: int, rng: np.random.Generator) -> pa.StringArray:
    """``n`` distinct 16-digit bank card numbers (6-digit BIN, 9 digits, Luhn digit)."""
    bins = np.array([[int(c) for c in b] for b in _CARD_BINS], dtype=np.int64)
    x = _scatter(n, len(_CARD_BINS) * 10**9, rng)
    digits = np.empty((n, 15), dtype=np.int64)
    digits[:, :6] = bins[x // 10**9]
    body = x % 10**9
    for j in range(14, 5, -1):
        digits[:, j] = body % 10
        body //= 10
    out = np.empty((n, 16), dtype=np.uint8)
    out[:, :15] = digits + 48
    out[:, 15] = luhn_check_digits(digits) + 48
    return strings_from_bytes(out)


def phone_numbers(n: int, rng: np.random.Generator) -> pa.StringArray:
    """``n`` distinct mainland mobile numbers formatted ``+86 1xx xxxx xxxx``."""
    prefixes = np.array([list(p.encode()) for p in _PHONE_PREFIXES], dtype=np.uint8)
    x = _scatter(n, len(_PHONE_PREFIXES) * 10**8, rng)
    out = np.empty((n, 17), dtype=np.uint8)
    out[:, :4] = ascii_bytes("+86 ")
    out[:, 4:7] = prefixes[x // 10**8]
    out[:, 7] = out[:, 12] = ord(" ")
    rest = x % 10**8
    put_digits(out, 8, rest // 10**4, 4)
    put_digits(out, 13, rest % 10**4, 4)
    return strings_from_bytes(out)


def wallet_ids(n: int, rng: np.random.Generator) -> pa.StringArray:
    """``n`` distinct e-wallet ids: ``2088`` and 12 digits, the shape of Alipay ids."""
    out = np.empty((n, 16), dtype=np.uint8)
    out[:, :4] = ascii_bytes("2088")
    put_digits(out, 4, _scatter(n, 10**12, rng), 12)
    return strings_from_bytes(out)


def device_ids(is_ios: np.ndarray, rng: np.random.Generator) -> pa.StringArray:
    """Device ids: iOS vendor ids (uppercase UUID v4) where ``is_ios``, else Android ids.

    Parameters
    ----------
    is_ios : np.ndarray
        ``bool``, shape ``(n,)``: which devices are iPhones or iPads.

    Returns
    -------
    pa.StringArray
        Length ``n``, all distinct: ``9774d56d682e549c`` (16 lowercase hex digits) or
        ``5F3C9A2E-1B7D-4C0E-9A61-3D2B8E7F4A10``.
    """
    n = len(is_ios)
    key = np.uint64(int(rng.integers(0, 2**63)))
    unique = _splitmix64(rng.permutation(n).astype(np.uint64) ^ key)  # bijective: distinct
    ios = np.flatnonzero(is_ios)
    android = np.flatnonzero(~is_ios)

    a = np.empty((len(android), 16), dtype=np.uint8)
    put_hex(a, 0, unique[android], 16, upper=False)

    m = len(ios)
    u = np.empty((m, 36), dtype=np.uint8)
    filler = rng.integers(0, 2**63, size=m, dtype=np.int64).astype(np.uint64)
    hi, lo = unique[ios] >> np.uint64(32), unique[ios] & np.uint64(0xFFFFFFFF)
    put_hex(u, 0, hi, 8, upper=True)  # the 8-4-4-4-12 groups carry `unique` in
    u[:, 8] = u[:, 13] = u[:, 18] = u[:, 23] = ord("-")  # the first and last 8 digits
    put_hex(u, 9, filler, 4, upper=True)
    u[:, 14] = ord("4")  # version 4
    put_hex(u, 15, filler >> np.uint64(16), 3, upper=True)
    variant = (filler >> np.uint64(28)) & np.uint64(3)
    u[:, 19] = HEX_UPPER[(variant + np.uint64(8)).astype(np.intp)]
    put_hex(u, 20, filler >> np.uint64(30), 3, upper=True)
    put_hex(u, 24, filler >> np.uint64(42), 4, upper=True)
    put_hex(u, 28, lo, 8, upper=True)

    both = pa.concat_arrays([strings_from_bytes(a), strings_from_bytes(u)])
    position = np.empty(n, dtype=np.int64)
    position[android] = np.arange(len(android))
    position[ios] = len(android) + np.arange(m)
    return both.take(pa.array(position))


def application_ids(applied_at: np.ndarray, rng: np.random.Generator) -> pa.StringArray:
    """Application ids ``LA`` + filing date ``yyyymmdd`` + 8 digits, all distinct.

    Parameters
    ----------
    applied_at : np.ndarray
        ``int64`` seconds since the Unix epoch (UTC), shape ``(n,)``.
    """
    n = len(applied_at)
    year, month, dom = calendar_date(applied_at)
    out = np.empty((n, 18), dtype=np.uint8)
    out[:, :2] = ascii_bytes("LA")
    put_digits(out, 2, year * 10000 + month * 100 + dom, 8)
    put_digits(out, 10, _scatter(n, 10**8, rng), 8)
    return strings_from_bytes(out)


def platform_ids(n: int, rng: np.random.Generator) -> pa.StringArray:
    """``n`` distinct lending platform ids: ``PF`` and 4 digits, e.g. ``PF3071``."""
    codes = np.sort(rng.choice(9000, size=n, replace=False)) + 1000
    out = np.empty((n, 6), dtype=np.uint8)
    out[:, :2] = ascii_bytes("PF")
    put_digits(out, 2, codes, 4)
    return strings_from_bytes(out)
