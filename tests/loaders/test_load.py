"""Loader tests: contract rules, rejects with line and reason, fatal errors, Parquet."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskgraph.errors import ConfigError, InputError
from riskgraph.loaders import build_graph_tables, load_input
from riskgraph.loaders.tables import NO_INDEX, empty_graph_tables, first_given, index_of

KEY = "test-key-0123456789"


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def small_input(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    write_csv(
        d / "users.csv",
        ["user_id", "registered_at", "label", "label_at", "age_band", "income"],
        [
            ["u2", "2024-01-02", "", "", "35-44", ""],
            ["u1", "2024-01-01", "1", "2024-03-01", "25-34", "3000"],
            ["u3", "2024-01-03T10:00:00+08:00", "0", "2024-05-01", "18-24", "1000"],
        ],
    )
    write_csv(
        d / "user_devices.csv",
        ["user_id", "device_id", "first_seen"],
        [["u1", "d1", "2024-01-01"], ["u2", "d1", ""], ["u3", "d2", "2024-02-01"]],
    )
    write_csv(
        d / "user_accounts.csv",
        ["user_id", "account_id", "account_type"],
        [["u1", "4111111111111111", "bank_card"], ["u2", "4111111111111111", ""]],
    )
    write_csv(
        d / "social.csv",
        ["src_user_id", "dst_user_id", "tie_type", "weight"],
        [["u1", "u3", "family", "1.5"]],
    )
    write_csv(
        d / "applications.csv",
        ["application_id", "user_id", "platform_id", "applied_at", "amount", "device_id"],
        [
            ["a2", "u2", "p2", "2024-02-03", "", "d9"],
            ["a1", "u1", "p1", "2024-02-01", "1000", ""],
        ],
    )
    return d


def test_small_input_builds_indexed_tables(small_input: Path):
    result = load_input(small_input, hmac_key=KEY)
    g = result.tables
    assert g.users["user_id"].tolist() == ["u1", "u2", "u3"]
    assert g.users["label"].tolist()[0] == 1 and pd.isna(g.users["label"].iloc[1])
    # +08:00 is converted to UTC; a date means midnight UTC.
    assert g.users["registered_at"].iloc[2] == pd.Timestamp("2024-01-03T02:00:00Z")
    assert g.users["registered_at"].iloc[0] == pd.Timestamp("2024-01-01T00:00:00Z")
    assert str(g.users["age_band"].dtype) == "string"
    assert str(g.users["income"].dtype) == "float64"
    # d9 only appears as an application device: it is still a device node.
    assert g.devices["device_id"].tolist() == ["d1", "d2", "d9"]
    assert g.user_devices[["user_idx", "device_idx"]].values.tolist() == [[0, 0], [1, 0], [2, 1]]
    assert g.applications["application_id"].tolist() == ["a1", "a2"]
    assert g.applications["device_idx"].tolist() == [NO_INDEX, 2]
    assert g.platforms["platform_id"].tolist() == ["p1", "p2"]
    assert len(g.accounts) == 1 and g.accounts["account_type"].iloc[0] == "bank_card"
    assert g.social[["src_idx", "dst_idx"]].values.tolist() == [[0, 2]]
    assert result.rejected_total == 0
    # 3 USES + 2 OWNS + 1 KNOWS + 2 SUBMITTED + 2 TO + 1 FROM_DEVICE
    assert g.num_edges == 11


def test_rejects_carry_line_and_reason(tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "users.csv").write_text(
        "user_id,registered_at,label,label_at\n"
        "u1,2024-01-01,1,2024-03-01\n"  # line 2: good
        ",2024-01-01,,\n"  # line 3: empty id
        "u1,2024-01-04,,\n"  # line 4: duplicate
        "u4,notadate,1,\n"  # line 5: bad date and label without label_at
        "\n"  # line 6: blank, skipped
        'u5,2024-01-05,"0",2024-02-01\n'  # line 7: good
        "u6,2024-01-05,2,2024-02-01\n",  # line 8: bad label
        encoding="utf-8",
    )
    rejects_dir = tmp_path / "rejects"
    result = load_input(d, hmac_key=KEY, rejects_dir=rejects_dir)
    rejects = pd.read_csv(rejects_dir / "users.csv", dtype=str, keep_default_na=False)
    assert rejects["line"].astype(int).tolist() == [3, 4, 5, 8]
    reasons = rejects["reason"].tolist()
    assert reasons[0] == "empty user_id"
    assert reasons[1] == "duplicate key (user_id='u1'), first on line 2"
    assert "unparsable registered_at 'notadate'" in reasons[2]
    assert "label without label_at" in reasons[2]
    assert reasons[3] == "label '2' is not 0, 1 or empty"
    assert rejects["user_id"].tolist() == ["", "u1", "u4", "u6"]
    assert result.tables.users["user_id"].tolist() == ["u1", "u5"]
    assert result.counts["users"] == {"rows": 6, "loaded": 2, "rejected": 4}


def test_line_numbers_count_embedded_newlines(tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "users.csv").write_text(
        'user_id,registered_at,note\nu1,2024-01-01,"two\nlines"\nu2,bad,x\n', encoding="utf-8"
    )
    result = load_input(d, hmac_key=KEY)
    assert result.rejects["users"]["line"].tolist() == [4]


def test_malformed_record_is_rejected_not_dropped(tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "users.csv").write_text(
        "user_id,registered_at\nu1,2024-01-01\nu2,2024-01-01,surplus\nu3,2024-01-02\n",
        encoding="utf-8",
    )
    result = load_input(d, hmac_key=KEY)
    rejects = result.rejects["users"]
    assert rejects["line"].tolist() == [3]
    assert rejects["reason"].tolist() == ["expected 2 fields, found 3"]
    assert rejects["extra_fields"].tolist() == ["surplus"]
    assert result.tables.users["user_id"].tolist() == ["u1", "u3"]


def test_edge_rules(tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    write_csv(
        d / "users.csv", ["user_id", "registered_at"], [["u1", "2024-01-01"], ["u2", "2024-01-01"]]
    )
    write_csv(
        d / "social.csv",
        ["src_user_id", "dst_user_id", "tie_type"],
        [
            ["u1", "u2", "contact"],
            ["u1", "u1", "contact"],
            ["u1", "ghost", ""],
            ["u1", "u2", "contact"],
        ],
    )
    write_csv(
        d / "applications.csv",
        ["application_id", "user_id", "platform_id", "applied_at"],
        [["a1", "u1", "", "2024-02-01"], ["a2", "u3", "p1", "2024-02-01"], ["a3", "u2", "p1", ""]],
    )
    result = load_input(d, hmac_key=KEY)
    social = result.rejects["social"]
    assert social["line"].tolist() == [3, 4, 5]
    assert social["reason"].tolist() == [
        "src_user_id equals dst_user_id",
        "unknown dst_user_id 'ghost'",
        "duplicate key (src_user_id='u1', dst_user_id='u2', tie_type='contact'), first on line 2",
    ]
    apps = result.rejects["applications"]
    assert apps["reason"].tolist() == [
        "empty platform_id",
        "unknown user_id 'u3'",
        "empty applied_at",
    ]
    assert len(result.tables.applications) == 0


def test_missing_required_column_and_file_are_reported_together(tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    write_csv(d / "user_devices.csv", ["user_id"], [["u1"]])
    rejects_dir = tmp_path / "rejects"
    with pytest.raises(InputError, match=r"required table users\.csv") as info:
        load_input(d, hmac_key=KEY, rejects_dir=rejects_dir)
    assert "user_devices.csv: missing required column 'device_id'" in str(info.value)
    assert not rejects_dir.exists()


def test_missing_column_names_file_and_column(tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    write_csv(d / "users.csv", ["user_id", "label"], [["u1", "1"]])
    with pytest.raises(InputError, match=r"users\.csv: missing required column 'registered_at'"):
        load_input(d, hmac_key=KEY)


def test_unreadable_files_stop_the_run(tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "users.csv").write_bytes(b"user_id,registered_at\n\xff\xfe,2024-01-01\n")
    with pytest.raises(InputError, match=r"users\.csv: not UTF-8"):
        load_input(d, hmac_key=KEY)
    (d / "users.csv").write_text("user_id,user_id\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"column 'user_id' appears twice"):
        load_input(d, hmac_key=KEY)
    (d / "users.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match=r"both users\.csv and users\.parquet"):
        load_input(d, hmac_key=KEY)
    (d / "users.csv").unlink()
    with pytest.raises(InputError, match=r"users\.parquet: cannot be read as Parquet"):
        load_input(d, hmac_key=KEY)
    with pytest.raises(InputError, match=r"does not exist"):
        load_input(tmp_path / "nowhere", hmac_key=KEY)


def test_parquet_input_equals_csv_input(small_input: Path, tmp_path: Path):
    from_csv = load_input(small_input, hmac_key=KEY).tables
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    for path in small_input.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if path.stem == "users":  # typed columns are accepted as well as text
            frame["registered_at"] = pd.to_datetime(
                frame["registered_at"], utc=True, format="ISO8601"
            )
            frame["income"] = pd.to_numeric(frame["income"])
        frame.to_parquet(pq_dir / f"{path.stem}.parquet", index=False)
    from_parquet = load_input(pq_dir, hmac_key=KEY).tables
    assert from_parquet.equals(from_csv)


def test_build_graph_tables_from_frames(small_input: Path):
    frames = {
        p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in small_input.glob("*.csv")
    }
    assert build_graph_tables(frames, hmac_key=KEY).tables.equals(
        load_input(small_input, hmac_key=KEY).tables
    )
    with pytest.raises(InputError, match=r"unknown input tables \['extra'\]"):
        build_graph_tables({**frames, "extra": frames["users"]}, hmac_key=KEY)


def test_rerun_replaces_stale_rejects(tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    write_csv(d / "users.csv", ["user_id", "registered_at"], [["u1", "bad"]])
    rejects_dir = tmp_path / "rejects"
    load_input(d, hmac_key=KEY, rejects_dir=rejects_dir)
    assert (rejects_dir / "users.csv").exists()
    write_csv(d / "users.csv", ["user_id", "registered_at"], [["u1", "2024-01-01"]])
    load_input(d, hmac_key=KEY, rejects_dir=rejects_dir)
    assert not (rejects_dir / "users.csv").exists()


def test_key_is_required():
    with pytest.raises(ConfigError, match="no pseudonymization key"):
        load_input(".", hmac_key=None)
    with pytest.raises(ConfigError, match="has 5 bytes, need at least 16"):
        load_input(".", hmac_key="short")


def test_graph_tables_replace_makes_a_new_one_and_refuses_unknown_tables():
    g = empty_graph_tables()
    fewer = g.replace(users=g.users.drop(columns="label_at"))
    assert "label_at" not in fewer.users.columns and "label_at" in g.users.columns
    assert fewer.devices is g.devices
    with pytest.raises(InputError, match=r"unknown tables \['nodes'\]"):
        g.replace(nodes=g.users)


def test_an_empty_optional_table_is_absent_from_what_a_graph_lists(small_input: Path):
    # A graph without addresses counts, writes and hashes as it did before the table.
    result = load_input(small_input, hmac_key=KEY)
    assert "user_addresses" not in result.counts
    assert {"addresses", "user_addresses"}.isdisjoint(dict(result.tables.tables()))
    assert len(result.tables.user_addresses) == 0
    (small_input / "user_addresses.csv").write_text("user_id,address_id\nu1,12 Elm St\n")
    result = load_input(small_input, hmac_key=KEY)
    assert result.counts["user_addresses"] == {"rows": 1, "loaded": 1, "rejected": 0}
    listed = dict(result.tables.tables())
    assert (len(listed["addresses"]), len(listed["user_addresses"])) == (1, 1)


def _as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a caller might build it from JSON: Python objects, numbers as numbers."""
    objects = frame.astype(object).where(frame != "", None)
    for column in ("amount", "weight", "label"):
        if column in objects:
            objects[column] = pd.to_numeric(objects[column])
    return objects


def test_frames_of_text_of_strings_and_of_objects_load_alike():
    """One request given as CSV text, as pandas strings and as Python objects: the same
    graph and the same rejected rows."""
    users = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "\u3000", "u4", "u5"],
            "registered_at": ["2024-01-02", " 2024-01-03T04:05:06Z ", "2024-01-04", "x", ""],
            "label": ["1", "", "0", "2", ""],
            "label_at": ["2024-02-01", "", "2024-02-01", "", ""],
            "income": ["10", "", "12.5", "n/a", "7"],
        }
    )
    social = pd.DataFrame(
        {
            "src_user_id": ["u1", "u1", "u2", "u9", "u1"],
            "dst_user_id": ["u2", "u2", "u2", "u1", "\x1c"],
            "tie_type": ["friend", "friend", "", "friend", "friend"],
            "created_at": ["2024-01-05", "", "2024-01-06", "", ""],
            "weight": ["1.5", "", "inf", "2", "1"],
        }
    )
    text = {"users": users, "social": social}
    results = [
        build_graph_tables(frames, hmac_key=KEY)
        for frames in (
            text,
            {name: frame.astype("string") for name, frame in text.items()},
            {name: _as_objects(frame) for name, frame in text.items()},
        )
    ]
    first = results[0]
    assert first.tables.users["user_id"].tolist() == ["u1", "u2"]
    reasons = first.rejects["users"].set_index("line")["reason"].to_dict()
    assert reasons[3] == "empty user_id"  # an ideographic space is whitespace
    assert reasons[4].startswith("unparsable registered_at 'x'")
    assert reasons[4].endswith("label '2' is not 0, 1 or empty")
    assert reasons[5] == "empty registered_at"
    edges = first.rejects["social"].set_index("line")["reason"].to_dict()
    assert edges[2].startswith("duplicate key (src_user_id='u1', dst_user_id='u2'")
    assert edges[3] == "unparsable weight 'inf' (expected a number); src_user_id equals dst_user_id"
    assert edges[4] == "unknown src_user_id 'u9'"
    assert edges[5] == "empty dst_user_id"  # so is an information separator
    assert first.tables.users["income"].isna().tolist() == [False, True]
    strings, objects = results[1:]
    for other in (strings, objects):
        assert other.tables.equals(first.tables)
        for name, rejects in first.rejects.items():
            assert other.rejects[name]["line"].tolist() == rejects["line"].tolist()
    for name, rejects in first.rejects.items():
        # Numbers given as numbers are quoted as numbers; text is quoted as text.
        assert strings.rejects[name]["reason"].tolist() == rejects["reason"].tolist()


@pytest.mark.parametrize("dtype", ["string", "str", object])
def test_index_of_gives_positions_and_minus_one_for_absent_or_missing_ids(dtype):
    universe = pd.Series(["a", "b", "c"], dtype="string")
    ids = pd.Series(["c", None, "x", "a", "b"], dtype=dtype)
    positions = index_of(ids, universe)
    assert positions.dtype == np.int64
    assert positions.tolist() == [2, NO_INDEX, NO_INDEX, 0, 1]
    assert index_of(ids.iloc[:0], universe).tolist() == []
    assert index_of(ids, universe.iloc[:0]).tolist() == [NO_INDEX] * 5
    # A missing id stays unfound even where the other side holds a missing value.
    with_missing = pd.Series(["a", None], dtype="string")
    assert index_of(ids, with_missing).tolist() == [NO_INDEX, NO_INDEX, NO_INDEX, 0, NO_INDEX]


def test_first_given_takes_each_ids_first_value_that_is_not_missing():
    given = pd.DataFrame(
        {
            "account_id": pd.Series(["a", "b", "a", "b", "c"], dtype="string"),
            "account_type": pd.Series([None, "card", "phone", "bank", None], dtype="string"),
        }
    )
    ids = pd.Series(["c", "b", "a", "x"], dtype="string", index=[10, 11, 12, 13])
    got = first_given(ids, given, "account_id", "account_type")
    assert got.index.tolist() == [10, 11, 12, 13]
    assert got.isna().tolist() == [True, False, False, True]
    assert got.dropna().tolist() == ["card", "phone"]
