"""Workload: LevelDB through plyvel (Debian python3-plyvel): put keys with sync=True, print
"ack <key>" after each put returns. DIR is the database directory (it may be empty).
Usage: /usr/bin/python3 workload.py DIR [COUNT]"""
import sys

import plyvel

directory = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 2
db = plyvel.DB(directory, create_if_missing=True)
for i in range(1, count + 1):
    key = b"key-%d" % i
    db.put(key, b"value-%d-" % i + b"x" * 200, sync=True)
    print("ack", key.decode(), flush=True)
db.close()
