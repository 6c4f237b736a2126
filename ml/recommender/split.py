"""The held-out split: one (investor, business) pair per evaluated investor, removed whole.

Protocol (ml/README.md, "Evaluation"):
* an investor is evaluated when it has interacted (feedback or deal) with at least two distinct
  businesses, so that something is left to learn from after the hold-out;
* its held-out pair is its latest deal, latest by (created_at, deal id); an investor with no deal
  holds out its latest feedback instead, by (created_at, feedback id);
* every row of the held-out pair leaves training, the deal and any feedback on the same business,
  because deals mostly follow feedback on the same business and that feedback would give the
  answer away; training features, popularity counts included, are built from what is left.
"""
from __future__ import annotations

from dataclasses import dataclass

from .data import Dataset, Interaction


@dataclass(frozen=True)
class HeldOut:
    investor_id: int
    business_id: int
    kind: str  # "deal" or "feedback": which rule chose it


@dataclass
class Split:
    train: list[Interaction]
    held_out: list[HeldOut]


def latest(interactions: list[Interaction]) -> Interaction:
    return max(interactions, key=lambda x: (x.created_at, x.row_id))


def holdout_split(dataset: Dataset) -> Split:
    by_investor: dict[int, list[Interaction]] = {}
    for x in dataset.interactions:
        by_investor.setdefault(x.investor_id, []).append(x)
    held: list[HeldOut] = []
    for investor_id in sorted(by_investor):
        rows = by_investor[investor_id]
        if len({x.business_id for x in rows}) < 2:
            continue
        deals = [x for x in rows if x.kind == "deal"]
        target = latest(deals) if deals else latest(rows)
        held.append(HeldOut(investor_id, target.business_id, target.kind))
    removed = {(h.investor_id, h.business_id) for h in held}
    train = [x for x in dataset.interactions if (x.investor_id, x.business_id) not in removed]
    return Split(train, held)
