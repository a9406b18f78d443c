# What the A/B scripts share (sourced): a worktree of REF beside the working tree, the 1M-observation
# databases bench/query.py builds, and `dsm serve` started from either tree on one loopback port.
#   ab_setup REF            -> $BASE (a temporary directory), $BASE/tree (REF), $OUT (times file)
#   ab_serve base|work DB [ENV=VALUE...]   starts the server and waits for /health
#   ab_stop                 stops it
#   ab_rounds REPEATS MEASURE [ENV=VALUE...]   each round, for REF then the working tree and for
#                           each database: ab_serve (with ENV), `MEASURE VERSION DB`, ab_stop
PY=$ROOT/.venv/bin/python
PORT=8913
declare -A URLS=(
  [sqlite]=sqlite:////tmp/dsm-query-bench/sqlite-1000000.db
  [postgresql]=postgresql+psycopg://postgres@127.0.0.1:5432/dsm_query_1000000
)
declare -A ACCEPT=(
  [csv]="application/vnd.sdmx.data+csv;version=1.0.0"
  [ml]="application/vnd.sdmx.structurespecificdata+xml;version=2.1"
  [generic]="*/*"
)
FLOW="http://127.0.0.1:$PORT/rest/data/DSM,DF_FOREIGN_ENTRY,1.0"

ab_setup() {
  BASE=$(mktemp -d /tmp/dsm-ab-XXXX)
  OUT=$BASE/times.txt
  git -C "$ROOT" worktree add -q --detach "$BASE/tree" "$1"
  trap 'pkill -f "port $PORT" || true; git -C "$ROOT" worktree remove --force "$BASE/tree"' EXIT
}

ab_serve() {
  local dir=$ROOT
  [ "$1" = base ] && dir=$BASE/tree
  (cd "$dir" && env PYTHONPATH="$dir" DSM_DATABASE_URL="${URLS[$2]}" DSM_SECRET_KEY=ab \
    DSM_RATE_LIMIT=0 DSM_RATE_LIMIT_ANONYMOUS=0 "${@:3}" \
    "$PY" -c 'import sys; sys.argv[0] = "dsm"; from app.cli import app; app()' \
    serve --host 127.0.0.1 --port $PORT >"$BASE/serve.log" 2>&1) &
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && return; sleep 0.2; done
  echo "the server did not start: $BASE/serve.log" >&2
  exit 1
}

ab_stop() {
  pkill -f "port $PORT" || true
  sleep 1
}

ab_rounds() {
  local rep version db
  for rep in $(seq "$1"); do
    for version in base work; do
      for db in sqlite postgresql; do
        ab_serve "$version" "$db" "${@:3}"
        "$2" "$version" "$db"
        ab_stop
      done
    done
  done
}
