"""Reason-code templates: how a sentence for an applicant is filled in with a value.

Every reason sentence (the graph feature catalogue's ``reason``, the scorecard's own
templates for user attributes and the GNN) is a template filled by
:func:`format_reason`. A template is a Python format string over the field
``value`` (and, where a template asks for it, ``share_below``), with a few format
specs of its own so that every sentence reads correctly for every value:

==========================  =================================================  ==================
spec                        renders                                            example
==========================  =================================================  ==================
``{value:count}``           a whole number with thousands separators, "no"     ``3``, ``1,250``,
                            for 0                                              ``no``
``{value:within}``          a whole number rounded *up* ("within 5 days" is    ``5`` for 4.2,
                            true for 4.2 days; at least 1 above 0)             ``1`` for 1e-12
``{value:pct}``             a percentage; "less than 1%" / "more than 99%"     ``25%``,
                            instead of rounding a share that is neither 0      ``less than 1%``
                            nor 1 to "0%" or "100%"
``{value:range}``           a band such as ``6k-10k``, ``<3k``, ``20k+`` as    ``between 6k and
                            words                                              10k``
``{edge:below}``            the largest whole number below a bin edge          ``2`` for 2.5 or 3
                            (advice: "at most 2 would score better")
``{edge:pct_below}``        a share rounded *down* to a whole percent, so      ``30%`` for 0.305
                            "below 30%" is true of every value below the edge
``{value:ONE|MANY}``        ONE when the last number written before it reads   ``user``, ``users``
                            "1", else MANY (agreement: "1 user", "2 users")
any other spec              Python's ``format``: ``{value:.0f}``, ``{value:,.0f}``
==========================  =================================================  ==================

Examples
--------
>>> format_reason("shares a device with {value:count} {value:user|users} who defaulted", 1)
'shares a device with 1 user who defaulted'
>>> format_reason("shares a device with {value:count} {value:user|users} who defaulted", 3.0)
'shares a device with 3 users who defaulted'
>>> format_reason("stated monthly income {value:range}", "6k-10k")
'stated monthly income between 6k and 10k'
>>> format_reason("uses {value:pct} of the credit limits already granted", 0.004)
'uses less than 1% of the credit limits already granted'
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections.abc import Callable
from typing import Any

__all__ = ["format_reason", "template_fields"]

_RANGE = re.compile(r"^\s*([^\s<>+-][^\s<>+]*?)\s*-\s*([^\s<>+-][^\s<>+]*)\s*$")
_BELOW = re.compile(r"^\s*<\s*(\S.*?)\s*$")
_ABOVE = re.compile(r"^\s*>\s*(\S.*?)\s*$")
_OR_MORE = re.compile(r"^\s*(\S.*?)\s*\+\s*$")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


class _ReasonFormatter(string.Formatter):
    """``string.Formatter`` with the reason specs; remembers the last number written
    so that ``{value:ONE|MANY}`` agrees with it."""

    def __init__(self) -> None:
        super().__init__()
        self.last_number: float | None = None

    def format_field(self, value: Any, format_spec: str) -> str:
        if "|" in format_spec:
            one, many = format_spec.split("|", 1)
            shown = self.last_number if self.last_number is not None else _as_float(value)
            return one if shown == 1.0 else many
        if format_spec == "range":
            return _band(str(value))
        numeric = _NUMBER_SPECS.get(format_spec)
        if numeric is not None:
            number = _as_float(value)
            if number is None:
                return str(value)
            text, self.last_number = numeric(number)
            return text
        try:
            text = format(value, format_spec)
        except (ValueError, TypeError):
            # A category in a numeric template: the value as it is.
            text = str(value)
        numbers = _NUMBER.findall(text)
        if numbers and not text.rstrip().endswith("%"):
            self.last_number = float(numbers[-1].replace(",", ""))
        elif numbers:
            self.last_number = None
        return text


def _count(number: float) -> tuple[str, float | None]:
    whole = math.floor(number + 0.5)
    return ("no" if whole == 0 else f"{whole:,}"), float(whole)


def _within(number: float) -> tuple[str, float | None]:
    whole = math.ceil(number - 1e-9)
    if number > 0:
        # The tolerance must not turn a tiny positive value into "within 0".
        whole = max(whole, 1)
    return f"{whole:,}", float(whole)


def _pct(number: float) -> tuple[str, float | None]:
    if 0.0 < number < 0.005:
        return "less than 1%", None
    if 0.995 <= number < 1.0:
        return "more than 99%", None
    return f"{number:.0%}", None


def _below(number: float) -> tuple[str, float | None]:
    whole = math.ceil(number - 1e-9) - 1
    return f"{whole:,}", float(whole)


def _pct_below(number: float) -> tuple[str, float | None]:
    return f"{math.floor(number * 100.0 + 1e-9):.0f}%", None


#: The numeric specs: the text of a number, and the number a later ``{value:ONE|MANY}``
#: agrees with (None after a percentage).
_NUMBER_SPECS: dict[str, Callable[[float], tuple[str, float | None]]] = {
    "count": _count,
    "within": _within,
    "pct": _pct,
    "below": _below,
    "pct_below": _pct_below,
}


def format_reason(template: str, value: Any, **fields: Any) -> str:
    """Fill a reason template with ``value`` (and any other named ``fields``).

    Parameters
    ----------
    template : str
        Format string over ``value`` using the specs of this module.
    value : object
        The user's value (a number, a bool or a category).
    **fields
        Other fields the template names, e.g. ``share_below``.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        When the template names a field that was not given, or is malformed.

    Examples
    --------
    >>> format_reason("filed {value:count} credit {value:application|applications}", 1.0)
    'filed 1 credit application'
    """
    arguments = {"value": value, **fields}
    formatter = _ReasonFormatter()
    parts = []
    try:
        for literal, name, spec, conversion in _parse(template):
            parts.append(literal)
            if name is None:
                continue
            obj = formatter.get_field(name, (), arguments)[0]
            if conversion:
                obj = formatter.convert_field(obj, conversion)
            parts.append(formatter.format_field(obj, spec or ""))
    except KeyError as exc:
        raise ValueError(
            f"reason template {template!r} names the field {exc.args[0]!r}; given: "
            f"{sorted(arguments)}"
        ) from None
    except (IndexError, AttributeError) as exc:
        raise ValueError(f"reason template {template!r} is malformed: {exc}") from None
    return "".join(parts)


@functools.lru_cache(maxsize=4096)
def _parse(template: str) -> tuple[tuple[str, str | None, str | None, str | None], ...]:
    """The parsed template (templates are few, users many: parse each once)."""
    try:
        return tuple(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"reason template {template!r} is malformed: {exc}") from None


def template_fields(template: str) -> set[str]:
    """The field names a template uses, e.g. ``{"value", "share_below"}``.

    Raises
    ------
    ValueError
        When the template is not a valid format string.
    """
    return {re.split(r"[.\[]", name, maxsplit=1)[0] for _, name, _, _ in _parse(template) if name}


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _band(text: str) -> str:
    """A band label as words: ``6k-10k`` -> "between 6k and 10k", ``<3k`` -> "below
    3k", ``20k+`` -> "of 20k or more", anything else -> "of <label>"."""
    for pattern, words in (
        (_RANGE, "between {0} and {1}"),
        (_BELOW, "below {0}"),
        (_ABOVE, "above {0}"),
        (_OR_MORE, "of {0} or more"),
    ):
        match = pattern.match(text)
        if match:
            return words.format(*match.groups())
    return f"of {text}"
