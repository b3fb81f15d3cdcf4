"""Account identifiers never leave the loader in clear."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from riskgraph.errors import ConfigError
from riskgraph.loaders import load_input
from riskgraph.loaders.pseudonymize import check_hmac_key, pseudonymize

RAW_ACCOUNTS = ["4111 1111 1111 1111", "+86 138 0013 8000", "wallet:alice@example.com"]


def test_pseudonym_is_keyed_and_stable():
    values = pd.Series([*RAW_ACCOUNTS, RAW_ACCOUNTS[0], None])
    a = pseudonymize(values, b"k" * 16)
    assert a.iloc[0] == a.iloc[3] and a.iloc[0] != a.iloc[1]
    assert pd.isna(a.iloc[4])
    assert pseudonymize(values, b"k" * 16).equals(a)
    assert not pseudonymize(values, b"j" * 16).iloc[:3].isin(a.iloc[:3]).any()


def test_short_or_missing_key_is_refused():
    with pytest.raises(ConfigError, match="RISKGRAPH_HMAC_KEY"):
        check_hmac_key("")
    with pytest.raises(ConfigError, match="need at least 16"):
        check_hmac_key(b"x" * 15)


def test_key_of_few_distinct_bytes_is_refused():
    with pytest.raises(ConfigError, match=r"too weak: 1 distinct byte value\(s\), need at least 6"):
        check_hmac_key(b"\x00" * 16)
    with pytest.raises(ConfigError, match=r"too weak: 2 distinct .*secrets\.token_hex"):
        check_hmac_key("ab" * 16)
    assert check_hmac_key("0123456789abcdef") == b"0123456789abcdef"
    assert check_hmac_key("aaaaaaaaaabcdefg") == b"aaaaaaaaaabcdefg"  # 7 distinct: enough


def test_no_raw_account_id_in_tables_or_rejects(tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "users.csv").write_text("user_id,registered_at\nu1,2024-01-01\n", encoding="utf-8")
    (d / "user_accounts.csv").write_text(
        "user_id,account_id,account_type\n"
        f"u1,{RAW_ACCOUNTS[0]},bank_card\n"
        f"ghost,{RAW_ACCOUNTS[1]},phone\n"  # rejected: unknown user
        f"u1,{RAW_ACCOUNTS[2]},wallet,extra\n",  # rejected: malformed, any field may be personal
        encoding="utf-8",
    )
    rejects_dir = tmp_path / "rejects"
    result = load_input(d, hmac_key="0123456789abcdef", rejects_dir=rejects_dir)
    assert result.counts["user_accounts"] == {"rows": 3, "loaded": 1, "rejected": 2}
    written = (rejects_dir / "user_accounts.csv").read_text(encoding="utf-8")
    in_memory = "\n".join(t.to_csv() for _, t in result.tables.tables())
    in_memory += "\n".join(t.to_csv() for t in result.rejects.values())
    for raw in RAW_ACCOUNTS:
        assert raw not in written and raw not in in_memory
        digits = raw.replace(" ", "")
        assert digits not in written and digits not in in_memory


def test_no_raw_account_id_in_rejection_reasons(tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "users.csv").write_text("user_id,registered_at\nu1,2024-01-01\n", encoding="utf-8")
    (d / "user_accounts.csv").write_text(
        f"user_id,account_id\nu1,{RAW_ACCOUNTS[0]}\nu1,{RAW_ACCOUNTS[0]}\n", encoding="utf-8"
    )
    pd.DataFrame({"user_id": ["u1"], "account_id": [6222020200001234567.0]}).to_parquet(
        tmp_path / "accounts.parquet"
    )
    result = load_input(d, hmac_key="0123456789abcdef")
    [reason] = result.rejects["user_accounts"]["reason"]
    assert reason == "duplicate key (user_id='u1', account_id as in this row), first on line 2"
    (d / "user_accounts.csv").unlink()
    (tmp_path / "accounts.parquet").rename(d / "user_accounts.parquet")
    result = load_input(d, hmac_key="0123456789abcdef")  # a card number beyond 2**53
    [reason] = result.rejects["user_accounts"]["reason"]
    assert reason.startswith("account_id is a floating-point number") and "6222" not in reason
