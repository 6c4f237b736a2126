#!/usr/bin/env bash
# `make demo`: both pipelines end to end on the embedded bus, against a throwaway PostgreSQL holding
# the sample Noblestride data and the reference FastAPI and Node.js services. Stops what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash scripts/install-deps.sh
echo "==> building lockstep"
swift build --product lockstep 2>&1 | grep -E '^error|: error:|Build complete' || true
BIN="$(swift build --show-bin-path)/lockstep"
[ -x "$BIN" ] || { echo "build failed"; exit 1; }

WORK=$(mktemp -d /tmp/lockstep-demo.XXXXXX)
chmod 755 "$WORK"
PIDS=()
PGBIN=/usr/lib/postgresql/15/bin
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$WORK/pg/data/postmaster.pid" ] && as_postgres "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m fast stop >/dev/null 2>&1 || true
  if [ "${KEEP_DEMO:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
as_postgres() { if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 300); do
    python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $1)))" && return 0
    sleep 0.1
  done
  echo "nothing listens on $1 ($2); see $WORK"; exit 1
}

PG_PORT=$(free_port); API_PORT=$(free_port); NODE_PORT=$(free_port)
PG_PASSWORD="demo-$(date +%s)"

echo "==> PostgreSQL on 127.0.0.1:$PG_PORT with the sample noblestride database"
mkdir -p "$WORK/pg"
printf '%s\n' "$PG_PASSWORD" > "$WORK/pg/pwfile"
[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$WORK/pg"
as_postgres "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres --auth=scram-sha-256 --pwfile="$WORK/pg/pwfile" \
  -E UTF8 --locale=C --no-sync >"$WORK/pg/initdb.log" 2>&1
as_postgres "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w \
  -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
export PGPASSWORD="$PG_PASSWORD"
psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE noblestride" >/dev/null
for f in schema seed; do
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d noblestride -f "examples/noblestride/$f.sql" >/dev/null
done
unset PGPASSWORD

echo "==> FastAPI recommendation service on :$API_PORT, Node.js backend on :$NODE_PORT"
(cd examples/fastapi-service && exec python3 -m uvicorn app:app --host 127.0.0.1 --port "$API_PORT" --log-level warning) \
  >"$WORK/fastapi.log" 2>&1 &
PIDS+=($!)
PORT=$NODE_PORT node examples/nodejs-service/server.js >"$WORK/nodejs.log" 2>&1 &
PIDS+=($!)
wait_port "$API_PORT" fastapi
wait_port "$NODE_PORT" nodejs

export LOCKSTEP_DATA_DIR="$WORK/data"
export LOCKSTEP_VAR_FASTAPI_BASE_URL="http://127.0.0.1:$API_PORT"
export LOCKSTEP_VAR_NODEJS_BASE_URL="http://127.0.0.1:$NODE_PORT"
export LOCKSTEP_VAR_REPORTS_DIR="$WORK/reports"
export LOCKSTEP_CONN_NOBLESTRIDE_POSTGRES="postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/noblestride"
mkdir -p "$WORK/reports"

echo "==> lockstep standalone (embedded bus, SQLite state in $LOCKSTEP_DATA_DIR)"
"$BIN" standalone --no-scheduler >"$WORK/standalone.log" 2>&1 &
PIDS+=($!)

status=0
for dag in recommender_training_pipeline noblestride_integration_pipeline; do
  echo
  echo "==> lockstep trigger $dag --wait"
  "$BIN" trigger "$dag" --wait --timeout 120 || status=1
done

echo
echo "==> lockstep runs"
"$BIN" runs

echo
echo "==> what the FastAPI service received (POST /api/model/training-complete)"
curl -s "http://127.0.0.1:$API_PORT/api/received" | python3 -c '
import json, sys
got = json.load(sys.stdin)
for item in got["items"]:
    print(json.dumps({k: item[k] for k in ("kind", "idempotency_key", "payload") if k in item}, indent=2))'

echo
echo "==> integration report"
for report in "$WORK"/reports/noblestride_integration_report_*.json; do
  echo "$report"
  python3 -m json.tool "$report"
done
[ $status -eq 0 ] && echo && echo "demo: both pipelines succeeded" || { echo "demo: a pipeline failed; logs in $WORK (KEEP_DEMO=1 keeps them)"; tail -20 "$WORK/standalone.log"; }
exit $status
