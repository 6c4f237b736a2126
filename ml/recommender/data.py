"""Rows (dicts, as a database cursor or the sample-data generator gives them) to a Dataset."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Business:
    id: int
    sector: str
    stage: str
    funding_ask: float


@dataclass(frozen=True)
class Investor:
    id: int
    user_id: int
    preferred_sector: str
    ticket_min: float
    ticket_max: float


@dataclass(frozen=True)
class Interaction:
    """One feedback or deal row, attributed to an investor."""
    investor_id: int
    business_id: int
    kind: str            # "feedback" or "deal"
    row_id: int          # the row's id in its table: breaks ties between equal timestamps
    created_at: float    # seconds since the epoch
    rating: int | None = None
    status: str | None = None


@dataclass
class Dataset:
    businesses: list[Business]
    investors: list[Investor]
    interactions: list[Interaction]
    # Feedback rows whose user is not an investor (analysts, founders): not investor choices.
    dropped_feedback: int = 0
    sectors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.sectors:
            self.sectors = sorted({b.sector for b in self.businesses} | {i.preferred_sector for i in self.investors})


def _seconds(value) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    return float(value)


def load(rows: dict[str, list[dict]]) -> Dataset:
    """Build a Dataset from `businesses`, `investors`, `feedback` and `deals` row dicts.

    feedback.user_id names a user, not an investor: it is mapped through investors.user_id, and
    feedback from users who run no investor is dropped (counted in `dropped_feedback`).
    """
    businesses = [Business(int(r["id"]), str(r["sector"]), str(r["stage"]), float(r["funding_ask"]))
                  for r in sorted(rows["businesses"], key=lambda r: r["id"])]
    investors = [Investor(int(r["id"]), int(r["user_id"]), str(r["preferred_sector"]),
                          float(r["ticket_min"]), float(r["ticket_max"]))
                 for r in sorted(rows["investors"], key=lambda r: r["id"])]
    known_businesses = {b.id for b in businesses}
    investor_of_user = {i.user_id: i.id for i in investors}
    known_investors = {i.id for i in investors}

    interactions: list[Interaction] = []
    dropped = 0
    for r in rows["feedback"]:
        investor = investor_of_user.get(int(r["user_id"]))
        if investor is None or int(r["business_id"]) not in known_businesses:
            dropped += 1
            continue
        interactions.append(Interaction(investor, int(r["business_id"]), "feedback", int(r["id"]),
                                        _seconds(r["created_at"]), rating=int(r["rating"])))
    for r in rows["deals"]:
        if int(r["investor_id"]) not in known_investors or int(r["business_id"]) not in known_businesses:
            continue
        interactions.append(Interaction(int(r["investor_id"]), int(r["business_id"]), "deal", int(r["id"]),
                                        _seconds(r["created_at"]), status=r.get("status")))
    interactions.sort(key=lambda x: (x.created_at, x.kind, x.row_id))
    return Dataset(businesses, investors, interactions, dropped_feedback=dropped)
