"""Pair features for (investor, business): what the ranker and the popularity baseline see.

All interaction-derived values (popularity, an investor's sector history) come from the
interactions a FeatureState is built from, and nothing else: built from a Split's training rows,
no held-out pair can reach them.
"""
from __future__ import annotations

import numpy as np

from .data import Dataset, Interaction

FEATURES = (
    "sector_match",      # the business's sector is the investor's stored preferred_sector
    "sector_history",    # share of the investor's past interactions in the business's sector
    "ticket_fit",        # the funding ask lies inside the investor's ticket range
    "ticket_distance",   # how far outside the range the ask is, in log units (0 inside)
    "popularity",        # log(1 + distinct investors who interacted with the business)
)


class FeatureState:
    """Entity attributes as arrays, plus the counts the interaction-derived features need."""

    def __init__(self, dataset: Dataset, interactions: list[Interaction]):
        self.dataset = dataset
        self.business_ids = np.array([b.id for b in dataset.businesses])
        self.business_index = {b.id: k for k, b in enumerate(dataset.businesses)}
        self.investor_index = {i.id: k for k, i in enumerate(dataset.investors)}
        sector_index = {s: k for k, s in enumerate(dataset.sectors)}
        self.business_sector = np.array([sector_index[b.sector] for b in dataset.businesses])
        self.log_ask = np.log(np.maximum([b.funding_ask for b in dataset.businesses], 1.0))
        self.investor_sector = np.array([sector_index[i.preferred_sector] for i in dataset.investors])
        self.log_ticket = np.log(np.maximum([[i.ticket_min, i.ticket_max] for i in dataset.investors], 1.0))

        # Pairs, not rows: a deal after feedback on the same business is one choice, not two.
        self.pairs: dict[int, set[int]] = {i.id: set() for i in dataset.investors}
        for x in interactions:
            self.pairs.setdefault(x.investor_id, set()).add(x.business_id)
        self.popularity = np.zeros(len(dataset.businesses))
        self.sector_counts = np.zeros((len(dataset.investors), len(dataset.sectors)))
        for investor_id, businesses in self.pairs.items():
            k = self.investor_index[investor_id]
            for b in businesses:
                j = self.business_index[b]
                self.popularity[j] += 1
                self.sector_counts[k, self.business_sector[j]] += 1
        self.interaction_rows = len(interactions)

    def matrix(self, investor_id: int, business_idx: np.ndarray, is_own: np.ndarray | None = None) -> np.ndarray:
        """Features of investor x each business index; shape (len(business_idx), len(FEATURES)).

        `is_own` marks pairs that are among the interactions this state was built from (training
        positives): their own contribution is taken out of popularity and sector history, so a
        positive looks as it would have before the choice, like every candidate at ranking time.
        """
        k = self.investor_index[investor_id]
        own = np.zeros(len(business_idx)) if is_own is None else is_own.astype(float)
        sectors = self.business_sector[business_idx]
        history = self.sector_counts[k, sectors] - own
        total = self.sector_counts[k].sum() - own
        lo, hi = self.log_ticket[k]
        ask = self.log_ask[business_idx]
        return np.column_stack([
            (sectors == self.investor_sector[k]).astype(float),
            history / (total + 1.0),  # +1: an investor with no history has share 0, not 0/0
            ((ask >= lo) & (ask <= hi)).astype(float),
            np.maximum(lo - ask, 0.0) + np.maximum(ask - hi, 0.0),
            np.log1p(self.popularity[business_idx] - own),
        ])

    def candidates(self, investor_id: int) -> np.ndarray:
        """Indices of the businesses the investor has not interacted with in these interactions."""
        seen = self.pairs.get(investor_id, set())
        return np.array([j for j, b in enumerate(self.business_ids) if int(b) not in seen], dtype=int)
