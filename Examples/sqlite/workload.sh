#!/bin/sh
# Workload: SQLite's own sqlite3 shell, one process per transaction, "ack <n>" after each commit.
# Usage: workload.sh DIR MODE [COUNT]   MODE: delete or wal (synchronous=FULL either way; WAL
# with locking_mode=EXCLUSIVE, as the in-process SQLite subject runs it: no -shm mapping).
set -e
dir=$1
mode=$2
count=${3:-2}
case "$mode" in
  delete) pragmas="PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;" ;;
  wal) pragmas="PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;" ;;
  *) echo "mode must be delete or wal" >&2; exit 2 ;;
esac
sqlite3 "$dir/db" "$pragmas CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);" > /dev/null
i=1
while [ "$i" -le "$count" ]; do
  sqlite3 "$dir/db" "$pragmas INSERT INTO t VALUES($i, printf('%.500c', 'x'));" > /dev/null
  echo "ack $i"
  i=$((i + 1))
done
