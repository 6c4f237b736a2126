"""Rank every candidate for each held-out investor; mean HR@10 / NDCG@10 per ranker."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .features import FeatureState
from .metrics import expected_metrics, random_expectation
from .split import HeldOut

K = 10
# A ranker: (state, investor_id, candidate business indices) -> one score per candidate.
Ranker = Callable[[FeatureState, int, np.ndarray], np.ndarray]


@dataclass
class Scores:
    hr_at_10: float
    ndcg_at_10: float

    def to_json(self) -> dict:
        return {"hr_at_10": round(self.hr_at_10, 6), "ndcg_at_10": round(self.ndcg_at_10, 6)}


def popularity_ranker(state: FeatureState, investor_id: int, candidates: np.ndarray) -> np.ndarray:
    return state.popularity[candidates]


def evaluate(state: FeatureState, held_out: list[HeldOut], rankers: dict[str, Ranker]) -> dict[str, Scores]:
    """Scores per ranker name, plus "random" (the exact expectation of a uniformly random order).

    `state` must be built from the training rows of the split that produced `held_out`.
    """
    sums = {name: np.zeros(2) for name in [*rankers, "random"]}
    for h in held_out:
        candidates = state.candidates(h.investor_id)
        target = np.flatnonzero(state.business_ids[candidates] == h.business_id)
        # The split removed the whole pair, so the held-out business is always a candidate.
        assert len(target) == 1, f"held-out business {h.business_id} is not a candidate for {h.investor_id}"
        for name, ranker in rankers.items():
            sums[name] += expected_metrics(ranker(state, h.investor_id, candidates), int(target[0]), K)
        sums["random"] += random_expectation(len(candidates), K)
    n = max(len(held_out), 1)
    return {name: Scores(float(v[0] / n), float(v[1] / n)) for name, v in sums.items()}
