#!/usr/bin/env python3
"""Approve a trained model only if it beats the baselines by enough.

Reads the trainer's output from a file argument, or from the upstream outputs in LOCKSTEP_INPUTS
(task `train_model` unless --source names another). Passing: exit 0, and the trainer's output
plus a `quality_gate` section is written to LOCKSTEP_OUTPUT (or stdout), so a downstream task can
use the gate's output in place of the trainer's. Failing: exit 3, and the last stderr line says
which metric fell short, its value and the threshold. Bad input: exit 2.
"""
from __future__ import annotations

import argparse
import json
import sys

from recommender.io import log, read_inputs, write_output

EXIT_USAGE, EXIT_FAILED = 2, 3
DEFAULT_MIN_HR_AT_10 = 0.20
DEFAULT_MIN_LIFT = 1.50


class GateInputError(Exception):
    pass


def check(trained: dict, min_hr_at_10: float = DEFAULT_MIN_HR_AT_10,
          min_lift: float = DEFAULT_MIN_LIFT) -> tuple[dict, list[str]]:
    """(the gate's record, failure messages); no messages means the model is approved."""
    try:
        model = float(trained["metrics"]["hr_at_10"])
        popularity = float(trained["baseline"]["popularity"]["hr_at_10"])
    except (KeyError, TypeError, ValueError):
        raise GateInputError("trainer output lacks metrics.hr_at_10 or baseline.popularity.hr_at_10") from None
    # With popularity at 0 any hit is an infinite lift; no hit at all is caught by the hr@10 check too.
    lift = model / popularity if popularity > 0 else (float("inf") if model > 0 else 0.0)
    failures = []
    if model < min_hr_at_10:
        failures.append(f"hr@10 {model:.3f} < required {min_hr_at_10:.3f}")
    if lift < min_lift:
        failures.append(f"hr@10 lift over popularity {lift:.2f} < required {min_lift:.2f} "
                        f"(model {model:.3f}, popularity {popularity:.3f})")
    record = {
        "passed": not failures,
        "hr_at_10": model,
        "popularity_hr_at_10": popularity,
        "lift_over_popularity": round(lift, 6) if lift != float("inf") else None,
        "thresholds": {"min_hr_at_10": min_hr_at_10, "min_lift_over_popularity": min_lift},
    }
    return record, failures


def load_trained(path: str | None, source: str) -> dict:
    if path:
        with open(path, encoding="utf-8") as f:
            trained = json.load(f)
    else:
        inputs = read_inputs()
        if source not in inputs:
            raise GateInputError(f"no trainer output: pass a file, or run with LOCKSTEP_INPUTS holding task `{source}`")
        trained = inputs[source]
    if not isinstance(trained, dict):
        raise GateInputError("trainer output is not a JSON object")
    return trained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Gate a trained model on HR@10 and its lift over popularity.")
    parser.add_argument("trained", nargs="?", help="trainer output JSON (default: LOCKSTEP_INPUTS[--source])")
    parser.add_argument("--source", default="train_model", help="upstream task id in LOCKSTEP_INPUTS (default train_model)")
    parser.add_argument("--min-hr-at-10", type=float, default=DEFAULT_MIN_HR_AT_10)
    parser.add_argument("--min-lift-over-popularity", type=float, default=DEFAULT_MIN_LIFT)
    args = parser.parse_args(argv)
    try:
        trained = load_trained(args.trained, args.source)
        record, failures = check(trained, args.min_hr_at_10, args.min_lift_over_popularity)
    except (GateInputError, OSError, ValueError) as error:
        log("quality_gate", f"error: {error}")
        return EXIT_USAGE
    if failures:
        print("quality gate failed: " + "; ".join(failures), file=sys.stderr, flush=True)
        return EXIT_FAILED
    log("quality_gate", f"approved {trained.get('model_version', 'model')}: hr@10 {record['hr_at_10']:.3f}, "
                        f"lift over popularity {record['lift_over_popularity'] or float('inf'):.2f}")
    write_output({**trained, "quality_gate": record})
    return 0


if __name__ == "__main__":
    sys.exit(main())
