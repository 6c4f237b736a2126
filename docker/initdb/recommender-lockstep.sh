#!/bin/sh
# Runs once, when the recommender-db volume is first initialised (/docker-entrypoint-initdb.d):
# a `lockstep` role and database for Lockstep's run state, beside recommender_db on the same server.
# The password comes from STATE_DB_PASSWORD (docker/.env), never from this file.
set -e
: "${STATE_DB_PASSWORD:?set STATE_DB_PASSWORD (see docker/.env.example)}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=state_password="$STATE_DB_PASSWORD" <<'SQL'
CREATE ROLE lockstep LOGIN PASSWORD :'state_password';
CREATE DATABASE lockstep OWNER lockstep;
SQL
