import collections
import os

import generate_sample_data as gen
from conftest import REPO


def test_exact_counts_for_several_seeds_and_shuffled():
    for seed in (7, 8, 123):
        for shuffled in (False, True):
            tables = gen.generate(seed, shuffled)
            assert {name: len(rows) for name, rows in tables.items()} == gen.COUNTS


def test_deterministic_and_seed_dependent():
    assert gen.to_sql(gen.generate(7)) == gen.to_sql(gen.generate(7))
    assert gen.to_sql(gen.generate(7)) != gen.to_sql(gen.generate(8))
    assert gen.to_sql(gen.generate(7, True)) == gen.to_sql(gen.generate(7, True))


def test_committed_seed_sql_is_the_generators_seed_7():
    with open(os.path.join(REPO, "examples", "noblestride", "seed.sql"), encoding="utf-8") as f:
        committed = f.read()
    assert committed == gen.to_sql(gen.generate(7), gen.header(7, False)), \
        "regenerate: python3 ml/generate_sample_data.py --seed 7 --output examples/noblestride/seed.sql"
    assert "random()" not in committed


def test_rows_satisfy_the_schema_constraints_and_references():
    t = gen.generate(7)
    users = {u["id"]: u for u in t["users"]}
    assert len({u["email"] for u in t["users"]}) == len(users)
    assert {u["role"] for u in t["users"]} <= {"founder", "investor", "analyst"}
    businesses = {b["id"]: b for b in t["businesses"]}
    investors = {i["id"]: i for i in t["investors"]}
    assert all(b["owner_id"] in users for b in t["businesses"])
    assert all(i["user_id"] in users and users[i["user_id"]]["role"] == "investor" for i in t["investors"])
    assert len({i["user_id"] for i in t["investors"]}) == len(investors)
    assert all(i["ticket_min"] <= i["ticket_max"] and i["preferred_sector"] in gen.SECTORS for i in t["investors"])
    assert all(d["business_id"] in businesses and d["investor_id"] in investors for d in t["deals"])
    assert {d["status"] for d in t["deals"]} <= {"proposed", "negotiating", "closed", "declined"}
    assert all(f["business_id"] in businesses and f["user_id"] in users for f in t["feedback"])
    assert all(1 <= f["rating"] <= 5 for f in t["feedback"])
    assert [r["id"] for r in t["deals"]] == list(range(1, 90))


def test_interactions_follow_the_choice_model():
    t = gen.generate(7)
    investor_of = {i["user_id"]: i["id"] for i in t["investors"]}
    # Every feedback row comes from an investor's user; pairs are unique.
    feedback = {(investor_of[f["user_id"]], f["business_id"]): f for f in t["feedback"]}
    assert len(feedback) == len(t["feedback"])
    deals = {(d["investor_id"], d["business_id"]): d for d in t["deals"]}
    assert len(deals) == len(t["deals"])
    warm = [pair for pair in deals if pair in feedback]
    assert len(warm) >= 0.8 * len(deals)  # mostly among pairs with feedback...
    assert all(deals[p]["created_at"] > feedback[p]["created_at"] for p in warm)  # ...and after it
    # Sector liking shows: investors give feedback in their stored sector far above its 1/6 share.
    sector = {b["id"]: b["sector"] for b in t["businesses"]}
    preferred = {i["id"]: i["preferred_sector"] for i in t["investors"]}
    in_preferred = sum(sector[b] == preferred[i] for i, b in feedback)
    assert in_preferred / len(feedback) > 0.3


def test_shuffling_keeps_both_marginals_and_breaks_the_pairs():
    t, s = gen.generate(7), gen.generate(7, shuffle_interactions=True)

    def pairs(tables):
        investor_of = {i["user_id"]: i["id"] for i in tables["investors"]}
        return ({(investor_of[f["user_id"]], f["business_id"]) for f in tables["feedback"]}
                | {(d["investor_id"], d["business_id"]) for d in tables["deals"]})

    a, b = pairs(t), pairs(s)
    assert len(a) == len(b)
    assert collections.Counter(i for i, _ in a) == collections.Counter(i for i, _ in b)
    assert collections.Counter(j for _, j in a) == collections.Counter(j for _, j in b)
    assert len(a & b) < 0.2 * len(a)  # about what chance leaves in place
    assert t["businesses"] == s["businesses"] and t["investors"] == s["investors"]
