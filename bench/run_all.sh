#!/usr/bin/env bash
# Every benchmark with its defaults; one JSON line per result on stdout, nothing is asserted.
# PostgreSQL: PITCHIN_TEST_DATABASE_URL when set (as .ci/run), else the local server.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then
    . .venv/bin/activate
fi
PG_URL="${PITCHIN_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"

python bench/intake_throughput.py --pg-url "$PG_URL"
python bench/claim_latency.py --pg-url "$PG_URL"
python bench/claim_latency.py --pg-url "$PG_URL" --db postgres
python bench/similarity.py --csv ../shared/data/banking77/test.csv
python bench/similarity_latency.py
python bench/saved_replies.py --csv ../shared/data/banking77/test.csv
python bench/briefing.py --csv ../shared/data/banking77/test.csv
python bench/message_vectors.py --pg-url "$PG_URL"
python bench/memory.py
