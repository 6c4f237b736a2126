import json
import os
import subprocess
import sys

import pytest

import generate_sample_data
import quality_gate
from conftest import ML
from recommender.data import load
from train import parse_logical_date, train

LOGICAL = parse_logical_date("2025-09-18T02:00:00Z")


def trained(model, popularity):
    return {"model_version": "v20250918_020000", "metrics": {"hr_at_10": model, "ndcg_at_10": model / 2},
            "baseline": {"popularity": {"hr_at_10": popularity}, "random": {"hr_at_10": 0.07}}}


def run_gate(tmp_path, document, *args):
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"train_model": document}))
    env = dict(os.environ, LOCKSTEP_INPUTS=str(inputs), LOCKSTEP_OUTPUT=str(tmp_path / "out.json"))
    return subprocess.run([sys.executable, os.path.join(ML, "quality_gate.py"), *args],
                          env=env, capture_output=True, text=True, timeout=60)


def test_check_passes_and_fails_with_the_metric_value_and_threshold():
    record, failures = quality_gate.check(trained(0.40, 0.14))
    assert failures == [] and record["passed"] and record["lift_over_popularity"] == pytest.approx(0.40 / 0.14)
    _, failures = quality_gate.check(trained(0.130, 0.141), min_hr_at_10=0.1, min_lift=1.5)
    assert failures == ["hr@10 lift over popularity 0.92 < required 1.50 (model 0.130, popularity 0.141)"]
    _, failures = quality_gate.check(trained(0.05, 0.0))
    assert failures == ["hr@10 0.050 < required 0.200"]  # popularity 0: any hit is an infinite lift


def test_cli_passes_writing_the_approved_output(tmp_path):
    done = run_gate(tmp_path, trained(0.45, 0.15), "--min-hr-at-10", "0.3", "--min-lift-over-popularity", "2")
    assert done.returncode == 0, done.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["model_version"] == "v20250918_020000" and out["quality_gate"]["passed"] is True
    assert out["quality_gate"]["thresholds"] == {"min_hr_at_10": 0.3, "min_lift_over_popularity": 2.0}


def test_cli_fails_with_exit_3_and_one_clear_last_line(tmp_path):
    done = run_gate(tmp_path, trained(0.130, 0.141), "--min-hr-at-10", "0.1", "--min-lift-over-popularity", "1.5")
    assert done.returncode == 3
    assert done.stderr.strip().splitlines()[-1] == \
        "quality gate failed: hr@10 lift over popularity 0.92 < required 1.50 (model 0.130, popularity 0.141)"
    assert not (tmp_path / "out.json").exists()


def test_cli_reads_a_file_argument_and_rejects_bad_input(tmp_path):
    path = tmp_path / "trained.json"
    path.write_text(json.dumps(trained(0.5, 0.1)))
    done = subprocess.run([sys.executable, os.path.join(ML, "quality_gate.py"), str(path)],
                          env={k: v for k, v in os.environ.items() if not k.startswith("LOCKSTEP_")},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout)["quality_gate"]["passed"]
    assert run_gate(tmp_path, {"metrics": {}}).returncode == 2


def test_seed_data_passes_and_shuffled_data_fails_with_default_thresholds(tmp_path):
    good = train(load(generate_sample_data.generate(7)), model_type="m", logical=LOGICAL,
                 models_root=str(tmp_path / "a"), inputs={})
    assert quality_gate.check(good)[1] == []
    degraded = train(load(generate_sample_data.generate(7, shuffle_interactions=True)), model_type="m",
                     logical=LOGICAL, models_root=str(tmp_path / "b"), inputs={})
    done = run_gate(tmp_path, degraded)
    assert done.returncode == 3
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("quality gate failed: ") and "lift over popularity" in last
