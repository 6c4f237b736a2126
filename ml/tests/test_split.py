import numpy as np

import generate_sample_data
from helpers import dataset
from recommender.data import Dataset, load
from recommender.features import FeatureState
from recommender.split import holdout_split


def test_latest_deal_is_held_out_with_every_row_of_its_pair():
    ds = dataset(feedback=[(1, 1, 4, 0), (1, 2, 5, 1), (1, 3, 2, 2)], deals=[(1, 1, 5), (1, 2, 9)])
    split = holdout_split(ds)
    assert [(h.investor_id, h.business_id, h.kind) for h in split.held_out] == [(1, 2, "deal")]
    # The deal on business 2 and the feedback on business 2 both leave training; the rest stays.
    assert sorted((x.business_id, x.kind) for x in split.train) == [(1, "deal"), (1, "feedback"), (3, "feedback")]


def test_equal_timestamps_break_by_deal_id():
    ds = dataset(feedback=[(1, 3, 4, 0)], deals=[(1, 1, 5), (1, 2, 5)])
    assert holdout_split(ds).held_out[0].business_id == 2  # deal id 2 is the later of two at day 5


def test_without_deals_the_latest_feedback_is_held_out_and_one_business_is_not_enough():
    ds = dataset(feedback=[(2, 3, 4, 0), (2, 5, 3, 4), (3, 4, 5, 1), (3, 4, 2, 2)])
    split = holdout_split(ds)
    # Investor 3 rated one business twice: one business, nothing would be left to learn from.
    assert [(h.investor_id, h.business_id, h.kind) for h in split.held_out] == [(2, 5, "feedback")]


def test_held_out_deal_never_reaches_training_features():
    # Business 2 is chosen by investor 1 (deal, held out) and by investor 2 (kept).
    ds = dataset(feedback=[(1, 1, 4, 0), (1, 2, 5, 1), (2, 2, 4, 1), (2, 3, 4, 2)], deals=[(1, 2, 6)])
    split = holdout_split(ds)
    assert (1, 2) in {(h.investor_id, h.business_id) for h in split.held_out}
    state = FeatureState(ds, split.train)
    assert 2 not in state.pairs[1]
    assert state.popularity[state.business_index[2]] == 1  # investor 2 only
    assert 2 in state.business_ids[state.candidates(1)].tolist()


def test_split_features_equal_features_of_the_data_with_held_out_rows_deleted():
    ds = load(generate_sample_data.generate(7))
    split = holdout_split(ds)
    held = {(h.investor_id, h.business_id) for h in split.held_out}
    assert len(held) == len(split.held_out) == 75
    deleted = Dataset(ds.businesses, ds.investors,
                      [x for x in ds.interactions if (x.investor_id, x.business_id) not in held])
    a, b = FeatureState(ds, split.train), FeatureState(deleted, deleted.interactions)
    assert np.array_equal(a.popularity, b.popularity)
    assert np.array_equal(a.sector_counts, b.sector_counts)
    assert a.pairs == b.pairs
    for investor_id, business_id in held:
        assert business_id not in a.pairs[investor_id]
        candidates = a.candidates(investor_id)
        assert np.array_equal(a.matrix(investor_id, candidates), b.matrix(investor_id, candidates))
    # Popularity counts only training pairs: the held-out ones are gone from it.
    for j, business_id in enumerate(a.business_ids):
        chosen_by = {x.investor_id for x in split.train if x.business_id == business_id}
        assert a.popularity[j] == len(chosen_by)
