#!/usr/bin/env python3
"""Train the Noblestride hybrid ranker from PostgreSQL, evaluate it on held-out deals, save it.

Run by the orchestrator's `command` operator. The connection URI comes from an environment
variable (NOBLESTRIDE_DB_URL, or the one --connection-env names), never from the command line,
and is never printed. Contract, evaluation protocol and artifact layout: ml/README.md.

Exit codes: 0 trained; 2 usage or configuration error; 4 database unreachable or query failed;
5 the data cannot train or evaluate a model (no interactions, nobody to evaluate).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys

from recommender.data import Dataset, load
from recommender.io import atomic_write_json, log, read_inputs, write_output
from recommender.pipeline import NEGATIVES_PER_POSITIVE, TrainingResult, train_and_evaluate

EXIT_USAGE, EXIT_DATABASE, EXIT_DATA = 2, 4, 5
ARTIFACT_FORMAT = "lockstep-hybrid-ranker/1"


class UsageError(Exception):
    pass


def parse_logical_date(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"logical date {value!r} is not ISO 8601 (e.g. 2025-09-18T02:00:00Z)") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)


def logical_date(args) -> dt.datetime:
    # The run's logical date names the version, so a retry of the same run rewrites the same one.
    value = os.environ.get("LOCKSTEP_LOGICAL_DATE") or args.logical_date
    if value:
        return parse_logical_date(value)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    log("train", "no LOCKSTEP_LOGICAL_DATE or --logical-date: versioning by the current time")
    return now


def models_dir(args) -> str:
    if args.models_dir:
        return args.models_dir
    if os.environ.get("LOCKSTEP_MODELS_DIR"):
        return os.environ["LOCKSTEP_MODELS_DIR"]
    return os.path.join(os.environ.get("LOCKSTEP_DATA_DIR", "data"), "models")


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def upstream_count(inputs: dict, key: str) -> int | None:
    """`key` (e.g. investors_count) from the upstream outputs, preferring the nearest task."""
    for task in ("preprocess_data", "extract_data", *sorted(inputs)):
        value = inputs.get(task)
        if isinstance(value, dict) and isinstance(value.get(key), int):
            return value[key]
    return None


def build_output(dataset: Dataset, result: TrainingResult, *, model_type: str, version: str, logical: dt.datetime,
                 artifact_path: str, inputs: dict, seed: int) -> dict:
    scores = result.scores
    counts = {}
    for key, loaded in (("investors_count", len(dataset.investors)), ("businesses_count", len(dataset.businesses))):
        upstream = upstream_count(inputs, key)
        if upstream is not None and upstream != loaded:
            log("train", f"upstream {key} {upstream} differs from the {loaded} rows read (data changed in between)")
        counts[key] = upstream if upstream is not None else loaded
    popularity = scores["popularity"].hr_at_10
    return {
        "model_type": model_type,
        "model_version": version,
        "algorithm": "hybrid_logistic_ranker",
        "training_samples": len(dataset.interactions),
        "training_pairs": result.training_pairs,
        "training_examples": result.training_examples,
        "training_timestamp": iso(dt.datetime.now(dt.timezone.utc)),
        "logical_date": iso(logical),
        "artifact_path": artifact_path,
        "metrics": scores["model"].to_json(),
        "baseline": {"popularity": scores["popularity"].to_json(), "random": scores["random"].to_json()},
        "lift_over_popularity": round(scores["model"].hr_at_10 / popularity, 6) if popularity > 0 else None,
        **counts,
        "evaluated_investors": len(result.held_out),
        "held_out": {"deal": sum(h.kind == "deal" for h in result.held_out),
                     "feedback": sum(h.kind == "feedback" for h in result.held_out)},
        "training_seconds": round(result.seconds, 3),
        "seed": seed,
    }


def artifact(result: TrainingResult, output: dict) -> dict:
    """Weights plus the feature state needed to score pairs (popularity, sector histories)."""
    state = result.state
    return {
        "format": ARTIFACT_FORMAT,
        **{k: output[k] for k in ("model_type", "model_version", "algorithm", "logical_date", "training_timestamp",
                                  "training_samples", "training_pairs", "training_examples", "metrics", "baseline",
                                  "evaluated_investors", "seed")},
        "model": result.model.to_json(),
        "feature_state": {
            "sectors": state.dataset.sectors,
            "business_popularity": {str(int(b)): int(p) for b, p in zip(state.business_ids, state.popularity)},
            "investor_sector_counts": {str(i.id): state.sector_counts[k].astype(int).tolist()
                                       for k, i in enumerate(state.dataset.investors)},
        },
    }


def train(dataset: Dataset, *, model_type: str, logical: dt.datetime, models_root: str, inputs: dict,
          seed: int = 0, negatives_per_positive: int = NEGATIVES_PER_POSITIVE) -> dict:
    """The whole run on an in-memory Dataset: fit, evaluate, write the artifact, return the output."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", model_type) or model_type in (".", ".."):
        raise UsageError(f"model type {model_type!r} must be one path component of letters, digits, _ . -")
    version = "v" + logical.strftime("%Y%m%d_%H%M%S")
    result = train_and_evaluate(dataset, seed=seed, negatives_per_positive=negatives_per_positive)
    path = os.path.abspath(os.path.join(models_root, model_type, version, "model.json"))
    output = build_output(dataset, result, model_type=model_type, version=version, logical=logical,
                          artifact_path=path, inputs=inputs, seed=seed)
    atomic_write_json(path, artifact(result, output))
    return output


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Train and evaluate the Noblestride recommender from PostgreSQL.")
    parser.add_argument("--connection-env", default="NOBLESTRIDE_DB_URL", metavar="NAME",
                        help="environment variable holding the PostgreSQL URI (default NOBLESTRIDE_DB_URL)")
    parser.add_argument("--models-dir", help="artifact root (default $LOCKSTEP_MODELS_DIR, else $LOCKSTEP_DATA_DIR/models, else data/models)")
    parser.add_argument("--model-type", default="recommendation_model", help="artifact sub-directory and output model_type")
    parser.add_argument("--logical-date", help="ISO 8601; used when LOCKSTEP_LOGICAL_DATE is not set")
    parser.add_argument("--seed", type=int, default=0, help="seed for negative sampling (default 0)")
    parser.add_argument("--negatives-per-positive", type=int, default=NEGATIVES_PER_POSITIVE)
    parser.add_argument("--statement-timeout", type=float, default=60.0, help="seconds per query (default 60)")
    parser.add_argument("--db-wait", type=float, default=60.0,
                        help="seconds to keep retrying a database that is restarting or unreachable (default 60; 0: fail at once)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from recommender.postgres import DatabaseError, fetch_rows

    args = parse_args(argv)
    try:
        logical = logical_date(args)
        uri = os.environ.get(args.connection_env)
        if not uri:
            raise UsageError(f"environment variable {args.connection_env} (the PostgreSQL URI) is not set")
        inputs = read_inputs()
    except (UsageError, ValueError, OSError) as error:
        log("train", f"error: {error}")
        return EXIT_USAGE

    try:
        rows = fetch_rows(uri, statement_timeout_s=args.statement_timeout, wait_s=args.db_wait,
                          log=lambda text: log("train", text))
    except DatabaseError as error:
        log("train", f"error: {error}")
        return EXIT_DATABASE
    dataset = load(rows)
    log("train", f"read {len(dataset.businesses)} businesses, {len(dataset.investors)} investors, "
                 f"{len(rows['feedback'])} feedback ({dataset.dropped_feedback} not from investors, ignored), "
                 f"{len(rows['deals'])} deals")
    try:
        output = train(dataset, model_type=args.model_type, logical=logical, models_root=models_dir(args),
                       inputs=inputs, seed=args.seed, negatives_per_positive=args.negatives_per_positive)
    except UsageError as error:
        log("train", f"error: {error}")
        return EXIT_USAGE
    except ValueError as error:
        log("train", f"error: cannot train: {error}")
        return EXIT_DATA
    m, p, r = output["metrics"], output["baseline"]["popularity"], output["baseline"]["random"]
    log("train", f"evaluated {output['evaluated_investors']} investors: hr@10 model {m['hr_at_10']:.3f}, "
                 f"popularity {p['hr_at_10']:.3f}, random {r['hr_at_10']:.3f}; ndcg@10 model {m['ndcg_at_10']:.3f}")
    log("train", f"model {output['model_version']} written to {output['artifact_path']} "
                 f"in {output['training_seconds']:.2f} s")
    write_output(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
