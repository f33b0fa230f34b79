#!/usr/bin/env bash
# Benchmark idp on PostgreSQL (see bench.py); recreates the $BENCH_DB (idp_bench) database.
# Runs the floors (bench/floors/) and idp under granian, gunicorn sync and gunicorn gthread.
# Extra arguments go to bench.py, e.g. bench/run.sh --alg ES256 --only userinfo --servers granian
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
PG=${BENCH_PG:-postgres@127.0.0.1:5432}
DB=${BENCH_DB:-idp_bench}
psql "postgresql://$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
psql "postgresql://$PG/postgres" -qc "CREATE DATABASE $DB"
.venv/bin/python bench/bench.py --db "postgresql+psycopg://$PG/$DB" "$@"
