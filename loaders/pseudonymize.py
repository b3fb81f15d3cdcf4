"""Keyed pseudonymization of personal identifiers (account numbers, phone numbers).

An ``account_id`` is replaced by ``HMAC-SHA256(key, account_id)`` in hex before it
leaves the loader. The same key maps the same account to the same pseudonym on every
night, so history accumulates in Neo4j; without the key the pseudonym cannot be
reversed or recomputed from a guessed card number.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

from riskgraph.errors import ConfigError

__all__ = ["MIN_KEY_BYTES", "MIN_KEY_DISTINCT_BYTES", "check_hmac_key", "pseudonymize"]

#: Shortest key accepted: 128 bits.
MIN_KEY_BYTES = 16
#: Fewest distinct byte values accepted. A key of one repeated character (or a short
#: pattern) has the length but not the secrecy; a random hex key of 16 characters has
#: fewer than this about once in 40,000 draws.
MIN_KEY_DISTINCT_BYTES = 6
_GENERATE = "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"


def check_hmac_key(key: str | bytes | None, source: str = "RISKGRAPH_HMAC_KEY") -> bytes:
    """Return ``key`` as bytes, or raise :class:`ConfigError` when it is unusable.

    Examples
    --------
    >>> len(check_hmac_key("0123456789abcdef"))
    16
    """
    if key is None or key == "" or key == b"":
        raise ConfigError(
            f"no pseudonymization key: set {source} (at least {MIN_KEY_BYTES} bytes); "
            "account ids are never stored in clear"
        )
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_KEY_BYTES:
        raise ConfigError(
            f"pseudonymization key from {source} has {len(raw)} bytes, "
            f"need at least {MIN_KEY_BYTES}; {_GENERATE}"
        )
    distinct = len(set(raw))
    if distinct < MIN_KEY_DISTINCT_BYTES:
        raise ConfigError(
            f"pseudonymization key from {source} is too weak: {distinct} distinct byte "
            f"value(s), need at least {MIN_KEY_DISTINCT_BYTES} (a repeated character or "
            f"short pattern is guessable); {_GENERATE}"
        )
    return raw


def pseudonymize(values: pd.Series, key: bytes) -> pd.Series:
    """HMAC-SHA256 hex digest of every value; missing values stay missing.

    Each distinct value is hashed once, so repeated identifiers cost nothing extra.

    Parameters
    ----------
    values : pd.Series
        Identifiers as text, shape ``(n,)``.
    key : bytes
        The secret key (see :func:`check_hmac_key`).

    Returns
    -------
    pd.Series
        ``string`` dtype, shape ``(n,)``, same index.

    Examples
    --------
    >>> s = pseudonymize(pd.Series(["4111111111111111", None]), b"0123456789abcdef")
    >>> len(s[0]), s.isna().tolist()
    (64, [False, True])
    """
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    digests = np.array(
        [hmac.new(key, str(u).encode("utf-8"), hashlib.sha256).hexdigest() for u in uniques],
        dtype=object,
    )
    out = np.full(len(values), None, dtype=object)
    present = codes >= 0
    out[present] = digests[codes[present]]
    return pd.Series(out, index=values.index, dtype="string")
