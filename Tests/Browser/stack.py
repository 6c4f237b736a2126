"""The system the browser tests drive: a real `lockstep standalone` (embedded bus, SQLite state in a
temp data dir) against the reference services `make demo` uses — a throwaway PostgreSQL holding the
sample Noblestride data, the FastAPI recommendation service and the Node.js backend — on free
loopback ports. Started once per test session, stopped (and its files removed) at the end."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PGBIN = next((f"/usr/lib/postgresql/{v}/bin" for v in ("17", "16", "15") if os.path.exists(f"/usr/lib/postgresql/{v}/bin/initdb")), None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, what, timeout=60.0, interval=0.1):
    """Polls `condition` until it returns something truthy; fails naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # the condition may fail until the thing it polls is up
            last = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}" + (f" (last error: {last})" if last else ""))


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def as_postgres(args):
    """initdb and postgres refuse to run as root; as root, drop to the `postgres` user (as demo.sh)."""
    if os.getuid() == 0:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + args
    return args


class Stack:
    """Starts and stops everything; `api(...)` calls the REST API with an admin token."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="lockstep-ui-")
        os.chmod(self.work, 0o755)
        self.procs = []
        self.binary = os.environ.get("LOCKSTEP_BIN", os.path.join(ROOT, ".build", "debug", "lockstep"))
        self.admin_password = "admin-" + os.urandom(9).hex()
        self.pg_password = "pg-" + os.urandom(9).hex()
        self.users = {}
        self._token = None

    # -- processes -------------------------------------------------------------------------------

    def _spawn(self, name, args, env=None, cwd=None):
        log = open(os.path.join(self.work, name + ".log"), "wb")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
        self.procs.append((name, proc, log))
        return proc

    def log(self, name):
        try:
            with open(os.path.join(self.work, name + ".log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def start(self):
        if not os.access(self.binary, os.X_OK):
            raise AssertionError(f"{self.binary} is missing: run `swift build` first (make test does)")
        if PGBIN is None:
            raise AssertionError("no PostgreSQL server binaries under /usr/lib/postgresql: run scripts/install-deps.sh")
        self._start_postgres()
        self._start_services()
        self._write_config()
        self._start_lockstep()
        for name, role in (("viewer1", "viewer"), ("user1", "user"), ("op1", "op")):
            self.users[name] = self.add_user(name, role)
        return self

    def _start_postgres(self):
        self.pg_port = free_port()
        pg = os.path.join(self.work, "pg")
        os.makedirs(pg)
        with open(os.path.join(pg, "pwfile"), "w") as f:
            f.write(self.pg_password + "\n")
        if os.getuid() == 0:
            shutil.chown(pg, "postgres", "postgres")
            shutil.chown(os.path.join(pg, "pwfile"), "postgres", "postgres")
        subprocess.run(as_postgres([f"{PGBIN}/initdb", "-D", f"{pg}/data", "-U", "postgres", "--auth=scram-sha-256",
                                    f"--pwfile={pg}/pwfile", "-E", "UTF8", "--locale=C", "--no-sync"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._spawn("postgres", as_postgres([f"{PGBIN}/postgres", "-D", f"{pg}/data", "-p", str(self.pg_port), "-k", pg,
                                             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]))
        env = dict(os.environ, PGPASSWORD=self.pg_password)
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres"]
        wait_for(lambda: subprocess.run(psql + ["-c", "SELECT 1"], env=env, capture_output=True).returncode == 0, "PostgreSQL")
        subprocess.run(psql + ["-c", "CREATE DATABASE noblestride"], env=env, check=True, capture_output=True)
        for f in ("schema", "seed"):
            subprocess.run(psql + ["-d", "noblestride", "-f", os.path.join(ROOT, "examples", "noblestride", f + ".sql")],
                           env=env, check=True, capture_output=True)

    def _start_services(self):
        self.fastapi_port, self.node_port = free_port(), free_port()
        self._spawn("fastapi", ["python3", "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(self.fastapi_port),
                                "--log-level", "warning"], cwd=os.path.join(ROOT, "examples", "fastapi-service"))
        self._spawn("nodejs", ["node", os.path.join(ROOT, "examples", "nodejs-service", "server.js")],
                    env=dict(os.environ, PORT=str(self.node_port)))
        wait_for(lambda: port_open(self.fastapi_port), "the FastAPI service")
        wait_for(lambda: port_open(self.node_port), "the Node.js service")

    def _write_config(self):
        """The repository's config and DAGs, plus one DAG whose description and task error hold HTML."""
        self.config = os.path.join(self.work, "config")
        shutil.copytree(os.path.join(ROOT, "config"), self.config)
        with open(os.path.join(self.config, "dags", "ui_escaping_check.yaml"), "w") as f:
            f.write(ESCAPING_DAG)
        with open(os.path.join(self.config, "dags", "ui_log_follow.yaml"), "w") as f:
            f.write(FOLLOW_DAG)

    def _start_lockstep(self):
        self.port = free_port()
        self.data = os.path.join(self.work, "data")
        os.makedirs(os.path.join(self.work, "reports"))
        self.env = dict(
            os.environ,
            LOCKSTEP_DATA_DIR=self.data,
            LOCKSTEP_CONFIG=os.path.join(self.config, "lockstep.yaml"),
            LOCKSTEP_DAGS=os.path.join(self.config, "dags"),
            LOCKSTEP_PACKS="noblestride,testing",
            LOCKSTEP_ADMIN_PASSWORD=self.admin_password,
            LOCKSTEP_VAR_FASTAPI_BASE_URL=f"http://127.0.0.1:{self.fastapi_port}",
            LOCKSTEP_VAR_NODEJS_BASE_URL=f"http://127.0.0.1:{self.node_port}",
            LOCKSTEP_VAR_REPORTS_DIR=os.path.join(self.work, "reports"),
            # The trainer the training pipeline runs; its default is ./ml of the directory Lockstep starts in.
            LOCKSTEP_VAR_ML_DIR=os.path.join(ROOT, "ml"),
            LOCKSTEP_CONN_NOBLESTRIDE_POSTGRES=f"postgresql://postgres:{self.pg_password}@127.0.0.1:{self.pg_port}/noblestride",
        )
        self.lockstep = self._spawn("lockstep", [self.binary, "standalone", "--no-scheduler", "--http", f"127.0.0.1:{self.port}"],
                                    env=self.env, cwd=self.work)
        self.base = f"http://127.0.0.1:{self.port}"

        def healthy():
            if self.lockstep.poll() is not None:
                raise AssertionError("lockstep standalone exited:\n" + self.log("lockstep")[-3000:])
            with urllib.request.urlopen(self.base + "/api/v1/health", timeout=2) as r:
                return r.status == 200
        wait_for(healthy, "lockstep standalone to answer /api/v1/health", timeout=90)

    def add_user(self, name, role):
        out = subprocess.run([self.binary, "users", "add", name, "--role", role], env=self.env, cwd=self.work,
                             capture_output=True, text=True, check=True).stdout
        match = re.search(r"password: (\S+)", out)
        assert match, f"`lockstep users add` printed no password: {out!r}"
        return match.group(1)

    def publish_junk_run_request(self):
        """A record on the run-request topic that is no run request: the coordinator dead-letters it."""
        subprocess.run([self.binary, "events", "publish", "--data-dir", self.data, "--topic", "lockstep.runs.requests",
                        "--count", "1", "--key", "not-a-dag"], env=self.env, check=True, capture_output=True)

    def write_log_lines(self, run_id, task_id, try_number, lines):
        """Stores log lines for an attempt the way a worker's log writer does (the task-log store's
        table in the SQLite state), in place of what the attempt logged, so the page is tested on logs
        of any size and timing."""
        import sqlite3
        db = sqlite3.connect(os.path.join(self.data, "state.sqlite"), timeout=30)
        try:
            now = int(time.time() * 1000)
            with db:
                if lines and lines[0][0] == 1:
                    db.execute("DELETE FROM lockstep_task_logs WHERE run_id = ? AND task_id = ? AND try_number = ?",
                               (run_id, task_id, try_number))
                db.executemany(
                    "INSERT INTO lockstep_task_logs (run_id, task_id, try_number, seq, time_ms, stream, text) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(run_id, task_id, try_number, seq, now + seq, stream, text) for seq, stream, text in lines])
        finally:
            db.close()

    def stop(self):
        for name, proc, log in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
            log.close()
        if os.environ.get("KEEP_UI_TEST"):
            print(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    # -- the API, as an admin ----------------------------------------------------------------------

    def token(self):
        if self._token is None:
            self._token = self.request("POST", "/api/v1/auth/token", {"username": "admin", "password": self.admin_password},
                                       auth=False)[1]["access_token"]
        return self._token

    def request(self, method, path, body=None, auth=True):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = "Bearer " + self.token()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read().decode()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            return error.code, (json.loads(text) if text.startswith("{") else text)

    def api(self, method, path, body=None):
        status, payload = self.request(method, path, body)
        assert status < 400, f"{method} {path} answered {status}: {payload}"
        return payload

    def trigger(self, dag, conf=None):
        return self.api("POST", f"/api/v1/dags/{dag}/runs", {"conf": conf or {}})["dag_run_id"]

    def run(self, run_id):
        status, payload = self.request("GET", "/api/v1/runs/" + urllib.parse.quote(run_id, safe=""))
        return payload if status == 200 else None

    def wait_finished(self, run_id, timeout=120):
        return wait_for(lambda: (lambda r: r if r and r["state"] in ("succeeded", "failed", "cancelled") else None)(self.run(run_id)),
                        f"run {run_id} to finish", timeout=timeout, interval=0.25)


FOLLOW_DAG = """\
# A task that runs long enough to follow its log live.
id: ui_log_follow
description: Sleeps, so the log page has a running try to follow
tags: [ui-test]
tasks:
  - id: long_sleep
    operator: sleep
    params: {seconds: 120}
    timeout: 150s
"""

ESCAPING_DAG = """\
# A DAG whose description and task error hold HTML: the UI must show both as text.
id: ui_escaping_check
description: "Shows <b>markup</b> as text <script>alert('description')</script>"
tags: [ui-test]
tasks:
  - id: fails_with_html
    operator: fail
    params:
      message: "<img src=x onerror=alert(1)> went wrong"
      retryable: false
"""
