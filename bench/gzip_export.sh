#!/bin/bash
# A full-dataflow export gzip'd (curl --compressed, as requests/httpx/sdmx1/pandas ask for it)
# at each zlib level given: computed, then again from the response cache's file.
#
#   bench/gzip_export.sh [LEVELS] [ROUNDS]     # e.g. bench/gzip_export.sh "1 9" 2
#
# Needs the 1M-observation SQLite database bench/query.py builds (/tmp/dsm-query-bench) and the
# venv in .venv. Each round and level starts `dsm serve` with DSM_GZIP_LEVEL on a loopback port.
set -euo pipefail
LEVELS=${1:-"1 9"}
ROUNDS=${2:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=8914
DB=sqlite:////tmp/dsm-query-bench/sqlite-1000000.db
URL=http://127.0.0.1:$PORT/rest/data/DSM,DF_FOREIGN_ENTRY,1.0
ACCEPT='Accept: application/vnd.sdmx.data+csv;version=1.0.0'
trap 'pkill -f "port $PORT" || true' EXIT
for round in $(seq "$ROUNDS"); do
  for level in $LEVELS; do
    DSM_DATABASE_URL=$DB DSM_SECRET_KEY=bench-secret-bench-secret-bench-secret \
      DSM_RATE_LIMIT=0 DSM_RATE_LIMIT_ANONYMOUS=0 DSM_GZIP_LEVEL=$level \
      "$ROOT/.venv/bin/dsm" serve --host 127.0.0.1 --port $PORT > /dev/null 2>&1 &
    for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health/ready" && break; sleep 0.2; done
    curl -s -o /dev/null -H "$ACCEPT" "$URL/A.ARM.ABW.ABW.F.BUSINESS.BRD"
    for how in computed "from the file"; do
      curl -s --compressed -o /dev/null -H "$ACCEPT" \
        -w "round $round level $level $how: %{size_download} bytes in %{time_total} s\n" "$URL/all"
    done
    pkill -f "port $PORT"; wait || true
  done
done
