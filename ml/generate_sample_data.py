#!/usr/bin/env python3
"""Deterministic Noblestride sample data drawn from a seeded model of how investors choose.

The committed examples/noblestride/seed.sql is `python3 ml/generate_sample_data.py --seed 7
--output examples/noblestride/seed.sql`. The row counts are fixed (the Swift tests assert them);
everything else comes from the model below, so a recommender has something real to learn:

* every business has a sector, a stage, a funding ask (log-normal around its stage's typical
  round) and a latent quality that is never stored;
* every investor likes one to three sectors, most strongly the first (the only one the schema
  stores, as preferred_sector), and has a ticket range centred on one stage's rounds;
* an investor's utility for a business rises with sector liking, ticket fit and quality; the
  businesses an investor gives feedback on are a Gumbel top-k draw from that utility, ratings
  follow it, and deals are drawn mostly from pairs that already have feedback, dated after it.

`--shuffle-interactions` moves every (investor, business) interaction history to another
investor (each investor keeps its number of interactions, each business its popularity), which
destroys the signal linking investors to what they choose: the quality gate must fail on it.
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from typing import Iterable

import numpy as np

COUNTS = {"users": 1247, "businesses": 150, "investors": 75, "deals": 89, "feedback": 542}
SECTORS = ("fintech", "agritech", "healthtech", "edtech", "logistics", "energy")
STAGES = ("pre-seed", "seed", "series-a", "series-b")
# Typical round size per stage; asks are log-normal around it, ticket ranges centre on one of them.
STAGE_ASK = {"pre-seed": 150_000, "seed": 500_000, "series-a": 2_000_000, "series-b": 8_000_000}
STAGE_WEIGHTS = (0.30, 0.35, 0.22, 0.13)
# How much an investor likes its first, second and third sector (0 for the rest).
SECTOR_LIKING = (1.0, 0.75, 0.55)
# The utility: weights of sector liking, ticket fit, log distance outside the ticket, quality.
W_SECTOR, W_FIT, W_DISTANCE, W_QUALITY = 1.4, 0.8, 0.6, 0.4
DEALS_FROM_FEEDBACK = 0.85  # share of deals whose pair already has feedback
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
ACTIVITY_START = dt.datetime(2025, 5, 1, tzinfo=dt.timezone.utc)
ACTIVITY_END = dt.datetime(2025, 8, 31, tzinfo=dt.timezone.utc)
DATA_END = dt.datetime(2025, 9, 15, tzinfo=dt.timezone.utc)

FIRST_NAMES = ("Amara", "Baraka", "Chidi", "Dalia", "Esi", "Farid", "Grace", "Hassan", "Imani", "Jabari",
               "Kamau", "Lina", "Malik", "Nadia", "Obi", "Priya", "Quentin", "Rania", "Sefu", "Tendai",
               "Uma", "Victor", "Wanjiru", "Xavier", "Yara", "Zawadi")
LAST_NAMES = ("Achieng", "Bello", "Chen", "Diallo", "Eze", "Fofana", "Garcia", "Haile", "Ibrahim", "Jones",
              "Kariuki", "Lopez", "Mensah", "Ndlovu", "Okafor", "Patel", "Quaye", "Rossi", "Said", "Toure",
              "Usman", "Vargas", "Wekesa", "Xu", "Yilmaz", "Zulu")
FIRM_WORDS = ("Acacia", "Baobab", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iroko", "Juniper",
              "Kilima", "Lumen", "Meridian", "Nile", "Orbit", "Pioneer", "Quartz", "Rift", "Savanna", "Tidal")
FIRM_KINDS = ("Capital", "Ventures", "Partners", "Fund", "Investments")
NAME_STEMS = {
    "fintech": ("Pay", "Ledger", "Coin", "Credit", "Wallet"),
    "agritech": ("Agri", "Harvest", "Farm", "Soil", "Seed"),
    "healthtech": ("Care", "Med", "Pulse", "Vital", "Clinic"),
    "edtech": ("Learn", "Tutor", "Class", "Skill", "Campus"),
    "logistics": ("Route", "Cargo", "Fleet", "Depot", "Haul"),
    "energy": ("Solar", "Volt", "Grid", "Power", "Spark"),
}
NAME_TAILS = ("ly", "Hub", "Link", "Works", "Base", "Wise", "Flow", "Labs", "Go", "Net")
COMMENTS = {
    1: ("Not a fit for our thesis.", "Outside our mandate."),
    2: ("Interesting, but the ask does not match our ticket.", "Too early for us."),
    3: ("Worth a follow-up call.", "Promising team; need more traction data."),
    4: ("Strong team and a clear market.", "Good fit; requested the data room."),
    5: ("Exactly what we look for.", "Excellent traction; moving to term sheet."),
}


def _rng(seed: int, part: str) -> np.random.Generator:
    # One stream per part, so changing how one table is drawn does not reshuffle the others.
    return np.random.default_rng([seed, sum(ord(c) * 31**i for i, c in enumerate(part)) % 2**32])


def _ts(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=0)


def _between(rng: np.random.Generator, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    span = max((end - start).total_seconds(), 60.0)
    return _ts(start + dt.timedelta(seconds=float(rng.uniform(0, span))))


def _round_money(value: float, step: int) -> float:
    return float(max(step, round(value / step) * step))


def _users(seed: int) -> tuple[list[dict], list[int], list[int]]:
    rng = _rng(seed, "users")
    n = COUNTS["users"]
    roles = rng.choice(["founder", "investor", "analyst"], size=n, p=[0.55, 0.25, 0.20])
    # Enough of each role for the businesses and investors that need one.
    roles[: COUNTS["investors"]] = "investor"
    roles[COUNTS["investors"]: COUNTS["investors"] + COUNTS["businesses"]] = "founder"
    roles = rng.permutation(roles)
    offsets = np.sort(rng.uniform(0, (ACTIVITY_START - EPOCH).total_seconds() * 0.9, size=n))
    users = []
    for i in range(n):
        uid = i + 1
        first, last = FIRST_NAMES[rng.integers(len(FIRST_NAMES))], LAST_NAMES[rng.integers(len(LAST_NAMES))]
        users.append({
            "id": uid,
            "email": f"{first.lower()}.{last.lower()}.{uid}@noblestride.example",
            "full_name": f"{first} {last}",
            "role": str(roles[i]),
            "created_at": _ts(EPOCH + dt.timedelta(seconds=float(offsets[i]))),
        })
    founders = [u["id"] for u in users if u["role"] == "founder"]
    investors = [u["id"] for u in users if u["role"] == "investor"]
    return users, founders, investors


def _businesses(seed: int, users: list[dict], founders: list[int]) -> tuple[list[dict], np.ndarray]:
    rng = _rng(seed, "businesses")
    n = COUNTS["businesses"]
    # Balanced sectors (25 each), in random order: no sector is popular by construction.
    sectors = rng.permutation(np.resize(np.arange(len(SECTORS)), n))
    stages = rng.choice(len(STAGES), size=n, p=STAGE_WEIGHTS)
    quality = rng.normal(0.0, 1.0, size=n)
    owners = rng.choice(founders, size=n, replace=False)
    rows = []
    for i in range(n):
        stage = STAGES[stages[i]]
        ask = _round_money(STAGE_ASK[stage] * math.exp(rng.normal(0.0, 0.45)), 5_000)
        sector = SECTORS[sectors[i]]
        stems = NAME_STEMS[sector]
        owner = int(owners[i])
        rows.append({
            "id": i + 1,
            "owner_id": owner,
            "name": f"{stems[rng.integers(len(stems))]}{NAME_TAILS[rng.integers(len(NAME_TAILS))]} {i + 1}",
            "sector": sector,
            "stage": stage,
            "funding_ask": ask,
            "created_at": _between(rng, users[owner - 1]["created_at"], ACTIVITY_START),
        })
    return rows, quality


def _investors(seed: int, users: list[dict], investor_users: list[int]) -> tuple[list[dict], np.ndarray]:
    """Investor rows, and each investor's liking per sector (shape investors x sectors)."""
    rng = _rng(seed, "investors")
    n = COUNTS["investors"]
    user_ids = rng.choice(investor_users, size=n, replace=False)
    liking = np.zeros((n, len(SECTORS)))
    rows = []
    for i in range(n):
        k = int(rng.choice([1, 2, 3], p=[0.30, 0.45, 0.25]))
        liked = rng.choice(len(SECTORS), size=k, replace=False)
        liking[i, liked] = SECTOR_LIKING[:k]
        stage = STAGES[rng.choice(len(STAGES), p=STAGE_WEIGHTS)]
        centre = math.log(STAGE_ASK[stage]) + rng.normal(0.0, 0.25)
        half_width = rng.uniform(0.5, 0.9)
        user = int(user_ids[i])
        rows.append({
            "id": i + 1,
            "user_id": user,
            "firm_name": f"{FIRM_WORDS[rng.integers(len(FIRM_WORDS))]} {FIRM_KINDS[rng.integers(len(FIRM_KINDS))]} {i + 1}",
            "preferred_sector": SECTORS[liked[0]],
            "ticket_min": _round_money(math.exp(centre - half_width), 5_000),
            "ticket_max": _round_money(math.exp(centre + half_width), 5_000),
            "created_at": _between(rng, users[user - 1]["created_at"], ACTIVITY_START - dt.timedelta(days=7)),
        })
    return rows, liking


def utility(businesses: list[dict], quality: np.ndarray, investors: list[dict], liking: np.ndarray) -> np.ndarray:
    """The generator's true utility of every (investor, business) pair, shape investors x businesses."""
    sector = np.array([SECTORS.index(b["sector"]) for b in businesses])
    log_ask = np.log([b["funding_ask"] for b in businesses])
    lo = np.log([i["ticket_min"] for i in investors])[:, None]
    hi = np.log([i["ticket_max"] for i in investors])[:, None]
    fit = ((log_ask >= lo) & (log_ask <= hi)).astype(float)
    distance = np.maximum(lo - log_ask, 0) + np.maximum(log_ask - hi, 0)
    return W_SECTOR * liking[:, sector] + W_FIT * fit - W_DISTANCE * distance + W_QUALITY * quality[None, :]


def _feedback_counts(rng: np.random.Generator, n_investors: int, total: int) -> np.ndarray:
    # Two each, the rest split by a log-normal activity: a few investors are much busier than most.
    activity = rng.lognormal(0.0, 0.6, size=n_investors)
    counts = 2 + rng.multinomial(total - 2 * n_investors, activity / activity.sum())
    return np.minimum(counts, COUNTS["businesses"] // 3)


def _interactions(seed: int, businesses, quality, investors, liking) -> tuple[list[tuple], list[tuple]]:
    """(investor_index, business_index, rating, time) feedback and (inv, bus, time, status, amount) deals."""
    rng = _rng(seed, "interactions")
    n_inv, n_bus = len(investors), len(businesses)
    u = utility(businesses, quality, investors, liking)
    counts = _feedback_counts(rng, n_inv, COUNTS["feedback"])
    # The cap can drop a few rows: give them back to the investors with room, most active first.
    short = COUNTS["feedback"] - int(counts.sum())
    for i in np.argsort(-counts, kind="stable"):
        if short == 0:
            break
        if counts[i] < COUNTS["businesses"] // 3:
            counts[i] += 1
            short -= 1

    feedback = []
    for i in range(n_inv):
        # Gumbel top-k: the k businesses with the highest utility + Gumbel noise are a draw without
        # replacement with probability proportional to exp(utility).
        chosen = np.argsort(-(u[i] + rng.gumbel(size=n_bus)), kind="stable")[: counts[i]]
        start = max(ACTIVITY_START, investors[i]["created_at"])
        for b in chosen:
            latent = u[i, b] - 1.0 + rng.normal(0.0, 0.8)  # a typical chosen pair rates 3
            rating = int(np.clip(np.round(3 + latent), 1, 5))
            feedback.append((i, int(b), rating, _between(rng, start, ACTIVITY_END)))

    # Deals: most among pairs with feedback (favouring high utility and rating), the rest cold.
    n_deals = COUNTS["deals"]
    warm_n = int(round(n_deals * DEALS_FROM_FEEDBACK))
    warm_weight = np.array([u[i, b] + 0.5 * (rating - 3) for i, b, rating, _ in feedback])
    warm = np.argsort(-(1.2 * warm_weight + rng.gumbel(size=len(feedback))), kind="stable")[:warm_n]
    had_feedback = {(i, b) for i, b, _, _ in feedback}
    cold_pairs = [(i, b) for i in range(n_inv) for b in range(n_bus) if (i, b) not in had_feedback]
    cold_u = np.array([u[i, b] for i, b in cold_pairs])
    cold = np.argsort(-(cold_u + rng.gumbel(size=len(cold_pairs))), kind="stable")[: n_deals - warm_n]

    deals = []
    for idx in warm:
        i, b, _, when = feedback[idx]
        later = when + dt.timedelta(days=float(rng.uniform(2, 14)))
        deals.append((i, b) + _deal(rng, investors[i], businesses[b], u[i, b], later))
    for idx in cold:
        i, b = cold_pairs[idx]
        start = max(ACTIVITY_START, investors[i]["created_at"])
        deals.append((i, b) + _deal(rng, investors[i], businesses[b], u[i, b], _between(rng, start, ACTIVITY_END)))
    return feedback, deals


def _deal(rng, investor: dict, business: dict, u: float, when: dt.datetime) -> tuple:
    # Better-liked pairs get further: closed and negotiating rather than proposed or declined.
    p_good = 1.0 / (1.0 + math.exp(-2.0 * (u - 1.5)))
    status = rng.choice(["closed", "negotiating", "proposed", "declined"], p=_status_probs(p_good))
    lo, hi = investor["ticket_min"], max(investor["ticket_min"], min(investor["ticket_max"], business["funding_ask"]))
    amount = _round_money(math.exp(rng.uniform(math.log(lo), math.log(hi) + 1e-9)), 1_000)
    return (_ts(min(when, DATA_END)), str(status), amount)


def _status_probs(p_good: float) -> list[float]:
    weights = np.array([0.5 * p_good, 0.3 * p_good + 0.1, 0.25 * (1 - p_good) + 0.1, 0.5 * (1 - p_good)])
    return list(weights / weights.sum())


def _shuffle_pairs(seed: int, feedback: list[tuple], deals: list[tuple]) -> tuple[list[tuple], list[tuple]]:
    """Reassign each (investor, business) history to another investor, keeping both marginals."""
    rng = _rng(seed, "shuffle")
    pairs = sorted({(i, b) for i, b, *_ in feedback} | {(i, b) for i, b, *_ in deals})
    owners = [i for i, _ in pairs]
    new = list(rng.permutation(owners))
    # A permutation can give one investor the same business twice; swap those away.
    for _ in range(100):
        seen: set[tuple[int, int]] = set()
        clashes = []
        for k, (_, b) in enumerate(pairs):
            key = (int(new[k]), b)
            if key in seen:
                clashes.append(k)
            seen.add(key)
        if not clashes:
            break
        for k in clashes:
            j = int(rng.integers(len(pairs)))
            new[k], new[j] = new[j], new[k]
    else:
        raise RuntimeError("could not shuffle interactions without duplicate pairs")
    moved = {pair: int(new[k]) for k, pair in enumerate(pairs)}
    return ([(moved[(i, b)], b) + tuple(rest) for i, b, *rest in feedback],
            [(moved[(i, b)], b) + tuple(rest) for i, b, *rest in deals])


def generate(seed: int = 7, shuffle_interactions: bool = False) -> dict[str, list[dict]]:
    """All five tables as lists of row dicts (column -> value), ids in order, exact COUNTS."""
    users, founders, investor_users = _users(seed)
    businesses, quality = _businesses(seed, users, founders)
    investors, liking = _investors(seed, users, investor_users)
    feedback, deals = _interactions(seed, businesses, quality, investors, liking)
    if shuffle_interactions:
        feedback, deals = _shuffle_pairs(seed, feedback, deals)

    rng = _rng(seed, "comments")
    # Ids follow time, as a database's serial ids would.
    feedback_rows = []
    for n, (i, b, rating, when) in enumerate(sorted(feedback, key=lambda f: (f[3], f[0], f[1])), start=1):
        comment = None if rng.random() < 0.25 else COMMENTS[rating][int(rng.integers(2))]
        feedback_rows.append({"id": n, "user_id": investors[i]["user_id"], "business_id": b + 1, "rating": rating,
                              "comment": comment, "created_at": when})
    deal_rows = []
    for n, (i, b, when, status, amount) in enumerate(sorted(deals, key=lambda d: (d[2], d[0], d[1])), start=1):
        deal_rows.append({"id": n, "business_id": b + 1, "investor_id": i + 1, "amount": amount, "status": status,
                          "created_at": when})
    tables = {"users": users, "businesses": businesses, "investors": investors, "deals": deal_rows,
              "feedback": feedback_rows}
    for name, rows in tables.items():
        assert len(rows) == COUNTS[name], (name, len(rows))
    return tables


COLUMNS = {
    "users": ("id", "email", "full_name", "role", "created_at"),
    "businesses": ("id", "owner_id", "name", "sector", "stage", "funding_ask", "created_at"),
    "investors": ("id", "user_id", "firm_name", "preferred_sector", "ticket_min", "ticket_max", "created_at"),
    "deals": ("id", "business_id", "investor_id", "amount", "status", "created_at"),
    "feedback": ("id", "user_id", "business_id", "rating", "comment", "created_at"),
}
MONEY = {"funding_ask", "ticket_min", "ticket_max", "amount"}


def _literal(column: str, value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dt.datetime):
        return "'" + value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") + "+00'"
    if column in MONEY:
        return f"{value:.2f}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return "'" + str(value).replace("'", "''") + "'"


def to_sql(tables: dict[str, list[dict]], header: Iterable[str] = ()) -> str:
    lines = [f"-- {line}" if line else "--" for line in header]
    for name in ("users", "businesses", "investors", "deals", "feedback"):  # foreign keys' order
        columns = COLUMNS[name]
        lines.append("")
        lines.append(f"INSERT INTO {name} ({', '.join(columns)}) VALUES")
        rows = tables[name]
        for k, row in enumerate(rows):
            values = ", ".join(_literal(c, row[c]) for c in columns)
            lines.append(f"    ({values}){';' if k == len(rows) - 1 else ','}")
    return "\n".join(lines) + "\n"


def header(seed: int, shuffled: bool) -> list[str]:
    counts = ", ".join(f"{COUNTS[t]} {t}" for t in ("users", "businesses", "investors", "deals", "feedback"))
    flag = " --shuffle-interactions" if shuffled else ""
    return [
        "Noblestride sample data, generated (do not edit by hand) by ml/generate_sample_data.py from a seeded",
        "model of how investors choose: sector liking, ticket fit and a latent business quality. See ml/README.md.",
        f"Seed {seed}{' (interactions shuffled across investors: a degraded data set)' if shuffled else ''}: {counts}.",
        "Regenerate with:",
        f"  python3 ml/generate_sample_data.py --seed {seed}{flag} --output examples/noblestride/seed.sql"
        if not shuffled else f"  python3 ml/generate_sample_data.py --seed {seed}{flag} --output FILE",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7, help="generator seed (7 produces the committed seed.sql)")
    parser.add_argument("--shuffle-interactions", action="store_true",
                        help="degraded data: move interaction histories across investors (same counts)")
    parser.add_argument("--output", "-o", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    sql = to_sql(generate(args.seed, args.shuffle_interactions), header(args.seed, args.shuffle_interactions))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(sql)
    else:
        sys.stdout.write(sql)
    return 0


if __name__ == "__main__":
    sys.exit(main())
