"""read_graph's answer window: answers are fetched just ahead of their use, not all at once."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from riskgraph.graph.reader import _Answers


def test_answers_are_fetched_at_most_ahead_of_use_and_in_order():
    fetched: list[str] = []

    def fetch(query: str, **params: object) -> Future:
        fetched.append(query)
        done: Future = Future()
        done.set_result({"query": query, **params})
        return done

    queries = [(f"q{i}", f"Q{i}", {"i": i}) for i in range(5)]
    answers = _Answers(fetch, queries, ahead=2)
    assert fetched == ["Q0", "Q1"]  # nothing beyond the window before the first take
    assert answers.take("q0") == {"query": "Q0", "i": 0}
    assert fetched == ["Q0", "Q1", "Q2"]
    assert answers.take("q1")["i"] == 1
    assert answers.take("q2")["i"] == 2
    assert fetched == ["Q0", "Q1", "Q2", "Q3", "Q4"]
    with pytest.raises(RuntimeError, match="took 'q4', next answer is 'q3'"):
        answers.take("q4")
