"""Reason-template formatting: plural agreement, zero, shares, bands, errors."""

from __future__ import annotations

import pytest

from riskgraph.graph.features.reason_text import format_reason, template_fields

COUNT = "shares a device with {value:count} {value:user|users} who defaulted"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "shares a device with 1 user who defaulted"),
        (1.0, "shares a device with 1 user who defaulted"),
        (2.0, "shares a device with 2 users who defaulted"),
        (0, "shares a device with no users who defaulted"),
        (1250.0, "shares a device with 1,250 users who defaulted"),
    ],
)
def test_count_and_plural_agree(value, text):
    assert format_reason(COUNT, value) == text


def test_plural_follows_the_number_as_written():
    # Standard specs count too: "1" as written takes the singular.
    assert format_reason("{value:.0f} late {value:payment|payments}", 1.0) == "1 late payment"
    assert format_reason("{value:,.0f} {value:person|people}", 2000.0) == "2,000 people"
    # Rounded up for "within": 0.3 days is within 1 day, singular.
    assert format_reason("within {value:within} {value:day|days}", 0.3) == "within 1 day"
    assert format_reason("within {value:within} {value:day|days}", 4.2) == "within 5 days"
    assert format_reason("within {value:within} {value:day|days}", 5.0) == "within 5 days"


@pytest.mark.parametrize("value", [1e-12, 5e-324, 1e-9])
def test_within_a_tiny_positive_span_is_within_1_not_0(value):
    # Registrations a split second apart: "registered within 0 days" is false.
    assert format_reason("within {value:within} {value:day|days}", value) == "within 1 day"
    assert format_reason("within {value:within} {value:day|days}", 0.0) == "within 0 days"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.25, "25%"),
        (0.004, "less than 1%"),
        (0.996, "more than 99%"),
        (1.0, "100%"),
        (0.0, "0%"),
    ],
)
def test_a_share_that_is_neither_0_nor_1_never_reads_0_or_100_percent(value, text):
    assert format_reason("{value:pct}", value) == text


@pytest.mark.parametrize(
    ("band", "text"),
    [
        ("6k-10k", "stated monthly income between 6k and 10k"),
        ("<3k", "stated monthly income below 3k"),
        ("20k+", "stated monthly income of 20k or more"),
        (">50k", "stated monthly income above 50k"),
        ("unknown", "stated monthly income of unknown"),
    ],
)
def test_bands_read_as_words(band, text):
    assert format_reason("stated monthly income {value:range}", band) == text


def test_a_category_in_a_numeric_spec_is_written_as_it_is():
    assert format_reason("x of {value:.1f}", "high") == "x of high"


def test_other_fields_and_their_errors():
    template = "riskier than those of {share_below:.0%} of applicants"
    assert (
        format_reason(template, 0.3, share_below=0.85) == "riskier than those of 85% of applicants"
    )
    assert template_fields(template) == {"share_below"}
    assert template_fields(COUNT) == {"value"}
    with pytest.raises(ValueError, match=r"names the field 'share_below'; given: \['value'\]"):
        format_reason(template, 0.3)
    with pytest.raises(ValueError, match=r"reason template 'a \{value' is malformed"):
        template_fields("a {value")


@pytest.mark.parametrize(
    ("template", "edge", "text"),
    [
        ("at most {edge:below} would score better", 2.5, "at most 2 would score better"),
        ("at most {edge:below} would score better", 3.0, "at most 2 would score better"),
        ("below {edge:pct_below} would score better", 0.305, "below 30% would score better"),
        ("below {edge:pct_below} would score better", 0.3, "below 30% would score better"),
    ],
)
def test_advice_edges_never_promise_what_the_bin_does_not_hold(template, edge, text):
    # A bin edge e starts the user's bin: only values below e are in a better one.
    assert format_reason(template, None, edge=edge) == text
