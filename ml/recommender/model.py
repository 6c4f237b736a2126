"""The hybrid ranker: logistic regression over content (sector, ticket) and popularity features.

Positives are the training (investor, business) pairs; negatives are businesses the investor did
not interact with, sampled uniformly with a seeded Generator. The fitted model scores a pair by
its logit, which is all ranking needs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from .features import FEATURES, FeatureState


@dataclass
class TrainingSet:
    x: np.ndarray
    y: np.ndarray

    @property
    def positives(self) -> int:
        return int(self.y.sum())


def training_set(state: FeatureState, negatives_per_positive: int, rng: np.random.Generator) -> TrainingSet:
    xs, ys = [], []
    for investor_id in sorted(state.pairs):
        positives = np.array(sorted(state.business_index[b] for b in state.pairs[investor_id]), dtype=int)
        if len(positives) == 0:
            continue
        pool = state.candidates(investor_id)
        n_neg = min(len(pool), negatives_per_positive * len(positives))
        negatives = rng.choice(pool, size=n_neg, replace=False) if n_neg else np.array([], dtype=int)
        xs.append(state.matrix(investor_id, positives, is_own=np.ones(len(positives), dtype=bool)))
        xs.append(state.matrix(investor_id, negatives))
        ys += [1.0] * len(positives) + [0.0] * len(negatives)
    if not xs:
        return TrainingSet(np.zeros((0, len(FEATURES))), np.zeros(0))
    return TrainingSet(np.vstack(xs), np.array(ys))


@dataclass
class HybridRanker:
    mean: np.ndarray
    scale: np.ndarray
    coefficients: np.ndarray  # on standardised features: comparable with each other
    intercept: float

    @classmethod
    def fit(cls, data: TrainingSet, c: float = 1.0) -> "HybridRanker":
        if data.positives == 0 or data.positives == len(data.y):
            raise ValueError("training needs both positive and negative pairs")
        mean = data.x.mean(axis=0)
        # A constant feature (e.g. no ticket ever fits) carries nothing; scale 1 avoids dividing by 0.
        scale = np.where(data.x.std(axis=0) > 1e-12, data.x.std(axis=0), 1.0)
        lr = LogisticRegression(C=c, max_iter=1000)
        lr.fit((data.x - mean) / scale, data.y)
        return cls(mean, scale, lr.coef_[0].copy(), float(lr.intercept_[0]))

    def score(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coefficients + self.intercept

    def to_json(self) -> dict:
        return {
            "algorithm": "logistic_regression",
            "features": list(FEATURES),
            "standardisation": {"mean": self.mean.tolist(), "scale": self.scale.tolist()},
            "coefficients": dict(zip(FEATURES, self.coefficients.tolist())),
            "intercept": self.intercept,
            "score": "intercept + sum(coefficients[f] * (x[f] - mean[f]) / scale[f])",
        }

    @classmethod
    def from_json(cls, doc: dict) -> "HybridRanker":
        return cls(np.array(doc["standardisation"]["mean"]), np.array(doc["standardisation"]["scale"]),
                   np.array([doc["coefficients"][f] for f in FEATURES]), float(doc["intercept"]))
