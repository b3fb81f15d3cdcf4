"""Values the stores downstream cannot hold are rejected as rows, with a reason.

Timestamps outside 1900-2200, ids over ``MAX_ID_BYTES`` bytes or with a NUL character,
and Parquet ids stored as floats; a file the loader cannot take as what it claims
(a broken symbolic link, a CSV file without a header) stops the load and says why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import InputError
from riskgraph.loaders import load_input
from riskgraph.loaders.limits import MAX_ID_BYTES

KEY = "limits-test-key-0123456789"


def users_dir(tmp_path: Path, body: str) -> Path:
    d = tmp_path / "in"
    d.mkdir(exist_ok=True)
    (d / "users.csv").write_text("user_id,registered_at,label,label_at\n" + body, "utf-8")
    return d


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("0001-01-01", False),
        ("1899-12-31T23:59:59Z", False),
        ("1900-01-01", True),
        ("2200-12-31T23:59:59Z", True),
        ("2201-01-01", False),
        ("9999-12-31", False),
    ],
)
def test_timestamps_outside_1900_to_2200_are_rejected(tmp_path, value, accepted):
    d = users_dir(tmp_path, f"u1,2024-01-01,1,{value}\nu2,{value},,\n")
    result = load_input(d, hmac_key=KEY)
    rejects = result.rejects["users"]
    if accepted:
        assert rejects.empty
        assert result.tables.num_users == 2
        return
    assert rejects["line"].tolist() == [2, 3]
    assert rejects["reason"].tolist() == [
        f"label_at {value!r} is outside the years 1900-2200; label without label_at",
        f"registered_at {value!r} is outside the years 1900-2200",
    ]
    assert result.tables.num_users == 0


def test_edge_timestamps_are_checked_as_well(tmp_path):
    d = users_dir(tmp_path, "u1,2024-01-01,,\n")
    (d / "user_devices.csv").write_text(
        "user_id,device_id,first_seen\nu1,d1,1850-06-01\nu1,d2,2024-02-01\n", "utf-8"
    )
    result = load_input(d, hmac_key=KEY)
    assert result.rejects["user_devices"]["reason"].tolist() == [
        "first_seen '1850-06-01' is outside the years 1900-2200"
    ]
    assert len(result.tables.user_devices) == 1


def test_ids_longer_than_the_limit_or_with_nul_are_rejected(tmp_path):
    long_id = "x" * (MAX_ID_BYTES + 1)
    wide_ok = "é" * (MAX_ID_BYTES // 2)  # two bytes each: exactly at the limit
    wide_long = "é" * (MAX_ID_BYTES // 2 + 1)
    d = users_dir(
        tmp_path,
        f"{long_id},2024-01-01,,\n{wide_ok},2024-01-01,,\n{wide_long},2024-01-01,,\n"
        "nul\x00id,2024-01-01,,\nu5,2024-01-01,,\n",
    )
    (d / "applications.csv").write_text(
        "application_id,user_id,platform_id,applied_at\n"
        f"a1,u5,{'p' * 8192},2024-02-01\na2,u5,p1,2024-02-01\n",
        "utf-8",
    )
    result = load_input(d, hmac_key=KEY)
    users = result.rejects["users"]
    assert users["line"].tolist() == [2, 4, 5]
    assert users["reason"].tolist() == [
        f"user_id is {MAX_ID_BYTES + 1:,} bytes long; ids may have at most 1,024 bytes (UTF-8)",
        f"user_id is {MAX_ID_BYTES + 2:,} bytes long; ids may have at most 1,024 bytes (UTF-8)",
        "user_id contains a NUL character",
    ]
    assert sorted(result.tables.users["user_id"]) == sorted([wide_ok, "u5"])
    apps = result.rejects["applications"]
    assert apps["reason"].tolist() == [
        "platform_id is 8,192 bytes long; ids may have at most 1,024 bytes (UTF-8)"
    ]
    assert result.tables.platforms["platform_id"].tolist() == ["p1"]


def test_parquet_ids_stored_as_floats_name_the_same_users_as_integers(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    # pandas stores an integer id column with a missing value as float64
    pd.DataFrame(
        {
            "user_id": [1.0, 2.0, np.nan, 2.5, 2.0**60],
            "registered_at": ["2024-01-01"] * 5,
        }
    ).to_parquet(d / "users.parquet", index=False)
    (d / "user_devices.csv").write_text("user_id,device_id\n1,d1\n2,d1\n", "utf-8")
    result = load_input(d, hmac_key=KEY)
    assert result.tables.users["user_id"].tolist() == ["1", "2"]
    assert len(result.tables.user_devices) == 2  # the CSV's "1" and "2" are those users
    assert result.rejects["users"]["reason"].tolist() == [
        "empty user_id",
        "user_id 2.5 is a floating-point number that is not a whole number up to 2**53 "
        "(expected text or an integer)",
        "user_id 1.152921504606847e+18 is a floating-point number that is not a whole "
        "number up to 2**53 (expected text or an integer)",
    ]


def test_optional_table_behind_a_broken_symlink_stops_the_load(tmp_path):
    d = users_dir(tmp_path, "u1,2024-01-01,,\n")
    (d / "social.csv").symlink_to(tmp_path / "gone" / "social.csv")
    with pytest.raises(InputError, match=r"social\.csv: a symbolic link to .*gone/social\.csv"):
        load_input(d, hmac_key=KEY)


def test_csv_without_a_header_says_so(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "users.csv").write_text("u1,2024-01-01,,\nu2,2024-01-02,,\n", "utf-8")
    with pytest.raises(
        InputError,
        match=r"users\.csv: line 1 \('u1,2024-01-01,,'\) names none of the columns of users; "
        r"the file needs a header row naming its columns, at least user_id, registered_at",
    ):
        load_input(d, hmac_key=KEY)
    (d / "users.csv").write_text("user_id,registered_at\nu1,2024-01-01\n", "utf-8")
    (d / "user_accounts.csv").write_text("u1,4111111111111111\n", "utf-8")
    with pytest.raises(InputError, match=r"user_accounts\.csv: line 1 names none") as info:
        load_input(d, hmac_key=KEY)
    assert "4111" not in str(info.value)  # an account number is never repeated


def test_a_few_typos_keep_a_numeric_column_numeric_with_a_warning(tmp_path):
    rows = [f"u{i},2024-01-01,,,{1000 + i}" for i in range(20)]
    rows[3] = "u3,2024-01-01,,,12O0"  # letter O for a zero
    rows[11] = "u11,2024-01-01,,,n/a"
    d = tmp_path / "in"
    d.mkdir()
    (d / "users.csv").write_text(
        "user_id,registered_at,label,label_at,income\n" + "\n".join(rows) + "\n", "utf-8"
    )
    result = load_input(d, hmac_key=KEY)
    users = result.tables.users.set_index("user_id")
    assert str(users["income"].dtype) == "float64"
    assert users["income"].isna().sum() == 2
    assert users.loc["u3", "income"] != users.loc["u3", "income"]  # NaN
    assert users.loc["u4", "income"] == 1004
    assert result.rejected_total == 0
    [warning] = result.warnings
    assert warning.column == "income" and warning.count == 2 and warning.lines == (5, 13)
    assert warning.message == (
        "2 of 20 values are not finite numbers (line 5 '12O0', line 13 'n/a'); "
        "read as missing, the column stays numeric"
    )
    assert str(warning).startswith(f"{d / 'users.csv'}: column 'income': 2 of 20")


def test_a_column_of_mostly_text_is_read_as_categories_and_says_so(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "users.csv").write_text(
        "user_id,registered_at,region,income\n"
        "u1,2024-01-01,north,1\nu2,2024-01-01,south,inf\nu3,2024-01-01,7,\n"
        "u4,2024-01-01,east,3\n",
        "utf-8",
    )
    result = load_input(d, hmac_key=KEY)
    assert str(result.tables.users["region"].dtype) == "string"
    assert str(result.tables.users["income"].dtype) == "float64"  # inf is not a number
    messages = {w.column: w.message for w in result.warnings}
    assert messages == {
        "region": "1 of 4 values are numbers (line 4 '7'), the rest text: read as text "
        "(categories), as most values are text",
        "income": "1 of 3 values are not finite numbers (line 3 'inf'); read as missing, "
        "the column stays numeric",
    }
    assert result.warnings[0].to_dict() == {
        "file": str(d / "users.csv"),
        "column": "region",
        "message": messages["region"],
        "count": 1,
        "lines": [4],
    }


def test_header_only_or_fully_rejected_users_are_not_usable(tmp_path):
    d = users_dir(tmp_path, "")
    with pytest.raises(InputError, match=r"users\.csv: no user rows \(only a header\)"):
        load_input(d, hmac_key=KEY).check_usable()
    d = users_dir(tmp_path, "u1,01/02/2024,,\nu2,2024-13-01,,\n")
    result = load_input(d, hmac_key=KEY)  # loading itself is fine: the rejects are the news
    with pytest.raises(
        InputError,
        match=r"users\.csv: none of its 2 user rows is usable, all were rejected \(the first, "
        r"line 2: unparsable registered_at '01/02/2024'",
    ):
        result.check_usable()
    d = users_dir(tmp_path, "u1,2024-01-01,,\n")
    assert load_input(d, hmac_key=KEY).check_usable().tables.num_users == 1
