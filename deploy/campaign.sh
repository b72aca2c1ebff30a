#!/bin/sh
# The two command lines of a sharded campaign. Every recipe here runs them, and so does the
# shard test (Tests/TidemarkCLITests/ShardCLITests.swift), exactly as written:
#   campaign.sh shard   run this task's shard; K-1 comes from JOB_COMPLETION_INDEX (Kubernetes
#                       Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm array, --array=0-(N-1)), 0-based
#   campaign.sh merge   wait until every shard under $OUT finished, then merge them into $OUT/merged
# Environment: SHARDS (N), OUT (a directory every task sees), SCENARIOS (default Scenarios/*.yaml),
# SEEDS (per scenario; default each scenario's own), TIDEMARK (default tidemark).
set -eu
: "${SHARDS:?set SHARDS to the number of shards}" "${OUT:?set OUT to a directory every task can write}"
TIDEMARK=${TIDEMARK:-tidemark}
SCENARIOS=${SCENARIOS:-Scenarios/*.yaml}

case "${1:-}" in
shard)
    index=${JOB_COMPLETION_INDEX:-${SLURM_ARRAY_TASK_ID:?neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set}}
    resume=""   # a retried task continues where the killed attempt stopped
    if [ -f "$OUT/shard-$index/campaign-state.json" ]; then resume=--resume; fi
    # Exit 1 is "this shard alone did not meet an expectation": the merged report decides.
    "$TIDEMARK" run $SCENARIOS ${SEEDS:+--seeds "$SEEDS"} --shard-from-env "$SHARDS" --out "$OUT/shard-$index" $resume || [ $? -eq 1 ]
    ;;
merge)
    waited=0
    until [ "$(grep -l '"finished":true' "$OUT"/shard-*/campaign-state.json 2>/dev/null | wc -l)" -ge "$SHARDS" ]; do
        [ "$waited" -lt "${WAIT_SECONDS:-86400}" ] || { echo "error: shards under $OUT did not all finish" >&2; exit 2; }
        sleep 30; waited=$((waited + 30))
    done
    exec "$TIDEMARK" merge "$OUT"/shard-* --out "$OUT/merged"
    ;;
*)
    echo "usage: campaign.sh shard|merge (see the comment at the top)" >&2
    exit 2
    ;;
esac
