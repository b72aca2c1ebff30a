"""Checker: the database opens and every acknowledged key ("ack <key>" on stdin) reads back.
Usage: /usr/bin/python3 check.py DIR"""
import sys

import plyvel

directory = sys.argv[1]
acked = [line.split()[1] for line in sys.stdin if line.startswith("ack ")]
try:
    # As the workload opens it: a database never acknowledged may be created afresh.
    db = plyvel.DB(directory, create_if_missing=True)
except Exception as error:  # noqa: BLE001 - any refusal to open is the finding
    print("open failed:", error)
    sys.exit(1)
missing = [key for key in acked if db.get(key.encode()) is None]
db.close()
if missing:
    print("acknowledged keys missing:", " ".join(missing))
    sys.exit(1)
