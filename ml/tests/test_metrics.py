import math

import numpy as np
import pytest

from recommender.metrics import expected_metrics, hit_rate_at_k, ndcg_at_k, random_expectation


@pytest.mark.parametrize("rank, hr, ndcg", [
    (1, 1.0, 1.0),
    (2, 1.0, 1 / math.log2(3)),
    (3, 1.0, 0.5),
    (10, 1.0, 1 / math.log2(11)),
    (11, 0.0, 0.0),
])
def test_single_ranks(rank, hr, ndcg):
    assert hit_rate_at_k(rank, 10) == hr
    assert ndcg_at_k(rank, 10) == pytest.approx(ndcg)


def test_scores_to_rank():
    scores = np.array([0.1, 0.9, 0.5, 0.7])
    assert expected_metrics(scores, 2, k=10) == pytest.approx((1.0, 0.5))  # third best
    assert expected_metrics(scores, 0, k=3) == pytest.approx((0.0, 0.0))    # fourth, outside top 3


def test_ties_count_as_a_fair_coin():
    # Target (index 2) ties with two others behind one better item: ranks 2, 3 or 4, each 1/3.
    scores = np.array([5.0, 3.0, 3.0, 3.0, 1.0])
    hr, ndcg = expected_metrics(scores, 2, k=3)
    assert hr == pytest.approx(2 / 3)
    assert ndcg == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / 3)


def test_random_expectation():
    assert random_expectation(20, 10)[0] == pytest.approx(0.5)
    hr, ndcg = random_expectation(5, 10)
    assert hr == 1.0
    assert ndcg == pytest.approx(sum(1 / math.log2(r + 1) for r in range(1, 6)) / 5)
