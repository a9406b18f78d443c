#!/bin/bash
# A/B of data queries answered without the response cache: a git ref against the working tree,
# interleaved on the same databases, so a change's effect is measured against a baseline of the
# same run (the machine is shared: absolute figures drift by 20% within an hour).
#
#   bench/query_ab.sh REF [REPEATS] [SECONDS]     # e.g. bench/query_ab.sh HEAD~2 3 5
#
# Needs the 1M-observation databases bench/query.py builds (SQLite in /tmp/dsm-query-bench,
# PostgreSQL dsm_query_1000000), the venv in .venv and wrk. For each repeat, each version and each
# database: starts `dsm serve` with the response cache off (DSM_RESPONSE_CACHE_MB=0,
# DSM_RESPONSE_CACHE_DISK_MB=0) and measures with wrk (-t1 -c1, SECONDS each) requests per second
# of one series (20 observations), a partial key (1,440) and a wildcard key (7,200 observations) of
# DSM:DF_FOREIGN_ENTRY(1.0), in SDMX-CSV 1.0, SDMX-ML 2.1 structure-specific and `*/*` (SDMX-ML
# 2.1 generic: what sdmx1 gets); then stops the server. Prints every figure and the medians.
set -euo pipefail
REF=${1:?usage: bench/query_ab.sh REF [REPEATS] [SECONDS]}
REPEATS=${2:-3}
SECONDS_EACH=${3:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/_ab.sh"
ab_setup "$REF"
declare -A KEYS=([single]=A.ARM.ABW.ABW.F.BUSINESS.BRD [partial]=A.ARM.ABW.ABW.F.. [wildcard]=...ABW...)
measure() {  # VERSION DB
  for query in single partial wildcard; do
    for fmt in csv ml generic; do
      url="$FLOW/${KEYS[$query]}"
      curl -s -o /dev/null -H "Accept: ${ACCEPT[$fmt]}" "$url"
      rate=$(wrk -t1 -c1 -d"${SECONDS_EACH}s" -H "Accept: ${ACCEPT[$fmt]}" "$url" |
        awk '/^Requests\/sec/ {print $2}')
      echo "$1 $2 $query $fmt $rate" | tee -a "$OUT"
    done
  done
}
ab_rounds "$REPEATS" measure DSM_RESPONSE_CACHE_MB=0 DSM_RESPONSE_CACHE_DISK_MB=0
"$PY" - "$OUT" "$REF" <<'PY'
import collections, statistics, sys
rates = collections.defaultdict(list)
for line in open(sys.argv[1]):
    version, db, query, fmt, rate = line.split()
    rates[db, query, fmt, version].append(float(rate))
n = len(rates["sqlite", "single", "csv", "base"])
print(f"\nmedians of {n} (requests/s, wrk -t1 -c1, response cache off); base = {sys.argv[2]}")
print("| database | query | format | base req/s | working tree req/s | speed-up |")
print("| --- | --- | --- | ---: | ---: | ---: |")
names = {"csv": "SDMX-CSV 1.0", "ml": "SDMX-ML 2.1 SS", "generic": "*/* (SDMX-ML 2.1 generic)"}
for db in ("sqlite", "postgresql"):
    for query in ("single", "partial", "wildcard"):
        for fmt in ("csv", "ml", "generic"):
            b = statistics.median(rates[db, query, fmt, "base"])
            w = statistics.median(rates[db, query, fmt, "work"])
            print(f"| {db} | {query} | {names[fmt]} | {b:,.1f} | {w:,.1f} | {w / b:.2f}x |")
PY
