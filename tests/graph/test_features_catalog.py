"""The public API of the graph features: output shape and types, catalogue, docs, errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskgraph.graph.features import (
    FEATURE_CATALOG,
    BorrowingConfig,
    ExposureConfig,
    FeatureConfig,
    FeatureError,
    MultiBorrowingThresholds,
    RingConfig,
    catalog_markdown,
    compute_graph_features,
    feature_catalog,
    visible_labels,
)
from riskgraph.graph.features.catalog import CATALOG_BEGIN, CATALOG_END, FEATURE_CODES

AS_OF = pd.Timestamp("2024-06-01", tz="UTC")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_one_row_per_user_in_table_order_with_catalogue_columns_and_dtypes(town):
    gf = compute_graph_features(town, AS_OF)
    f = gf.features
    assert f["user_id"].tolist() == town.users["user_id"].tolist()
    assert isinstance(f.index, pd.RangeIndex) and f.index.start == 0
    assert f.columns.tolist() == ["user_id", *FEATURE_CATALOG]
    for name, spec in FEATURE_CATALOG.items():
        assert str(f[name].dtype) == spec.dtype, name
    assert set(gf.timings) == {"snapshot", "rings", "hubs", "exposure", "borrowing"}


def test_features_round_trip_through_parquet(town, tmp_path):
    f = compute_graph_features(town, AS_OF).features
    for name in f.columns:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
    f.to_parquet(tmp_path / "features.parquet", index=False)
    back = pd.read_parquet(tmp_path / "features.parquet")
    pd.testing.assert_frame_equal(f, back.astype(f.dtypes.to_dict()), check_exact=True)


def test_every_reason_template_formats_a_value():
    for spec in FEATURE_CATALOG.values():
        assert spec.risk_direction in ("increasing", "decreasing", "none")
        assert spec.description.endswith(".")
        if spec.kind == "identifier":
            assert spec.reason is None
            with pytest.raises(ValueError, match=rf"feature '{spec.name}' is an identifier"):
                spec.format_reason(1)
        else:
            text = spec.format_reason(True if spec.kind == "flag" else 2.0)
            assert "{" not in text and (text[0].islower() or text[0].isdigit()), spec.name


def test_reason_examples_read_as_an_applicant_would():
    assert FEATURE_CATALOG["device_bad_1hop"].format_reason(3) == (
        "shares a device with 3 users who defaulted"
    )
    assert FEATURE_CATALOG["platforms_30d"].format_reason(7.0) == (
        "applied at 7 lending platforms in the last 30 days"
    )
    assert FEATURE_CATALOG["ring_bad_rate"].format_reason(0.25).startswith("25% of")


_PLURAL_AFTER_ONE = re.compile(
    r"\b1 (?:other |late |credit |lending |earlier |shared )?"
    r"(?:users|people|accounts|applications|platforms|phones|devices|days|loans|payments)\b"
)


def test_sentences_agree_in_number_and_small_shares_never_read_zero():
    for name, spec in FEATURE_CATALOG.items():
        if spec.reason is None or spec.kind == "flag":
            continue
        one = spec.format_reason(1.0)
        assert not _PLURAL_AFTER_ONE.search(one), (name, one)
        # A 0 of an increasing feature is never a reason (test_score_reasons), but a
        # small share must not round to one.
        assert "0%" not in spec.format_reason(0.001), name
    assert FEATURE_CATALOG["device_bad_2hop"].format_reason(1) == (
        "is linked through shared devices to 1 user who defaulted, directly or through "
        "one other user"
    )
    assert (
        FEATURE_CATALOG["app_device_co_applicants"]
        .format_reason(1)
        .startswith("1 other person filed")
    )
    assert (
        FEATURE_CATALOG["ring_registration_span_days"].format_reason(0.4).endswith("within 1 day")
    )


def test_zero_sentences_state_what_costs_points():
    assert (
        FEATURE_CATALOG["ring_registration_span_days"]
        .format_reason(0.0)
        .endswith("all registered on the same day")
    )
    # Ring counts need none: a 0 is in the best bin of ring members, and "in no ring"
    # is neutral, so a 0 never costs points.
    for name in ("ring_bad_count", "ring_platforms", "ring_shared_identifiers"):
        assert FEATURE_CATALOG[name].zero_reason is None, name


def test_no_sentence_quotes_an_internal_score():
    # The PageRank value means nothing to an applicant, and any value above the best
    # bin only says that some defaulted user is reachable.
    text = FEATURE_CATALOG["bad_ppr"].format_reason(0.0071)
    assert not re.search(r"\d", text) and "closely" not in text


def test_only_label_shares_and_ring_features_outside_a_ring_are_missing_neutral():
    # NaN is no risk factor there: undefined (no labelled user) or absent (no ring).
    # Being in no ring must never cost points (ring_size and ring_flag, defined for
    # everyone, price membership).
    neutral = {name for name, spec in FEATURE_CATALOG.items() if spec.missing_neutral}
    shares = {name for name in FEATURE_CATALOG if "_bad_share_" in name}
    ring_nan = {
        name
        for name, spec in FEATURE_CATALOG.items()
        if spec.family == "rings" and "NaN when in no ring" in spec.description
    }
    assert ring_nan >= {"ring_bad_count", "ring_bad_rate", "ring_platforms"}
    assert neutral == shares | ring_nan


def test_catalogue_table_has_seven_cells_per_row_despite_pipes_in_templates():
    for line in catalog_markdown().splitlines():
        assert len(re.findall(r"(?<!\\)\|", line)) == 8, line


def test_docs_hold_the_current_catalogue():
    text = DOCS.read_text(encoding="utf-8")
    generated = text.split(CATALOG_BEGIN, 1)[1].split(CATALOG_END, 1)[0]
    assert generated.strip() == catalog_markdown().strip(), (
        "docs/features.md is out of date: run "
        "python -c 'from riskgraph.graph.features.catalog import update_catalog_docs; "
        'update_catalog_docs("docs/features.md")\''
    )


def test_visible_labels_only_before_as_of(town):
    labels = visible_labels(town.users, AS_OF)
    got = dict(zip(town.users["user_id"], labels, strict=True))
    assert got["r4"] == 1.0 and got["r3"] == 0.0 and got["c1"] == 1.0
    assert np.isnan(got["r2"]) and np.isnan(got["z1"]) and np.isnan(got["r1"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"as_of": pd.Timestamp("2024-06-01")}, r"as_of = 2024-06-01 00:00:00 has no time zone"),
        ({"as_of": "soon"}, r"as_of = 'soon': expected a timezone-aware UTC timestamp"),
        ({"labels": np.zeros(3)}, r"labels has shape \(3,\); expected \(14,\), one per user"),
        ({"labels": np.full(14, 0.5)}, r"labels\[0\] = 0.5 \(user 'a1'\): expected 1 \(bad\), 0"),
    ],
)
def test_argument_errors_name_the_argument_and_value(town, kwargs, message):
    kwargs = {"as_of": AS_OF, **kwargs}
    with pytest.raises(FeatureError, match=message):
        compute_graph_features(town, kwargs.pop("as_of"), **kwargs)


def test_as_of_in_another_time_zone_is_the_same_instant(town):
    a = compute_graph_features(town, AS_OF).features
    b = compute_graph_features(town, AS_OF.tz_convert("Asia/Shanghai")).features
    pd.testing.assert_frame_equal(a, b)


def test_an_empty_graph_gives_an_empty_frame():
    from riskgraph.loaders import empty_graph_tables

    gf = compute_graph_features(empty_graph_tables(), AS_OF)
    assert gf.features.columns.tolist() == ["user_id", *FEATURE_CATALOG]
    assert len(gf.features) == 0 and len(gf.rings) == 0


def test_the_catalogue_quotes_the_thresholds_in_force():
    config = FeatureConfig(
        rings=RingConfig(max_sharing=10, burst_days=14.0, flag_min_size=4),
        exposure=ExposureConfig(max_sharing=30),
        borrowing=BorrowingConfig(
            thresholds=MultiBorrowingThresholds(
                platforms_7d=2, platforms_30d=6, applications_24h=3
            ),
            co_application_days=3.0,
        ),
    )
    catalog = feature_catalog(config)
    assert list(catalog) == list(FEATURE_CATALOG)
    assert catalog["hub_identifiers"].format_reason(2) == (
        "uses 2 devices or accounts shared by more than 10 people"
    )
    assert "(2 or more lending platforms within 7 days, 6 or more within 30 days, or 3 or " in (
        catalog["multi_borrowing"].format_reason(True)
    )
    assert (
        catalog["ring_registration_burst_share"]
        .format_reason(1.0)
        .endswith("registered within 14 days of each other")
    )
    assert (
        catalog["co_users_same_platform_week"]
        .format_reason(2)
        .endswith("applied to the same lenders within 3 days of each other")
    )
    assert "(30) users link nobody" in catalog["device_bad_1hop"].description
    assert "at least RingConfig.flag_min_size (4) members" in catalog["ring_flag"].description
    # The defaults read as before.
    assert FEATURE_CATALOG["hub_identifiers"].format_reason(2).endswith("more than 20 people")
    assert (
        FEATURE_CATALOG["co_users_same_platform_week"].format_reason(2).endswith("in the same week")
    )


def test_every_feature_but_the_identifiers_has_its_own_stable_code_and_a_topic():
    codes = [spec.code for spec in FEATURE_CATALOG.values() if spec.kind != "identifier"]
    assert len(codes) == len(set(codes)) == len(FEATURE_CODES)
    assert all(re.fullmatch(r"[RHEB]\d\d", code) for code in codes)
    assert FEATURE_CATALOG["ring_id"].code is None
    assert FEATURE_CATALOG["device_bad_1hop"].code == "E02"
    assert FEATURE_CATALOG["platforms_30d"].code == "B07"
    # Links to defaulters are one fact, told in other words by many features.
    topics = {spec.topic for spec in FEATURE_CATALOG.values() if spec.family == "exposure"}
    assert topics == {"defaulted_links", "linked_users"}
    assert FEATURE_CATALOG["bad_ppr"].topic == FEATURE_CATALOG["any_bad_2hop"].topic
    assert FEATURE_CATALOG["ring_bad_count"].topic != FEATURE_CATALOG["ring_size"].topic
    assert all(spec.topic for spec in FEATURE_CATALOG.values() if spec.kind != "identifier")


def test_advice_is_given_only_for_what_an_applicant_can_change():
    advised = {name for name, spec in FEATURE_CATALOG.items() if spec.advice is not None}
    assert advised == {
        *(f"{kind}_{w}d" for kind in ("applications", "platforms") for w in (1, 7, 30, 90)),
        "max_applications_24h",
        "amount_sum_30d",
        "amount_sum_90d",
        "amount_max_90d",
    }
