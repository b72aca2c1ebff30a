#!/bin/sh
# Workload: import records into a Tidemark store with --ack ("ack <id>" once each is durable).
# Usage: workload.sh DIR [COUNT]   (TIDEMARK: the tidemark binary, default: tidemark on PATH)
set -e
dir=$1
count=${2:-3}
tidemark=${TIDEMARK:-tidemark}
records=$(mktemp)
trap 'rm -f "$records"' EXIT
i=1
while [ "$i" -le "$count" ]; do
  printf '{"id":"doc-%d","content":"record %d","embedding":[0.%d,0.5]}\n' "$i" "$i" "$i" >> "$records"
  i=$((i + 1))
done
# --sync immediate: each record is its own commit and sync, so each ack follows its own fsync.
"$tidemark" db "$dir/store" import "$records" --ack --sync immediate $TIDEMARK_FLAGS
