import json
import os

import numpy as np
import pytest

import generate_sample_data
from recommender.data import load
from recommender.model import HybridRanker
from recommender.pipeline import train_and_evaluate
from train import UsageError, parse_logical_date, train

OUTPUT_KEYS = {"model_version", "model_type", "training_samples", "training_timestamp", "artifact_path", "metrics",
               "baseline", "investors_count", "businesses_count", "evaluated_investors", "training_seconds"}


@pytest.fixture(scope="module")
def seed7():
    return load(generate_sample_data.generate(7))


def test_logical_date_names_the_version():
    assert parse_logical_date("2025-09-18T02:00:00Z").strftime("v%Y%m%d_%H%M%S") == "v20250918_020000"
    assert parse_logical_date("2025-09-18T04:00:00+02:00").hour == 2
    with pytest.raises(UsageError):
        parse_logical_date("yesterday")


def test_train_writes_the_artifact_under_type_and_version_and_a_retry_rewrites_it(tmp_path, seed7):
    logical = parse_logical_date("2025-09-18T02:00:00Z")
    out = train(seed7, model_type="recommendation_model", logical=logical, models_root=str(tmp_path), inputs={})
    assert OUTPUT_KEYS <= set(out)
    expected = tmp_path / "recommendation_model" / "v20250918_020000" / "model.json"
    assert out["artifact_path"] == str(expected)
    assert out["model_version"] == "v20250918_020000"
    assert set(out["metrics"]) == {"hr_at_10", "ndcg_at_10"}
    assert set(out["baseline"]) == {"popularity", "random"}
    assert out["investors_count"] == 75 and out["businesses_count"] == 150 and out["evaluated_investors"] == 75
    assert out["training_samples"] == 542 + 89
    assert out["metrics"]["hr_at_10"] >= 2 * out["baseline"]["popularity"]["hr_at_10"]
    first = json.loads(expected.read_text())
    again = train(seed7, model_type="recommendation_model", logical=logical, models_root=str(tmp_path), inputs={})
    assert again["artifact_path"] == out["artifact_path"] and os.listdir(expected.parent) == ["model.json"]
    second = json.loads(expected.read_text())
    # Same data, same seed: the same model; only the wall-clock timestamp may differ.
    first.pop("training_timestamp"), second.pop("training_timestamp")
    assert first == second


def test_artifact_scores_like_the_fitted_model(tmp_path, seed7):
    out = train(seed7, model_type="m", logical=parse_logical_date("2025-01-01T00:00:00Z"),
                models_root=str(tmp_path), inputs={})
    doc = json.loads(open(out["artifact_path"]).read())
    assert doc["format"] == "lockstep-hybrid-ranker/1" and doc["model_version"] == "v20250101_000000"
    result = train_and_evaluate(seed7)
    restored = HybridRanker.from_json(doc["model"])
    x = result.state.matrix(1, result.state.candidates(1))
    assert np.allclose(restored.score(x), result.model.score(x))
    assert sum(doc["feature_state"]["business_popularity"].values()) == sum(len(p) for p in result.state.pairs.values())


def test_upstream_counts_are_used_when_given(tmp_path, seed7):
    inputs = {"extract_data": {"investors_count": 80, "businesses_count": 150}}
    out = train(seed7, model_type="m", logical=parse_logical_date("2025-01-01T00:00:00Z"),
                models_root=str(tmp_path), inputs=inputs)
    assert out["investors_count"] == 80


def test_model_type_must_be_one_path_component(tmp_path, seed7):
    with pytest.raises(UsageError):
        train(seed7, model_type="../x", logical=parse_logical_date("2025-01-01T00:00:00Z"),
              models_root=str(tmp_path), inputs={})
