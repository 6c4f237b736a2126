"""train.py as the orchestrator runs it, against a real PostgreSQL 15 holding seed.sql.

Starts its own throwaway cluster (initdb as the `postgres` user when run as root, a free port, a
temporary directory) and stops and deletes it afterwards. Skipped only when no server is installed.
"""
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

import generate_sample_data
from conftest import ML, REPO
from recommender.data import load
from train import parse_logical_date, train

PASSWORD = "pg-Secret/with:odd@chars"


def _bin_dir():
    for candidate in ["/usr/lib/postgresql/15/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        if os.access(os.path.join(candidate, "initdb"), os.X_OK):
            return candidate
    return None


BIN = _bin_dir()
pytestmark = pytest.mark.skipif(BIN is None or shutil.which("psql") is None,
                                reason="no PostgreSQL server binaries (initdb) or psql installed")


def _as_postgres(command):
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *command] if os.getuid() == 0 else command


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SERVER: dict = {}  # the module's cluster: its data directory and start command, to restart it


@pytest.fixture(scope="module")
def cluster():
    work = tempfile.mkdtemp(prefix="lockstep-ml-pg-")
    os.chmod(work, 0o755)
    data, pwfile = os.path.join(work, "data"), os.path.join(work, "pwfile")
    with open(pwfile, "w") as f:
        f.write(PASSWORD + "\n")
    if os.getuid() == 0:
        shutil.chown(work, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    port = _free_port()
    pg_ctl = os.path.join(BIN, "pg_ctl")
    started = False
    try:
        subprocess.run(_as_postgres([os.path.join(BIN, "initdb"), "-D", data, "-U", "postgres", "--auth=scram-sha-256",
                                     f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C", "--no-sync"]),
                       check=True, capture_output=True, timeout=120)
        start = [pg_ctl, "-D", data, "-l", os.path.join(work, "server.log"), "-w", "-t", "60", "-o",
                 f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off", "start"]
        subprocess.run(_as_postgres(start), check=True, capture_output=True, timeout=90)
        started = True
        _SERVER.update(data=data, start=start)
        env = dict(os.environ, PGPASSWORD=PASSWORD)
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
        subprocess.run(psql + ["-c", "CREATE DATABASE noblestride"], env=env, check=True, capture_output=True, timeout=60)
        for name in ("schema.sql", "seed.sql"):
            subprocess.run(psql + ["-d", "noblestride", "-f", os.path.join(REPO, "examples", "noblestride", name)],
                           env=env, check=True, capture_output=True, timeout=120)
        yield port
    finally:
        if started:
            subprocess.run(_as_postgres([pg_ctl, "-D", data, "-m", "fast", "-w", "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(work, ignore_errors=True)


def _uri(port, password=PASSWORD):
    from urllib.parse import quote
    return f"postgresql://postgres:{quote(password, safe='')}@127.0.0.1:{port}/noblestride"


def _train_command(tmp_path, env_extra, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKSTEP_") and k != "NOBLESTRIDE_DB_URL"}
    env.update(LOCKSTEP_OUTPUT=str(tmp_path / "output.json"), LOCKSTEP_LOGICAL_DATE="2025-09-18T02:00:00Z", **env_extra)
    return [sys.executable, os.path.join(ML, "train.py"), "--models-dir", str(tmp_path / "models"), *args], env


def _run_train(tmp_path, env_extra, *args):
    command, env = _train_command(tmp_path, env_extra, *args)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_seed_data_loads_with_the_asserted_counts(cluster):
    env = dict(os.environ, PGPASSWORD=PASSWORD)
    counts = subprocess.run(
        ["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(cluster), "-U", "postgres", "-d", "noblestride", "-c",
         "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM businesses), (SELECT count(*) FROM investors),"
         " (SELECT count(*) FROM deals), (SELECT count(*) FROM feedback)"],
        env=env, check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    assert counts == "1247|150|75|89|542"


def test_train_from_postgres_matches_the_in_memory_run_and_hides_the_password(cluster, tmp_path):
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"extract_data": {"investors_count": 75, "businesses_count": 150}}))
    done = _run_train(tmp_path, {"SEED_DB": _uri(cluster), "LOCKSTEP_INPUTS": str(inputs)}, "--connection-env", "SEED_DB")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr and "Secret" not in done.stderr
    out = json.loads((tmp_path / "output.json").read_text())
    assert out["model_version"] == "v20250918_020000"
    assert out["artifact_path"] == str(tmp_path / "models" / "recommendation_model" / "v20250918_020000" / "model.json")
    assert os.path.isfile(out["artifact_path"])
    assert PASSWORD not in open(out["artifact_path"]).read()
    # The database path and the in-memory path see the same rows, so they train the same model.
    memory = train(load(generate_sample_data.generate(7)), model_type="recommendation_model",
                   logical=parse_logical_date("2025-09-18T02:00:00Z"), models_root=str(tmp_path / "memory"), inputs={})
    for key in ("metrics", "baseline", "training_samples", "evaluated_investors", "investors_count", "businesses_count"):
        assert out[key] == memory[key], key


@pytest.mark.parametrize("password", ["wrong-Secret-pw", "Secret%zz"])
def test_database_errors_exit_4_without_the_password(cluster, tmp_path, password):
    uri = _uri(cluster, "x").replace(":x@", f":{password}@")  # the second one is a malformed URI
    done = _run_train(tmp_path, {"NOBLESTRIDE_DB_URL": uri})
    assert done.returncode == 4, done.stderr
    assert "Secret" not in done.stdout + done.stderr
    assert "127.0.0.1" in done.stderr  # still says where it tried
    assert not (tmp_path / "output.json").exists()


def test_missing_connection_variable_is_a_usage_error(tmp_path):
    done = _run_train(tmp_path, {})
    assert done.returncode == 2 and "NOBLESTRIDE_DB_URL" in done.stderr.splitlines()[-1]


def test_the_trainer_rides_out_a_database_restart(cluster, tmp_path):
    """PostgreSQL down when the trainer reads (as during `pg_ctl restart -m immediate`): it says it is
    waiting, keeps trying, and trains once the server is back, instead of failing the task."""
    pg_ctl = os.path.join(BIN, "pg_ctl")
    subprocess.run(_as_postgres([pg_ctl, "-D", _SERVER["data"], "-m", "immediate", "-w", "stop"]), check=True,
                   capture_output=True, timeout=60)
    try:
        command, env = _train_command(tmp_path, {"NOBLESTRIDE_DB_URL": _uri(cluster)}, "--db-wait", "120")
        trainer = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = trainer.stderr.readline()  # blocks until the trainer has tried and said it waits
        assert "waiting for the database" in first, first
    finally:
        subprocess.run(_as_postgres(_SERVER["start"]), check=True, capture_output=True, timeout=90)
    out, err = trainer.communicate(timeout=300)
    assert trainer.returncode == 0, first + err
    assert PASSWORD not in first + err + out
    assert json.load(open(tmp_path / "output.json"))["investors_count"] > 0


def test_an_unreachable_database_is_given_up_on_after_the_wait(tmp_path):
    done = _run_train(tmp_path, {"NOBLESTRIDE_DB_URL": _uri(_free_port())}, "--db-wait", "1")
    assert done.returncode == 4, done.stderr
    assert "waiting for the database" in done.stderr and PASSWORD not in done.stderr
