#!/usr/bin/env bash
# Benchmark idp on PostgreSQL (see bench.py); recreates the idp_bench database.
# Extra arguments go to bench.py, e.g. bench/run.sh --alg ES256 --only userinfo
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
PG=${BENCH_PG:-postgres@127.0.0.1:5432}
psql "postgresql://$PG/postgres" -qc "DROP DATABASE IF EXISTS idp_bench WITH (FORCE)"
psql "postgresql://$PG/postgres" -qc "CREATE DATABASE idp_bench"
.venv/bin/python bench/bench.py --db "postgresql+psycopg://$PG/idp_bench" "$@"
