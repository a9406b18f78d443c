#!/bin/bash
# A/B of full-dataflow exports: a git ref against the working tree, interleaved on the same
# databases, so a change's effect is measured against a baseline of the same run (the machine
# is shared: absolute figures drift by 20% within an hour).
#
#   bench/export_ab.sh REF [REPEATS]     # e.g. bench/export_ab.sh HEAD~3 5
#
# Needs the 1M-observation databases bench/query.py builds (SQLite in /tmp/dsm-query-bench,
# PostgreSQL dsm_query_1000000) and the venv in .venv. For each repeat, each version and each
# database: starts `dsm serve` on a loopback port, exports DSM:DF_FOREIGN_ENTRY(1.0) once as
# SDMX-CSV 1.0 and once as SDMX-ML 2.1 structure-specific (curl to /dev/null, after a small
# warm-up query), stops the server. Prints every time and the medians.
set -euo pipefail
REF=${1:?usage: bench/export_ab.sh REF [REPEATS]}
REPEATS=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/_ab.sh"
ab_setup "$REF"
measure() {  # VERSION DB
  for fmt in csv ml; do
    curl -s -o /dev/null -H "Accept: ${ACCEPT[$fmt]}" "$FLOW/all?startPeriod=2019"
    t=$(curl -s -o /dev/null -w "%{time_total}" -H "Accept: ${ACCEPT[$fmt]}" \
      -H "Accept-Encoding: identity" "$FLOW/all")
    echo "$1 $2 $fmt $t" | tee -a "$OUT"
  done
}
ab_rounds "$REPEATS" measure
"$PY" - "$OUT" "$REF" <<'PY'
import collections, statistics, sys
times = collections.defaultdict(list)
for line in open(sys.argv[1]):
    version, db, fmt, t = line.split()
    times[db, fmt, version].append(float(t))
print(f"\nmedians of {len(times['sqlite', 'csv', 'base'])} (1,000,000 observations); base = {sys.argv[2]}")
print("| database | format | base s | base obs/s | working tree s | working tree obs/s | speed-up |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for db in ("sqlite", "postgresql"):
    for fmt, name in (("csv", "SDMX-CSV 1.0"), ("ml", "SDMX-ML 2.1 SS")):
        b, w = statistics.median(times[db, fmt, "base"]), statistics.median(times[db, fmt, "work"])
        print(f"| {db} | {name} | {b:.2f} | {1e6 / b:,.0f} | {w:.2f} | {1e6 / w:,.0f} | {b / w:.2f}x |")
PY
