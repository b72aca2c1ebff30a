#!/bin/sh
# Checker: the store opens (recovery succeeds) and every acknowledged id ("ack <id>" on stdin)
# is in its export. Usage: check.sh DIR   (TIDEMARK: the tidemark binary)
tidemark=${TIDEMARK:-tidemark}
[ -d "$1/store" ] || { grep -q '^ack ' && { echo "store missing but records were acknowledged"; exit 1; }; exit 0; }
export=$("$tidemark" db "$1/store" export 2>&1) || { echo "export failed: $export"; exit 1; }
status=0
while read -r word id; do
  [ "$word" = ack ] || continue
  printf '%s\n' "$export" | grep -q "\"id\":\"$id\"" || { echo "acknowledged $id is missing"; status=1; }
done
exit $status
