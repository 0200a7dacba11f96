"""The reading-head trainer's arithmetic (pymem/bench/heads.py), without data or a database."""

import numpy as np

from pymem.bench import heads


def _separable(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8))
    y = (x[:, 0] - 0.5 * x[:, 3] > 0.2).astype(float)
    return x, y


def test_the_fit_separates_what_is_separable_and_is_deterministic():
    x, y = _separable()
    weights, bias = heads.fit(x, y, c=10.0)
    assert ((x @ weights + bias > 0) == (y == 1)).mean() >= 0.97
    assert weights[0] > 0 and weights[3] < 0
    again = heads.fit(x, y, c=10.0)
    assert np.array_equal(again[0], weights) and again[1] == bias


def test_stronger_regularisation_shrinks_the_weights():
    x, y = _separable()
    assert np.linalg.norm(heads.fit(x, y, c=0.01)[0]) < np.linalg.norm(heads.fit(x, y, c=10.0)[0])


def test_cross_validation_keeps_a_group_on_one_side():
    x, y = _separable(100)
    groups = [f"g{i // 2}" for i in range(100)]  # pairs: a scenario's two statements
    scores = heads.cross_validate(x, y, groups, c=1.0)
    assert scores.shape == (100,) and ((scores > 0) == (y == 1)).mean() >= 0.9


def test_the_reading_is_a_cue_the_head_does_not_veto_or_the_head_alone():
    scores = np.array([-3.0, -1.0, 0.5, 2.0])
    cues = np.array([True, True, False, False])
    assert heads.reading(scores, cues, threshold=1.0, veto=None).tolist() == [True, True, False, True]
    assert heads.reading(scores, cues, threshold=1.0, veto=-2.0).tolist() == [False, True, False, True]


def test_the_seed_sql_holds_one_row_per_head_of_the_given_size():
    sql = heads.seed_sql("m", 3, [
        {"name": "change", "weights": np.array([0.5, -0.25, 1.0]), "bias": -0.1, "threshold": 1.0, "veto": None,
         "trained_on": "t"},
        {"name": "holds", "weights": np.array([0.0, 1.0, 2.0]), "bias": 0.5, "threshold": 0.0, "veto": -2.0,
         "trained_on": "u"}])
    assert "('change', 'm', 3,\n            '[0.500000,-0.250000,1.000000]'::vector" in sql and "null::float8" in sql
    assert "('holds', 'm', 3,\n            '[0.000000,1.000000,2.000000]'::vector" in sql and "-2.0::float8" in sql
    assert sql.count("::vector,") == 2
    # Only rows: the reading itself (019_change_reading.sql) is written by hand, so retraining
    # cannot change it.
    assert "create or replace function" not in sql
