"""Small hand-made datasets for the unit tests."""
import datetime as dt

from recommender.data import load

T0 = dt.datetime(2025, 5, 1, tzinfo=dt.timezone.utc)


def at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def rows(feedback=(), deals=(), businesses=None, investors=None) -> dict:
    """feedback: (investor_id, business_id, rating, day); deals: (investor_id, business_id, day)."""
    businesses = businesses or [
        {"id": 1, "sector": "fintech", "stage": "seed", "funding_ask": 500_000},
        {"id": 2, "sector": "fintech", "stage": "series-a", "funding_ask": 2_000_000},
        {"id": 3, "sector": "energy", "stage": "seed", "funding_ask": 400_000},
        {"id": 4, "sector": "edtech", "stage": "pre-seed", "funding_ask": 100_000},
        {"id": 5, "sector": "energy", "stage": "seed", "funding_ask": 600_000},
    ]
    # user ids differ from investor ids on purpose: feedback must be mapped through user_id.
    investors = investors or [
        {"id": 1, "user_id": 101, "preferred_sector": "fintech", "ticket_min": 300_000, "ticket_max": 1_000_000},
        {"id": 2, "user_id": 102, "preferred_sector": "energy", "ticket_min": 50_000, "ticket_max": 200_000},
        {"id": 3, "user_id": 103, "preferred_sector": "edtech", "ticket_min": 50_000, "ticket_max": 200_000},
    ]
    user_of = {i["id"]: i["user_id"] for i in investors}
    return {
        "businesses": businesses,
        "investors": investors,
        "feedback": [{"id": n, "user_id": user_of.get(i, i), "business_id": b, "rating": r, "created_at": at(d)}
                     for n, (i, b, r, d) in enumerate(feedback, start=1)],
        "deals": [{"id": n, "investor_id": i, "business_id": b, "status": "closed", "created_at": at(d)}
                  for n, (i, b, d) in enumerate(deals, start=1)],
    }


def dataset(**kwargs):
    return load(rows(**kwargs))
