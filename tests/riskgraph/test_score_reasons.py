"""Reason codes on hand-made users: the right sentences, with their numbers."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskgraph.score import CreditScorecard, points_lost, reason_codes, top_reasons
from riskgraph.score import reasons as reasons_module
from riskgraph.score.reasons import MIN_POINTS_LOST


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    reason: str
    risk_direction: str


CATALOG = {
    "device_bad_1hop": Entry(
        "device_bad_1hop",
        "Users with a known bad label sharing a device with the user.",
        "shares a device with {value:.0f} users who defaulted",
        "increasing",
    ),
    "platforms_30d": Entry(
        "platforms_30d",
        "Distinct lending platforms applied to in the last 30 days.",
        "applied at {value:.0f} lending platforms in the last 30 days",
        "increasing",
    ),
}


@functools.cache
def model() -> CreditScorecard:
    """Risk rises with past dues, utilization, no history, bad device neighbours and
    platforms applied to; nothing else matters."""
    rng = np.random.default_rng(3)
    n = 8000
    thin = rng.random(n) < 0.2
    dues = rng.poisson(0.6, n).astype(float)
    util = rng.uniform(0.0, 1.0, n).round(2)
    months = rng.gamma(2.0, 40.0, n).round().clip(1, 400)
    dues[thin], util[thin], months[thin] = np.nan, np.nan, 0.0
    device_bad = rng.poisson(0.2, n).astype(float)
    platforms = rng.poisson(1.0, n).astype(float)
    logit = (
        -3.5
        + 0.8 * np.nan_to_num(dues)
        + 2.0 * thin
        + 2.0 * np.nan_to_num(util)
        + 1.0 * device_bad
        + 0.5 * platforms
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "credit_history_months": months,
            "past_dues": dues,
            "utilization": util,
            "device_bad_1hop": device_bad,
            "platforms_30d": platforms,
        }
    )
    return CreditScorecard(catalog=CATALOG, C=1.0).fit(frame, y)


def best_values() -> dict[str, float]:
    """Values in every variable's best bin (read off the fitted scorecard)."""
    return {
        "credit_history_months": 400.0,
        "past_dues": 0.0,
        "utilization": 0.0,
        "device_bad_1hop": 0.0,
        "platforms_30d": 0.0,
    }


def reasons_of(**users: dict[str, float]) -> pd.DataFrame:
    rows = {name: {**best_values(), **values} for name, values in users.items()}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    return reason_codes(model(), frame)


def _texts(row: pd.Series) -> list[str]:
    return [row[f"reason_{i}"] for i in (1, 2, 3) if not pd.isna(row[f"reason_{i}"])]


def test_best_user_has_no_reason():
    r = reasons_of(best={})
    assert _texts(r.loc["best"]) == []


def test_one_weak_factor_gives_one_reason_with_its_number():
    r = reasons_of(dues={"past_dues": 2.0})
    assert _texts(r.loc["dues"]) == ["2 late payments on earlier loans"]
    assert r.loc["dues", "reason_variable_1"] == "past_dues"
    assert r.loc["dues", "reason_code_1"] == "A01"
    assert r.loc["dues", "points_lost_1"] > 0


def test_three_weak_factors_most_points_first():
    r = reasons_of(
        risky={"past_dues": 4.0, "utilization": 0.95, "device_bad_1hop": 3.0, "platforms_30d": 1.0}
    )
    texts = _texts(r.loc["risky"])
    # Utilization is the one an applicant can change: its reason says what scores better.
    advice = re.fullmatch(
        r"uses 95% of the credit limits already granted; below (\d+)% would score better",
        texts[[t.startswith("uses") for t in texts].index(True)],
    )
    assert advice is not None and int(advice.group(1)) < 95
    assert set(texts) == {
        "4 late payments on earlier loans",
        advice.group(0),
        "shares a device with 3 users who defaulted",
    }
    lost = r.loc["risky", ["points_lost_1", "points_lost_2", "points_lost_3"]].to_numpy(float)
    assert (np.diff(lost) <= 0).all()


def test_reasons_found_in_chunks_of_users_equal_all_at_once(monkeypatch):
    rng = np.random.default_rng(5)
    n = 500
    frame = pd.DataFrame(
        {
            "credit_history_months": rng.choice([0.0, 12.0, 400.0], n),
            "past_dues": np.where(rng.random(n) < 0.2, np.nan, rng.poisson(1.0, n)),
            "utilization": rng.uniform(0.0, 1.0, n).round(2),
            "device_bad_1hop": rng.poisson(0.5, n).astype(float),
            "platforms_30d": rng.poisson(2.0, n).astype(float),
        },
        index=[f"u{i}" for i in range(n)],
    )
    whole = reason_codes(model(), frame)
    monkeypatch.setattr(reasons_module, "_ROW_CHUNK", 37)
    chunked = reason_codes(model(), frame)
    pd.testing.assert_frame_equal(chunked, whole)
    assert whole["reason_1"].notna().sum() > 100  # the users do have reasons
    empty = reason_codes(model(), frame.iloc[:0])
    assert len(empty) == 0 and list(empty.columns) == list(whole.columns)


def test_graph_template_from_the_catalogue():
    r = reasons_of(multi={"platforms_30d": 7.0})
    assert _texts(r.loc["multi"]) == ["applied at 7 lending platforms in the last 30 days"]


def test_thin_file_reads_no_credit_history_not_missing_attributes():
    r = reasons_of(thin={"credit_history_months": 0.0, "past_dues": np.nan, "utilization": np.nan})
    texts = _texts(r.loc["thin"])
    assert texts == ["no credit history yet"]
    assert r.loc["thin", "reason_variable_1"] == "no_credit_history"
    assert r.loc["thin", "reason_code_1"] == "C01"


def test_thin_file_with_graph_risk_gets_both():
    r = reasons_of(
        thin_ring={
            "credit_history_months": 0.0,
            "past_dues": np.nan,
            "utilization": np.nan,
            "device_bad_1hop": 2.0,
        }
    )
    assert set(_texts(r.loc["thin_ring"])) == {
        "no credit history yet",
        "shares a device with 2 users who defaulted",
    }


def test_short_history_sentence():
    r = reasons_of(new={"credit_history_months": 3.0})
    assert _texts(r.loc["new"]) == ["credit history of 3 months"]


# -- truthful sentences with the real catalogue ----------------------------------------
# A second model on hand-made users with the graph catalogue's own entries: label
# shares that are undefined (NaN) for half the users, ring features that are NaN
# outside a ring, the PageRank score and the GNN probability.

GRAPH = (
    "device_bad_1hop",
    "device_bad_share_1hop",
    "ring_size",
    "ring_bad_count",
    "ring_registration_span_days",
    "bad_ppr",
)
RING_NAN = ("ring_bad_count", "ring_registration_span_days")
ONE_THEN_PLURAL = re.compile(
    r"\b1 (?:other |late |credit |lending |earlier |shared )?"
    r"(?:users|people|accounts|applications|platforms|phones|devices|days|loans|payments)\b"
)


def graph_population(n: int = 8000, seed: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    """Risk rises with dues, low income, bad device neighbours, their share, the size
    of an organised ring (registered within days), defaulted ring mates and
    PageRank. Users with no labelled neighbour (share NaN) are riskier than those
    with a low share, and users in no ring riskier than households (rings registered
    over years), so an empirical missing bin would cost them points."""
    rng = np.random.default_rng(seed)
    dues = rng.poisson(0.5, n).astype(float)
    income = rng.choice(["<3k", "3k-6k", "6k-10k", "10k-20k"], n, p=[0.2, 0.3, 0.3, 0.2])
    device_bad = rng.poisson(0.25, n).astype(float)
    share = rng.uniform(0.0, 1.0, n) ** 2
    no_labelled = rng.random(n) < 0.5
    share[no_labelled] = np.nan
    member = rng.random(n) < 0.3
    organised = member & (rng.random(n) < 0.5)
    ring_size = np.where(member, rng.integers(2, 13, n), 0).astype(float)
    span = np.where(organised, rng.uniform(0.0, 10.0, n), rng.uniform(200.0, 2000.0, n))
    span[~member] = np.nan
    ring_bad = np.where(member, rng.poisson(0.6, n), np.nan)
    ppr = np.where(rng.random(n) < 0.3, rng.lognormal(-6.0, 1.0, n), 0.0)
    logit = (
        -3.3
        + 0.6 * dues
        + np.select([income == "<3k", income == "3k-6k"], [0.9, 0.4], 0.0)
        + 0.8 * device_bad
        + np.where(no_labelled, 0.6, 2.0 * np.nan_to_num(share))
        + np.select([organised, member], [1.0 + 0.1 * ring_size, -0.8], 0.0)
        + 0.6 * np.nan_to_num(ring_bad)
        + 0.5 * (ppr > 0)
        + 300.0 * ppr
    )
    noise = rng.normal(0.0, 0.7, n)
    gnn = 1.0 / (1.0 + np.exp(-(0.7 * logit - 0.8 + noise)))
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "income_band": pd.array(income, dtype="string"),
            "past_dues": dues,
            "device_bad_1hop": device_bad,
            "device_bad_share_1hop": share,
            "ring_size": ring_size,
            "ring_bad_count": ring_bad,
            "ring_registration_span_days": span,
            "bad_ppr": ppr,
            "gnn_risk": gnn,
        },
        index=pd.Index([f"G{i:05d}" for i in range(n)], name="user_id"),
    )
    return frame, y


def graph_catalog(**overrides: object) -> dict[str, object]:
    from riskgraph.graph.features import FEATURE_CATALOG

    return {name: replace(FEATURE_CATALOG[name], **overrides) for name in GRAPH}


@functools.cache
def graph_model(missing_neutral: bool = True) -> CreditScorecard:
    frame, y = graph_population()
    catalog = graph_catalog() if missing_neutral else graph_catalog(missing_neutral=False)
    return CreditScorecard(catalog=catalog, C=1.0).fit(frame, y)


GOOD = {
    "income_band": "10k-20k",
    "past_dues": 0.0,
    "device_bad_1hop": 0.0,
    "device_bad_share_1hop": 0.0,
    "ring_size": 0.0,
    "ring_bad_count": np.nan,
    "ring_registration_span_days": np.nan,
    "bad_ppr": 0.0,
    "gnn_risk": 0.001,
}


def graph_users(**users: dict[str, object]) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(
        {name: {**GOOD, **values} for name, values in users.items()}, orient="index"
    )
    frame["income_band"] = frame["income_band"].astype("string")
    return frame.astype({c: float for c in frame.columns if c != "income_band"})


def graph_reasons(model: CreditScorecard | None = None, **users: dict[str, object]):
    return reason_codes(model or graph_model(), graph_users(**users))


def _codes(row: pd.Series) -> list[str]:
    """The variables whose sentences a user reads."""
    return [
        row[f"reason_variable_{i}"] for i in (1, 2, 3) if not pd.isna(row[f"reason_variable_{i}"])
    ]


def test_the_best_hand_made_user_has_no_reason():
    assert _texts(graph_reasons(best={}).loc["best"]) == []


def test_a_missing_label_share_loses_no_points_and_is_never_a_reason():
    frame, y = graph_population()
    missing = frame["device_bad_share_1hop"].isna().to_numpy()
    low = (frame["device_bad_share_1hop"] < 0.2).to_numpy()
    # The precondition that makes the test bite: without a share, users are riskier
    # than with a low one, so an empirical missing bin costs them points.
    assert y[missing].mean() > y[low].mean() + 0.02
    users = {"undefined": {"device_bad_share_1hop": np.nan}, "zero": {}}
    model = graph_model()
    lost = points_lost(
        model, model.points(graph_users(**users)), model.prepare(graph_users(**users))
    )
    assert lost.loc["undefined", "device_bad_share_1hop"] == 0.0
    assert lost.loc["zero", "device_bad_share_1hop"] == 0.0
    points = model.points(graph_users(**users))
    neutral = (model.scaling_.offset - model.scaling_.factor * model.intercept_) / len(
        model.variables_
    )
    assert points.loc["undefined", "device_bad_share_1hop"] == pytest.approx(neutral)
    assert _texts(graph_reasons(**users).loc["undefined"]) == []

    # The old treatment (empirical weight for the missing bin) told these users
    # "no user linked to this applicant has a repayment record yet".
    old = graph_reasons(graph_model(missing_neutral=False), **users)
    assert "device_bad_share_1hop" in _codes(old.loc["undefined"])


def test_a_defined_share_reads_as_a_share_of_those_with_a_record():
    r = graph_reasons(high={"device_bad_share_1hop": 0.75})
    assert _texts(r.loc["high"]) == [
        "75% of the users sharing a device with this applicant defaulted (of those whose "
        "repayments are known)"
    ]


def test_counts_agree_in_number():
    r = graph_reasons(
        one={"device_bad_1hop": 1.0, "past_dues": 1.0},
        two={"device_bad_1hop": 2.0, "past_dues": 3.0},
    )
    assert set(_texts(r.loc["one"])) == {
        "shares a device with 1 user who defaulted",
        "1 late payment on earlier loans",
    }
    assert set(_texts(r.loc["two"])) == {
        "shares a device with 2 users who defaulted",
        "3 late payments on earlier loans",
    }


def test_being_in_no_ring_never_costs_points():
    frame, y = graph_population()
    outside = frame["ring_size"].eq(0).to_numpy()
    household = (frame["ring_registration_span_days"] > 100).to_numpy()
    # The precondition that makes the test bite: households are safer than users in
    # no ring, so an empirical "in no ring" (missing) bin is worse than theirs.
    assert y[outside].mean() > y[household].mean() + 0.02
    model = graph_model()
    users = graph_users(alone={})
    lost = points_lost(model, model.points(users), model.prepare(users))
    assert (lost.loc["alone", list(RING_NAN)] == 0.0).all()
    assert _texts(reason_codes(model, users).loc["alone"]) == []
    # The old treatment (empirical weight for "in no ring") told these users "is not
    # part of a group of linked accounts".
    old = graph_reasons(graph_model(missing_neutral=False), alone={})
    assert set(_codes(old.loc["alone"])) & set(RING_NAN)


def test_a_ring_member_reads_what_is_risky_about_the_group_never_a_zero():
    organised = {"ring_size": 8.0, "ring_registration_span_days": 2.0}
    r = graph_reasons(
        none={**organised, "ring_bad_count": 0.0},
        three={**organised, "ring_bad_count": 3.0},
        household={"ring_size": 2.0, "ring_bad_count": 0.0, "ring_registration_span_days": 1500.0},
    )
    assert "belongs to a group of linked accounts all registered within 2 days" in _texts(
        r.loc["none"]
    )
    assert "ring_bad_count" not in _codes(r.loc["none"])
    assert "belongs to a group of linked accounts in which 3 other users defaulted" in _texts(
        r.loc["three"]
    )
    # Registered together and defaulted together are two facts, each told once.
    assert len(set(_texts(r.loc["three"]))) == len(_texts(r.loc["three"])) >= 2
    # A household's values sit in the best bins of ring members: nothing to say.
    assert not set(_codes(r.loc["household"])) & set(RING_NAN)


def test_without_a_zero_sentence_a_zero_is_never_a_reason():
    # With an empirical "in no ring" bin, a ring member with 0 defaulted ring mates
    # loses points against it, but "in which no other users defaulted" is no reason.
    model = graph_model(missing_neutral=False)
    users = graph_users(
        none={"ring_size": 2.0, "ring_bad_count": 0.0, "ring_registration_span_days": 900.0}
    )
    assert (
        points_lost(model, model.points(users), model.prepare(users)).loc["none", "ring_bad_count"]
        > MIN_POINTS_LOST
    )
    assert "ring_bad_count" not in _codes(reason_codes(model, users).loc["none"])


def test_the_pagerank_reason_quotes_no_score_and_claims_no_closeness():
    r = graph_reasons(faint={"bad_ppr": 0.0004}, strong={"bad_ppr": 0.02})
    for user in ("faint", "strong"):
        assert _texts(r.loc[user]) == [
            "is linked through a chain of shared devices, accounts or contacts to users who "
            "defaulted"
        ]


def test_the_gnn_reason_states_a_true_share_of_applicants_not_the_probability():
    frame, _ = graph_population()
    r = graph_reasons(risky={"gnn_risk": 0.3})
    (text,) = _texts(r.loc["risky"])
    # No graph fact of this user goes with more risk than the average: the network
    # model's points are then stated as where the user stands, never as "our model".
    match = re.fullmatch(
        r"the devices, accounts and contacts linked to this applicant carry more risk than "
        r"those of (\d+)% of applicants",
        text,
    )
    assert match, text
    below = (frame["gnn_risk"] < 0.3).mean()
    assert below - 0.01 <= int(match.group(1)) / 100 <= below


def test_income_band_reads_as_words():
    r = graph_reasons(low={"income_band": "<3k"}, mid={"income_band": "3k-6k"})
    assert _texts(r.loc["low"]) == ["stated monthly income below 3k"]
    assert _texts(r.loc["mid"]) == ["stated monthly income between 3k and 6k"]


def test_a_view_averaged_loss_is_no_reason_when_the_quoted_value_is_in_the_best_bin():
    # Label views: the points come from views in which the user had 1 defaulted
    # device neighbour at a 75% share, the sentence quotes the values seen with
    # every label (here the best bins: a 10% share), so neither is a reason.
    model = graph_model()
    quoted = model.prepare(graph_users(u={"device_bad_share_1hop": 0.1}))
    view = graph_users(u={"device_bad_1hop": 1.0, "device_bad_share_1hop": 0.75})
    view_points = model.points(view)
    lost = points_lost(model, view_points, quoted)
    assert (lost.loc["u", ["device_bad_1hop", "device_bad_share_1hop"]] > 1.0).all()
    assert (
        points_lost(model, model.points(graph_users(u={"device_bad_share_1hop": 0.1})), quoted).loc[
            "u", "device_bad_share_1hop"
        ]
        == 0.0
    )
    assert _texts(top_reasons(model, quoted, view_points).loc["u"]) == []
    # The same points with the view's own values quoted are a reason: one, since both
    # variables tell the same fact (links to defaulted users), with the points of both.
    both = top_reasons(model, model.prepare(view), view_points).loc["u"]
    assert len(_codes(both)) == 1
    assert _codes(both)[0] in {"device_bad_1hop", "device_bad_share_1hop"}
    assert both["points_lost_1"] == pytest.approx(
        lost.loc["u", ["device_bad_1hop", "device_bad_share_1hop"]].sum()
    )


def test_the_network_models_points_are_told_as_the_graph_facts_that_carry_them():
    model = graph_model()
    users = graph_users(
        alone={"gnn_risk": 0.6},
        linked={"gnn_risk": 0.6, "device_bad_1hop": 2.0},
        ring={"gnn_risk": 0.6, "ring_size": 8.0, "ring_registration_span_days": 2.0},
    )
    r = reason_codes(model, users)
    lost = points_lost(model, model.points(users), model.prepare(users))
    # The facts carry the network model's points, which are no reason of their own.
    linked = r.loc["linked"]
    assert linked["reason_1"] == "shares a device with 2 users who defaulted"
    assert linked["reason_code_1"] == "E02"
    assert linked["points_lost_1"] == pytest.approx(
        lost.loc["linked", ["gnn_risk", "device_bad_1hop"]].sum()
    )
    assert "gnn_risk" not in _codes(linked)
    assert "gnn_risk" not in _codes(r.loc["ring"])
    assert {"R01", "R05"} & set(r.loc["ring", ["reason_code_1", "reason_code_2"]])
    ring_total = r.loc["ring", ["points_lost_1", "points_lost_2", "points_lost_3"]].sum()
    assert ring_total == pytest.approx(lost.loc["ring"].sum())
    # Nothing in the graph goes with risk for this user: the network model's own code.
    assert r.loc["alone", "reason_code_1"] == "N01"
    for text in r[["reason_1", "reason_2", "reason_3"]].stack().dropna():
        assert "model" not in text, text


def test_a_protected_attribute_is_no_input_and_never_a_reason():
    frame, y = graph_population()
    rng = np.random.default_rng(0)
    frame = frame.assign(age=rng.normal(45.0, 10.0, len(y)).round() - 10.0 * y)
    model = CreditScorecard(catalog=graph_catalog(), C=1.0, exclude=("age",)).fit(frame, y)
    assert "age" not in [v.name for v in model.variables_]
    r = reason_codes(model, frame.iloc[:500])
    assert not r.filter(like="reason_variable").isin(["age"]).any().any()
    # The precondition: left in, age would be a reason (it predicts the outcome here).
    free = CreditScorecard(catalog=graph_catalog(), C=1.0, exclude=()).fit(frame, y)
    assert (
        reason_codes(free, frame.iloc[:500])
        .filter(like="reason_variable")
        .isin(["age"])
        .any()
        .any()
    )


users_strategy = st.fixed_dictionaries(
    {
        "income_band": st.sampled_from(["<3k", "3k-6k", "6k-10k", "10k-20k", "20k+"]),
        "past_dues": st.integers(0, 4).map(float),
        "device_bad_1hop": st.integers(0, 4).map(float),
        "device_bad_share_1hop": st.one_of(
            st.just(np.nan), st.just(0.0), st.floats(0.0, 1.0, allow_nan=False)
        ),
        "ring_size": st.integers(0, 12).map(float),
        "ring_bad_count": st.one_of(st.just(np.nan), st.integers(0, 4).map(float)),
        "ring_registration_span_days": st.one_of(st.just(np.nan), st.floats(0.0, 2000.0)),
        "bad_ppr": st.one_of(st.just(0.0), st.floats(1e-9, 0.05)),
        "gnn_risk": st.floats(0.0, 1.0),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(users_strategy, min_size=1, max_size=25))
def test_no_reason_contradicts_the_value_it_quotes(rows):
    model = graph_model()
    frame = pd.DataFrame(rows)
    frame["income_band"] = frame["income_band"].astype("string")
    frame.index = pd.Index([f"H{i}" for i in range(len(frame))], name="user_id")
    r = reason_codes(model, frame)
    for user, row in r.iterrows():
        values = frame.loc[user]
        for i in (1, 2, 3):
            code, text = row[f"reason_variable_{i}"], row[f"reason_{i}"]
            if pd.isna(code):
                continue
            assert row[f"points_lost_{i}"] > MIN_POINTS_LOST
            # Nothing adverse claimed of a zero, no share rounded to 0%, agreement.
            assert not re.search(r"\b0\b(?![.,]\d)|\bno (?:other )?users\b", text), text
            assert not ONE_THEN_PLURAL.search(text), text
            value = values[code]
            assert not pd.isna(value) or code not in ("device_bad_share_1hop",), text
            if code in ("device_bad_1hop", "past_dues"):
                assert int(re.search(r"\d+", text).group()) == value > 0, text
            elif code == "device_bad_share_1hop":
                assert value > 0, text
            elif code == "ring_bad_count":
                quoted = re.search(r"(\d+) other", text)
                assert quoted is not None and int(quoted.group(1)) == value > 0, text
            elif code in RING_NAN:
                assert not pd.isna(value), text
            elif code == "bad_ppr":
                assert value > 0 and not re.search(r"\d", text), text
            elif code == "gnn_risk":
                assert f"{value:.1%}" not in text, text


def test_reasons_are_worded_by_the_catalogue_in_force():
    # A model keeps its bins; the sentences of its graph variables come from the
    # catalogue of tonight's settings (thresholds quoted as they are now).
    model = graph_model()
    users = graph_users(linked={"device_bad_1hop": 2.0})
    catalog = graph_catalog()
    catalog["device_bad_1hop"] = replace(
        catalog["device_bad_1hop"], reason="shares a phone with {value:count} defaulters"
    )
    assert reason_codes(model, users).loc["linked", "reason_1"].startswith("shares a device")
    assert reason_codes(model, users, catalog=catalog).loc["linked", "reason_1"] == (
        "shares a phone with 2 defaulters"
    )
