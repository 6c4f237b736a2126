import numpy as np
import pytest

from helpers import dataset, rows
from recommender.data import load
from recommender.features import FEATURES, FeatureState


def test_feedback_maps_to_investors_through_user_id_and_drops_other_users():
    data = rows(feedback=[(1, 1, 4, 0), (2, 3, 5, 1)])
    data["feedback"].append({"id": 99, "user_id": 555, "business_id": 2, "rating": 3, "created_at": data["feedback"][0]["created_at"]})
    ds = load(data)
    assert [(x.investor_id, x.business_id, x.kind) for x in ds.interactions] == [(1, 1, "feedback"), (2, 3, "feedback")]
    assert ds.dropped_feedback == 1


def test_pair_features_by_hand():
    # Investor 1 (fintech, ticket 300k-1M) interacted with businesses 1 (fintech) and 3 (energy).
    ds = dataset(feedback=[(1, 1, 4, 0), (1, 3, 2, 1), (2, 3, 5, 2)])
    state = FeatureState(ds, ds.interactions)
    x = state.matrix(1, np.array([1, 3, 4]))  # businesses 2, 4, 5 (indices)
    f = dict(zip(FEATURES, x.T))
    assert f["sector_match"].tolist() == [1.0, 0.0, 0.0]
    # One of two past interactions was fintech, one energy: share = count / (total + 1).
    assert f["sector_history"].tolist() == pytest.approx([1 / 3, 0.0, 1 / 3])
    assert f["ticket_fit"].tolist() == [0.0, 0.0, 1.0]  # 2M above, 100k below, 600k inside
    assert f["ticket_distance"].tolist() == pytest.approx([np.log(2_000_000 / 1_000_000), np.log(300_000 / 100_000), 0.0])
    assert f["popularity"].tolist() == pytest.approx([0.0, 0.0, 0.0])
    assert state.popularity.tolist() == [1, 0, 2, 0, 0]  # business 3: two distinct investors


def test_a_deal_after_feedback_is_one_pair_and_counts_once():
    ds = dataset(feedback=[(1, 1, 4, 0)], deals=[(1, 1, 3)])
    state = FeatureState(ds, ds.interactions)
    assert state.pairs[1] == {1}
    assert state.popularity[0] == 1
    assert state.sector_counts[0].sum() == 1


def test_own_pairs_leave_their_contribution_out():
    # A training positive must look as it did before it was chosen, like any candidate at ranking.
    ds = dataset(feedback=[(1, 1, 4, 0), (1, 2, 4, 1), (2, 1, 5, 2)])
    state = FeatureState(ds, ds.interactions)
    own = state.matrix(1, np.array([0]), is_own=np.array([True]))
    f = dict(zip(FEATURES, own[0]))
    assert f["popularity"] == pytest.approx(np.log1p(1))  # investor 2 only
    assert f["sector_history"] == pytest.approx(1 / 2)    # the other fintech pair, of 1 other + 1


def test_candidates_exclude_what_the_investor_interacted_with():
    ds = dataset(feedback=[(1, 1, 4, 0), (1, 4, 4, 1)])
    state = FeatureState(ds, ds.interactions)
    assert state.business_ids[state.candidates(1)].tolist() == [2, 3, 5]
    assert state.business_ids[state.candidates(2)].tolist() == [1, 2, 3, 4, 5]
