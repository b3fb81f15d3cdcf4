"""Boosting: the LightGBM settings of TreeHead and ViewBoosters, and their saved format."""

from __future__ import annotations

from riskgraph.gnn.boost import VIEW_BOOSTING, ViewBoosters
from riskgraph.gnn.boosting import Boosting
from riskgraph.gnn.head import HEAD_BOOSTING, TreeHead


def test_tree_head_saves_its_settings_under_the_same_keys_and_loads_them_back():
    head = TreeHead(Boosting(num_leaves=7, seed=3))
    head.models_, head.best_rounds_ = ["tree", "other"], [4, 6]
    state = head.state_dict()
    assert state["params"] == {
        "learning_rate": 0.05,
        "num_leaves": 7,
        "min_data_in_leaf": 20,
        "max_rounds": 2000,
        "early_stopping": 100,
        "seed": 3,
    }
    loaded = TreeHead.from_state_dict(state)
    assert loaded.boosting == Boosting(num_leaves=7, seed=3)
    assert (loaded.models_, loaded.best_rounds_) == (["tree", "other"], [4, 6])


def test_view_boosters_save_their_settings_under_the_same_keys_and_load_them_back():
    boosters = ViewBoosters(5, 2, Boosting(max_rounds=1000, early_stopping=50, seed=9))
    boosters.models_, boosters.best_rounds_ = ["a", "b"], [3, 4]
    state = boosters.state_dict()
    assert state["params"] == {
        "n_categorical_start": 5,
        "n_categorical": 2,
        "learning_rate": 0.05,
        "num_leaves": 31,
        "max_rounds": 1000,
        "early_stopping": 50,
        "seed": 9,
    }
    loaded = ViewBoosters.from_state_dict(state)
    assert (loaded.n_categorical_start, loaded.n_categorical) == (5, 2)
    assert loaded.boosting == Boosting(max_rounds=1000, early_stopping=50, seed=9)
    assert (loaded.models_, loaded.best_rounds_) == (["a", "b"], [3, 4])


def test_defaults_are_the_heads_and_the_views_own():
    assert TreeHead().boosting == HEAD_BOOSTING == Boosting(max_rounds=2000, early_stopping=100)
    assert ViewBoosters(0, 0).boosting == VIEW_BOOSTING
    assert Boosting(max_rounds=1000, early_stopping=50) == VIEW_BOOSTING
    params = Boosting(seed=2).lightgbm_params()
    assert (params["min_data_in_leaf"], params["seed"], params["objective"]) == (20, 2, "binary")
    # one histogram layout, not the faster of two as timed on a busy machine
    assert params["deterministic"] is True and params["force_col_wise"] is True
