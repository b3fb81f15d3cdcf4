"""Synthetic population tests: determinism, contract, identifiers, the generative story."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskgraph.cli import app
from riskgraph.errors import ConfigError
from riskgraph.loaders import load_input
from riskgraph.loaders.synthetic import (
    PopulationConfig,
    SyntheticPopulation,
    default_truth_path,
    generate_population,
)
from riskgraph.loaders.synthetic.cohort import SizeLaw, group_sizes
from riskgraph.loaders.synthetic.identifiers import (
    card_numbers,
    device_ids,
    luhn_check_digits,
    phone_numbers,
)
from riskgraph.loaders.synthetic.sampling import GroupIndex, sorted_unique
from riskgraph.loaders.synthetic.text import iso_timestamps

KEY = "synthetic-test-key-0123456789"
N = 5000

CONTRACT_COLUMNS = {
    "users": [
        "user_id",
        "registered_at",
        "label",
        "label_at",
        "age_band",
        "income_band",
        "region",
        "credit_history_months",
        "past_loans",
        "past_dues",
        "utilization",
    ],
    "user_devices": ["user_id", "device_id", "first_seen", "last_seen"],
    "user_accounts": ["user_id", "account_id", "account_type", "linked_at"],
    "social": ["src_user_id", "dst_user_id", "tie_type", "created_at", "weight"],
    "applications": [
        "application_id",
        "user_id",
        "platform_id",
        "applied_at",
        "amount",
        "device_id",
        "status",
    ],
}


@pytest.fixture(scope="module")
def pop() -> SyntheticPopulation:
    return generate_population(N, seed=7)


def with_truth(pop: SyntheticPopulation) -> pd.DataFrame:
    return pop.tables["users"].merge(pop.truth, on="user_id", validate="1:1")


# -- determinism and shape ---------------------------------------------------------


def test_same_seed_gives_identical_tables_and_truth(pop: SyntheticPopulation) -> None:
    again = generate_population(N, seed=7)
    for name, table in pop.tables.items():
        pd.testing.assert_frame_equal(table, again.tables[name], obj=name)
    pd.testing.assert_frame_equal(pop.truth, again.truth)


def test_other_seed_gives_other_population(pop: SyntheticPopulation) -> None:
    other = generate_population(N, seed=8)
    assert not pop.tables["users"]["user_id"].equals(other.tables["users"]["user_id"])
    assert len(pop.tables["social"]) != len(other.tables["social"]) or not pop.tables[
        "social"
    ].equals(other.tables["social"])


def test_columns_are_exactly_the_contract(pop: SyntheticPopulation) -> None:
    assert {name: list(t.columns) for name, t in pop.tables.items()} == CONTRACT_COLUMNS
    assert list(pop.truth.columns[:5]) == ["user_id", "p_bad", "outcome", "role", "ring_id"]
    assert len(pop.tables["users"]) == len(pop.truth) == N


def test_about_ten_relationships_per_user(pop: SyntheticPopulation) -> None:
    t = pop.tables
    apps = t["applications"]
    relationships = (
        len(t["user_devices"])
        + len(t["user_accounts"])
        + len(t["social"])
        + 2 * len(apps)
        + int(apps["device_id"].notna().sum())
    )
    assert 9.0 <= relationships / N <= 11.0


def test_default_end_is_fixed_and_every_event_is_before_it(pop: SyntheticPopulation) -> None:
    end = pd.Timestamp("2026-06-30", tz="UTC")
    assert pop.end == end
    start = end - pd.Timedelta(days=180)
    t = pop.tables
    times = [
        t["users"]["registered_at"],
        t["users"]["label_at"].dropna(),
        t["user_devices"]["first_seen"],
        t["user_devices"]["last_seen"],
        t["user_accounts"]["linked_at"],
        t["social"]["created_at"],
        t["applications"]["applied_at"],
    ]
    for column in times:
        assert column.max() < end, column.name
    assert t["users"]["registered_at"].min() >= start


# -- identifiers -----------------------------------------------------------------------


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def test_luhn_check_digit_of_a_known_number() -> None:
    # 7992739871 -> check digit 3 (the textbook example).
    assert luhn_check_digits(np.array([[7, 9, 9, 2, 7, 3, 9, 8, 7, 1]])).tolist() == [3]


def test_card_and_phone_formats_are_realistic_and_unique() -> None:
    rng = np.random.default_rng(0)
    cards = card_numbers(2000, rng).to_pylist()
    phones = phone_numbers(2000, rng).to_pylist()
    assert all(re.fullmatch(r"62\d{14}", c) and luhn_valid(c) for c in cards)
    assert all(re.fullmatch(r"\+86 1\d{2} \d{4} \d{4}", p) for p in phones)
    assert len(set(cards)) == len(cards) and len(set(phones)) == len(phones)


def test_device_ids_are_android_ids_or_uuids_and_distinct() -> None:
    is_ios = np.array([False, True, False, True] * 250)
    out = device_ids(is_ios, np.random.default_rng(0)).to_pylist()
    uuid = r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}"
    assert all(re.fullmatch(uuid, d) for d, ios in zip(out, is_ios, strict=True) if ios)
    assert all(
        re.fullmatch(r"[0-9a-f]{16}", d) for d, ios in zip(out, is_ios, strict=True) if not ios
    )
    assert len(set(out)) == len(out)


def test_population_identifiers_look_real(pop: SyntheticPopulation) -> None:
    t = pop.tables
    accounts = t["user_accounts"].drop_duplicates("account_id")
    patterns = {
        "bank_card": r"62\d{14}",
        "phone": r"\+86 1\d{2} \d{4} \d{4}",
        "wallet": r"2088\d{12}",
    }
    assert set(accounts["account_type"]) == set(patterns)
    for kind, pattern in patterns.items():
        ids = accounts.loc[accounts["account_type"] == kind, "account_id"]
        assert ids.str.fullmatch(pattern).all(), kind
    assert t["users"]["user_id"].str.fullmatch(r"U\d{10}").all()
    assert t["users"]["user_id"].is_unique
    assert t["applications"]["application_id"].str.fullmatch(r"LA20\d{14}").all()
    assert t["applications"]["application_id"].is_unique
    platforms = t["applications"]["platform_id"].value_counts(normalize=True)
    assert 30 <= len(platforms) <= 60
    assert platforms.iloc[0] > 5 * platforms.iloc[len(platforms) // 2]  # skewed sizes


def test_iso_timestamps_format_and_nulls() -> None:
    out = iso_timestamps(np.array([0, 1_782_777_600, 5]), np.array([True, True, False]))
    assert out.to_pylist() == ["1970-01-01T00:00:00Z", "2026-06-30T00:00:00Z", None]


# -- helpers ---------------------------------------------------------------------------


def test_group_sizes_respect_bounds_and_target() -> None:
    sizes = group_sizes(100, SizeLaw(10.0, 0.6, 3, 40), np.random.default_rng(0))
    assert sizes.min() >= 3 and sizes.max() <= 40
    assert 97 <= sizes.sum() <= 100
    assert len(group_sizes(2, SizeLaw(10.0, 0.6, 3, 40), np.random.default_rng(0))) == 0


def test_random_member_stays_in_its_group() -> None:
    # Users 0, 2 in group 0; user 1 in group 1; user 3 in no group; group 2 empty.
    index = GroupIndex.build(np.array([0, 1, 0, -1]), n_groups=3)
    picks = index.random_member(np.array([0] * 50 + [1] * 5 + [2]), np.random.default_rng(0))
    assert set(picks[:50].tolist()) == {0, 2}
    assert picks[50:55].tolist() == [1] * 5
    assert picks[55] == -1


def test_sorted_unique_matches_numpy() -> None:
    keys = np.random.default_rng(0).integers(0, 50, size=200)
    assert sorted_unique(keys).tolist() == np.unique(keys).tolist()
    assert sorted_unique(np.array([], dtype=np.int64)).tolist() == []


# -- the story -------------------------------------------------------------------------


def test_ring_members_share_devices_and_accounts(pop: SyntheticPopulation) -> None:
    truth = pop.truth
    rings = truth.dropna(subset=["ring_id"])[["user_id", "ring_id"]]
    assert len(rings) > 0
    for table, node in (("user_devices", "device_id"), ("user_accounts", "account_id")):
        links = pop.tables[table].merge(rings, on="user_id")
        per_node = links.groupby(node)["user_id"].nunique()
        shared_ring = links[links[node].map(per_node) > 1]["ring_id"].nunique()
        big_rings = (rings.groupby("ring_id").size() >= 3).sum()
        assert shared_ring == big_rings, table
        # a few shared devices / SIMs / cards per ring, not one per member
        shared = links[links[node].map(per_node) > 1].groupby("ring_id")[node].nunique()
        size = rings.groupby("ring_id").size()
        c = pop.config
        pool = (
            np.ceil(size / c.ring_members_per_device)
            if table == "user_devices"
            else np.ceil(size / c.ring_members_per_phone) + np.ceil(size / c.ring_members_per_card)
        )
        assert (shared <= pool).all() and (pool < size).all(), table


def test_ring_members_apply_at_several_platforms_within_days(pop: SyntheticPopulation) -> None:
    apps = pop.tables["applications"].merge(pop.truth[["user_id", "role"]], on="user_id")
    ring = apps[apps["role"] == "ring"].groupby("user_id")
    span = ring["applied_at"].max() - ring["applied_at"].min()
    assert (span <= pd.Timedelta(days=3)).all()
    assert ring["platform_id"].nunique().mean() >= 3
    assert (ring["platform_id"].nunique() == ring.size()).all()  # distinct platforms


def test_intermediary_clients_apply_from_devices_they_do_not_use(
    pop: SyntheticPopulation,
) -> None:
    t = pop.tables
    own = t["user_devices"][["user_id", "device_id"]].assign(own=True)
    apps = (
        t["applications"]
        .dropna(subset=["device_id"])
        .merge(own, on=["user_id", "device_id"], how="left")
    )
    apps = apps.merge(pop.truth[["user_id", "role", "intermediary_id"]], on="user_id")
    foreign = apps["own"].isna()
    assert foreign[apps["role"] == "intermediary_client"].mean() > 0.5
    assert not foreign[apps["role"] != "intermediary_client"].any()
    # one agent device serves several clients
    agent_devices = apps[foreign].groupby("device_id")["user_id"].nunique()
    assert agent_devices.max() >= 3


def test_benign_sharing_public_devices_and_household_tablets(pop: SyntheticPopulation) -> None:
    t = pop.tables
    users_per_device = t["user_devices"].groupby("device_id")["user_id"].nunique()
    assert users_per_device.max() >= 50  # a public device, strangers passing through
    public = pop.truth.loc[pop.truth["public_device_user"], "role"]
    assert (public != "ring").all()
    hh = pop.truth.dropna(subset=["household_id"])[["user_id", "household_id"]]
    links = t["user_devices"].merge(hh, on="user_id")
    shared = links.groupby("device_id").agg(
        users=("user_id", "nunique"), households=("household_id", "nunique")
    )
    tablets = shared[(shared["users"] > 1) & (shared["users"] <= 4)]
    assert len(tablets) > 0 and (tablets["households"] == 1).mean() > 0.9


def test_social_ties_are_homophilous(pop: SyntheticPopulation) -> None:
    community = pop.truth.set_index("user_id")["community_id"]
    s = pop.tables["social"]
    assert (s["src_user_id"] != s["dst_user_id"]).all()
    assert not s.duplicated(["src_user_id", "dst_user_id", "tie_type"]).any()
    same = s["src_user_id"].map(community).to_numpy() == s["dst_user_id"].map(community).to_numpy()
    assert same.mean() > 0.7
    assert set(s["tie_type"]) == {"contact", "emergency_contact", "family", "transfer"}


def test_thin_files_have_no_credit_history(pop: SyntheticPopulation) -> None:
    users = with_truth(pop)
    thin = users[users["thin_file"]]
    assert 0.08 < len(thin) / N < 0.25
    assert (thin["credit_history_months"] == 0).all()
    assert thin[["past_loans", "past_dues", "utilization"]].isna().all().all()
    thick = users[~users["thin_file"]]
    assert thick[["past_loans", "past_dues", "utilization"]].notna().all().all()
    assert (thick["credit_history_months"] > 0).all()


def test_risk_ordering_by_role(pop: SyntheticPopulation) -> None:
    p = pop.truth.groupby("role")["p_bad"].mean()
    assert p["ring"] > 0.6
    assert p["ring"] > p["multi_borrower"] > p["normal"]
    assert p["ring"] > p["intermediary_client"] > p["normal"]
    # outcomes follow p_bad
    assert abs(pop.truth["outcome"].mean() - pop.truth["p_bad"].mean()) < 0.02


def test_labels_arrive_late_and_only_for_approved_applicants(pop: SyntheticPopulation) -> None:
    users = with_truth(pop)
    labelled = users[users["label"].notna()]
    bad_rate = labelled["label"].mean()
    assert 0.03 <= bad_rate <= 0.10
    assert labelled["label_at"].notna().all()
    assert (users.loc[users["label"].isna(), "label_at"].isna()).all()
    assert labelled["first_approved_at"].notna().all()
    lag = labelled["label_at"] - labelled["first_applied_at"]
    assert lag.min() >= pd.Timedelta(days=30)
    assert lag.max() <= pd.Timedelta(days=200)
    # label equals the true outcome where known
    assert (labelled["label"].astype(int) == labelled["outcome"]).all()
    never_applied = users["n_applications"] == 0
    assert users.loc[never_applied, "label"].isna().all()
    recent = users["first_applied_at"] >= pop.end - pd.Timedelta(days=30)
    assert users.loc[recent, "label"].isna().all()


def test_applications_follow_registration_and_devices_cover_them(
    pop: SyntheticPopulation,
) -> None:
    t = pop.tables
    apps = t["applications"].merge(t["users"][["user_id", "registered_at"]], on="user_id")
    assert (apps["applied_at"] > apps["registered_at"]).all()
    ud = t["user_devices"]
    filed = apps.merge(ud, on=["user_id", "device_id"])
    assert (filed["applied_at"] >= filed["first_seen"]).all()
    assert (filed["applied_at"] <= filed["last_seen"]).all()
    assert set(apps["status"]) <= {"approved", "rejected", "pending"}


# -- files, loaders, CLI ------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_written_files_load_with_zero_rejects(
    pop: SyntheticPopulation, tmp_path: Path, file_format: str
) -> None:
    written = pop.write(tmp_path / "input", format=file_format)  # type: ignore[arg-type]
    assert written["truth"] == tmp_path / "truth.parquet"
    assert sorted(p.name for p in (tmp_path / "input").iterdir()) == sorted(
        f"{name}.{file_format}" for name in CONTRACT_COLUMNS
    )
    result = load_input(tmp_path / "input", hmac_key=KEY, rejects_dir=tmp_path / "rejects")
    assert result.rejected_total == 0, {k: v.head() for k, v in result.rejects.items() if len(v)}
    assert {k: c["loaded"] for k, c in result.counts.items()} == {
        name: len(table) for name, table in pop.tables.items()
    }
    g = result.tables
    assert g.num_users == N
    assert 9.0 <= g.num_edges / g.num_users <= 11.0
    assert int(g.users["label"].notna().sum()) == int(pop.tables["users"]["label"].notna().sum())


def test_truth_is_written_outside_the_input_dir(pop: SyntheticPopulation, tmp_path: Path) -> None:
    assert default_truth_path(tmp_path / "in") == tmp_path / "truth.parquet"
    written = pop.write(tmp_path / "in", truth_path=tmp_path / "elsewhere" / "t.parquet")
    truth = pd.read_parquet(written["truth"])
    pd.testing.assert_frame_equal(truth, pop.truth, check_dtype=False)
    with pytest.raises(ConfigError, match="inside the input directory"):
        pop.write(tmp_path / "in", truth_path=tmp_path / "in" / "truth.parquet")


def test_switching_format_leaves_one_file_per_table(
    pop: SyntheticPopulation, tmp_path: Path
) -> None:
    pop.write(tmp_path / "in", format="parquet")
    pop.write(tmp_path / "in", format="csv")
    assert sorted(p.suffix for p in (tmp_path / "in").iterdir()) == [".csv"] * 5


def test_csv_timestamps_are_iso_utc(pop: SyntheticPopulation, tmp_path: Path) -> None:
    pop.write(tmp_path / "in")
    with (tmp_path / "in" / "users.csv").open(encoding="utf-8") as f:
        f.readline()
        first = f.readline().split(",")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", first[1])


def test_invalid_arguments_are_named() -> None:
    with pytest.raises(ConfigError, match="n_users = 0"):
        generate_population(0)
    with pytest.raises(ConfigError, match="days = -5"):
        generate_population(10, days=-5)
    with pytest.raises(ConfigError, match="end = 'yesterday-ish'"):
        generate_population(10, end="yesterday-ish")
    with pytest.raises(ConfigError, match=r"PopulationConfig.ring_share = 1.5"):
        generate_population(10, config=PopulationConfig(ring_share=1.5))
    with pytest.raises(ConfigError, match="format = 'xml'"):
        generate_population(10).write("unused", format="xml")  # type: ignore[arg-type]


def test_tiny_population_still_valid(tmp_path: Path) -> None:
    tiny = generate_population(3, seed=1)
    tiny.write(tmp_path / "in")
    result = load_input(tmp_path / "in", hmac_key=KEY)
    assert result.rejected_total == 0 and result.tables.num_users == 3


def test_end_date_moves_the_window() -> None:
    pop = generate_population(200, seed=1, days=30, end="2025-01-01")
    reg = pop.tables["users"]["registered_at"]
    assert reg.min() >= pd.Timestamp("2024-12-02", tz="UTC")
    assert reg.max() < pd.Timestamp("2025-01-01", tz="UTC")


def test_cli_generate_writes_input_and_truth(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "data" / "input"
    result = runner.invoke(
        app, ["generate", "--users", "300", "--out", str(out), "--seed", "2", "--format", "parquet"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "users.parquet").exists()
    assert (tmp_path / "data" / "truth.parquet").exists()
    assert "300 users" in result.output
    bad = runner.invoke(app, ["generate", "--users", "10", "--out", str(out), "--format", "xml"])
    assert bad.exit_code == 1
    assert "--format 'xml'" in bad.output
