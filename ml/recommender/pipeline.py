"""Split, fit, evaluate, then refit on everything: the part of training that needs no database."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .data import Dataset
from .evaluation import Scores, evaluate, popularity_ranker
from .features import FeatureState
from .model import HybridRanker, training_set
from .split import HeldOut, holdout_split

NEGATIVES_PER_POSITIVE = 5


@dataclass
class TrainingResult:
    model: HybridRanker          # fitted on every interaction: the one to deploy
    state: FeatureState          # the feature state it was fitted on (popularity, histories)
    evaluation_model: HybridRanker  # fitted on the split's training rows only
    scores: dict[str, Scores]    # "model", "popularity", "random"
    held_out: list[HeldOut]
    training_pairs: int          # positive pairs the deployed model was fitted on
    training_examples: int       # positives + sampled negatives
    seconds: float


def model_ranker(model: HybridRanker):
    def rank(state: FeatureState, investor_id: int, candidates: np.ndarray) -> np.ndarray:
        return model.score(state.matrix(investor_id, candidates))
    return rank


def train_and_evaluate(dataset: Dataset, seed: int = 0, negatives_per_positive: int = NEGATIVES_PER_POSITIVE) -> TrainingResult:
    started = time.perf_counter()
    if not dataset.interactions:
        raise ValueError("no interactions (feedback from investors or deals) to train on")
    split = holdout_split(dataset)
    if not split.held_out:
        raise ValueError("no investor has interactions with two businesses: nothing to evaluate on")
    # Two streams from one seed: the evaluation fit's negatives and the final fit's negatives.
    eval_rng, final_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))

    train_state = FeatureState(dataset, split.train)
    evaluation_model = HybridRanker.fit(training_set(train_state, negatives_per_positive, eval_rng))
    scores = evaluate(train_state, split.held_out,
                      {"model": model_ranker(evaluation_model), "popularity": popularity_ranker})

    state = FeatureState(dataset, dataset.interactions)
    final_set = training_set(state, negatives_per_positive, final_rng)
    model = HybridRanker.fit(final_set)
    return TrainingResult(model, state, evaluation_model, scores, split.held_out,
                          final_set.positives, len(final_set.y), time.perf_counter() - started)
