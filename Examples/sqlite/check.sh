#!/bin/sh
# Checker: PRAGMA integrity_check says ok and every acknowledged row ("ack <n>") is there.
# Usage: check.sh DIR
db="$1/db"
acked=$(awk '$1 == "ack" { print $2 }')
if [ ! -f "$db" ]; then
  [ -z "$acked" ] && exit 0
  echo "database missing, rows acknowledged: $acked"; exit 1
fi
result=$(sqlite3 "$db" "PRAGMA integrity_check;" 2>&1) || { echo "open failed: $result"; exit 1; }
[ "$result" = ok ] || { echo "integrity_check: $result"; exit 1; }
[ -z "$acked" ] && exit 0
for n in $acked; do
  found=$(sqlite3 "$db" "SELECT count(*) FROM t WHERE id = $n;" 2>&1)
  [ "$found" = 1 ] || { echo "acknowledged row $n missing ($found)"; exit 1; }
done
