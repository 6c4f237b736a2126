"""HR@k and NDCG@k for one relevant item, with ties between scores counted as a fair coin.

A ranker that gives many candidates the same score (popularity does: most businesses have one or
two interactions) must not gain or lose by how ties happen to be ordered, so the held-out item's
rank is taken as uniform over the positions its tie group spans, and the metrics are expectations.
"""
from __future__ import annotations

import math

import numpy as np


def hit_rate_at_k(rank: int, k: int = 10) -> float:
    """1 when the relevant item's 1-based rank is within the top k."""
    return 1.0 if rank <= k else 0.0


def ndcg_at_k(rank: int, k: int = 10) -> float:
    """With one relevant item the ideal DCG is 1, so NDCG is 1/log2(rank + 1) inside the top k."""
    return 1.0 / math.log2(rank + 1) if rank <= k else 0.0


def expected_metrics(scores: np.ndarray, target: int, k: int = 10) -> tuple[float, float]:
    """(HR@k, NDCG@k) of candidate `target` under `scores` (higher is better), ties averaged."""
    s = scores[target]
    above = int(np.sum(scores > s))
    tied = int(np.sum(scores == s))  # includes the target itself
    ranks = range(above + 1, above + tied + 1)
    return (sum(hit_rate_at_k(r, k) for r in ranks) / tied, sum(ndcg_at_k(r, k) for r in ranks) / tied)


def random_expectation(candidates: int, k: int = 10) -> tuple[float, float]:
    """(HR@k, NDCG@k) of a uniformly random order of `candidates` items: every rank equally likely."""
    return expected_metrics(np.zeros(candidates), 0, k)
