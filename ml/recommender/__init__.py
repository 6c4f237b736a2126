"""The Noblestride hybrid ranker: load(rows) -> split -> features -> fit -> evaluate.

Nothing here touches a database: `recommender.postgres` is the thin layer that turns tables into
the row dicts `recommender.data.load` takes, so the same core runs on generated data in memory.
"""
