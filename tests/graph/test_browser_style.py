"""The Neo4j Browser style file: valid for Browser's importer, complete, and telling.

Browser imports a dropped ``.grass`` file (and ``:style <grass>``) with a small
character-by-character reader, not a CSS parser. What it does, as observed in
Browser 5.24 (the version Neo4j serves here) and checked on the screenshots of
docs/browser.md:

* there are no comments: ``/* ... */`` text becomes part of the next selector;
* a ``{`` or ``}`` in a value opens or closes a rule unless it is inside quotes, so a
  caption such as ``{user_id}`` must be quoted; quote characters are then dropped;
* a declaration whose value holds a ``:`` is silently ignored;
* rules apply in file order, a later rule overriding an earlier one property by
  property for a node holding several labels.

Selectors match labels and relationship types only: Browser cannot style by property
value, hence the Browser-only labels the write-back sets (``BROWSER_LABELS``).
"""

from __future__ import annotations

import re

from riskgraph.graph.investigations import (
    GRAPH_LABELS,
    GRAPH_RELATIONSHIP_TYPES,
    browser_file,
)
from riskgraph.graph.writeback import BROWSER_LABELS as _BROWSER_LABELS
from riskgraph.graph.writeback import RISK_LABELS

BROWSER_LABELS = frozenset(_BROWSER_LABELS)

#: Style keys Browser's renderer reads.
NODE_KEYS = {"diameter", "color", "border-color", "border-width", "text-color-internal",
             "font-size", "caption"}  # fmt: skip
RELATIONSHIP_KEYS = {"color", "shaft-width", "font-size", "padding", "text-color-external",
                     "text-color-internal", "caption"}  # fmt: skip
_RULE = re.compile(r"\s*([^{}\s]+)\s*\{([^{}]*)\}", re.S)
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


def grass_text() -> str:
    return browser_file("riskgraph.grass").read_text(encoding="utf-8")


def parse_grass(text: str) -> dict[str, dict[str, str]]:
    """Selectors in file order, each with its declarations (quotes removed).

    Strict where Browser is lenient: anything it would mangle (see the module
    docstring) raises ``ValueError`` here instead.
    """
    if "/*" in text or "//" in _QUOTED.sub("", text):
        raise ValueError("comments are not supported: Browser glues them onto the next selector")
    rules: dict[str, dict[str, str]] = {}
    # Braces inside quoted values are content; hide them while finding the rules.
    masked = _QUOTED.sub(lambda m: m.group(0).replace("{", "\x01").replace("}", "\x02"), text)
    depth = 0
    for char in masked:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth not in (0, 1):
            raise ValueError("braces in a value must be quoted (Browser reads them as rules)")
    position = 0
    for found in _RULE.finditer(masked):
        if masked[position : found.start()].strip():
            raise ValueError(f"text outside a rule: {masked[position : found.start()]!r}")
        position = found.end()
        selector, body = found.groups()
        if selector in rules:
            raise ValueError(f"{selector} twice (Browser keeps the last one only)")
        declarations: dict[str, str] = {}
        for item in body.split(";"):
            if not item.strip():
                continue
            key, sep, value = item.partition(":")
            if not sep or ":" in value:
                raise ValueError(f"{selector}: {item.strip()!r} is not 'key: value' with one ':'")
            value = value.strip().replace("\x01", "{").replace("\x02", "}")
            if value[:1] in "\"'" and value[:1] == value[-1:]:
                value = value[1:-1]
            elif "{" in value or "}" in value:
                raise ValueError(f"{selector}: braces in {value!r} must be quoted")
            declarations[key.strip()] = value
        rules[selector] = declarations
    if masked[position:].strip():
        raise ValueError(f"text outside a rule: {masked[position:]!r}")
    return rules


def style() -> dict[str, dict[str, str]]:
    return parse_grass(grass_text())


def test_parser_refuses_what_browser_would_mangle():
    assert parse_grass('node.User { caption: "{user_id}"; color: #FFF; }') == {
        "node.User": {"caption": "{user_id}", "color": "#FFF"}
    }
    for bad, message in [
        ("/* c */ node { color: #FFF; }", "comments"),
        ("node.User { caption: {user_id}; }", "braces"),
        ("node { caption: 'a: b'; }", "one ':'"),
        ("node { color: #FFF; } node { color: #000; }", "twice"),
        ("node { color: #FFF; } stray", "outside a rule"),
    ]:
        try:
            parse_grass(bad)
        except ValueError as exc:
            assert message in str(exc), (bad, exc)
        else:
            raise AssertionError(f"accepted {bad!r}")


def test_the_file_reads_as_browser_reads_it():
    rules = parse_grass(grass_text())  # raises on anything Browser would mangle
    assert list(rules)[:2] == ["node", "relationship"]


def test_every_selector_is_a_label_or_type_of_the_graph():
    for selector, props in style().items():
        kind, _, name = selector.partition(".")
        assert kind in ("node", "relationship"), selector
        if kind == "node":
            assert not name or name in GRAPH_LABELS | BROWSER_LABELS, selector
            assert set(props) <= NODE_KEYS, (selector, set(props) - NODE_KEYS)
        else:
            assert not name or name in GRAPH_RELATIONSHIP_TYPES, selector
            assert set(props) <= RELATIONSHIP_KEYS, (selector, set(props) - RELATIONSHIP_KEYS)
        assert all(value for value in props.values()), selector


def test_every_label_of_the_graph_model_is_styled():
    styled = {s.partition(".")[2] for s in style()}
    assert styled >= GRAPH_LABELS | BROWSER_LABELS
    assert {"RISK_LINK", "MEMBER_OF"} <= styled


def test_later_rules_win_where_a_node_holds_several_labels():
    rules = list(style())
    order = {selector: i for i, selector in enumerate(rules)}
    # A scored user is User plus one risk label: the risk colour must win.
    for risk in (f"node.{label}" for label in RISK_LABELS.values()):
        assert order[risk] > order["node.User"]
        assert "color" in style()[risk]
    # KnownBad only thickens the border, after the risk labels that also set it.
    assert order["node.KnownBad"] > max(order[r] for r in ("node.RiskLow", "node.RiskHigh"))
    assert set(style()["node.KnownBad"]) == {"border-color", "border-width"}
    # Ring size and flag labels refine the Ring rule.
    for label in ("node.RingMedium", "node.RingLarge", "node.RingFlagged"):
        assert order[label] > order["node.Ring"]


def test_colours_tell_risk_bands_apart_and_rings_grow_with_size():
    s = style()
    colours = [s[f"node.Risk{band}"]["color"] for band in ("Low", "Medium", "High")]
    assert len({c.upper() for c in colours}) == 3
    assert s["node.RingFlagged"]["color"].upper() != s["node.Ring"]["color"].upper()
    px = [
        int(s[f"node.{r}"]["diameter"].removesuffix("px"))
        for r in ("Ring", "RingMedium", "RingLarge")
    ]
    assert px == sorted(px) and len(set(px)) == 3
    assert s["node.User"]["caption"] == "{user_id}"
    assert s["node.RiskHigh"]["caption"] == "{credit_score}"
