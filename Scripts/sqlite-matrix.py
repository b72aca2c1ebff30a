#!/usr/bin/env python3
"""SQLite under every journal mode x synchronous setting x persistence model.

For each of the 16 combinations this writes a scenario (the SQLite subject, power losses only),
runs `tidemark explore --model all` on it and collects the vulnerabilities the explorer reports,
grouped by model. It prints a Markdown table (what `make sqlite-matrix` shows and the README quotes)
and writes the raw findings to OUT/findings.json (with --json, prints them instead of the table).

    Scripts/sqlite-matrix.py --tidemark .build/release/tidemark --seeds 20 --out Reports/sqlite-matrix
"""
import argparse
import json
import os
import subprocess
import sys

JOURNALS = ["delete", "truncate", "persist", "wal"]
SYNCHRONOUS = ["off", "normal", "full", "extra"]
MODELS = ["weakest", "ext4-ordered", "no-powersafe-overwrite"]

SCENARIO = """name: sqlite-{journal}-{sync}
description: >
  SQLite journal_mode={journal}, synchronous={sync}: every crash state at every persistence point
  (written by Scripts/sqlite-matrix.py).
subject:
  kind: sqlite
  journal: {journal}
  synchronous: {sync}
seeds: {seeds}
workload:
  operationsPerCycle: 10..30
  cycles: 1..2
faults:
  powerLoss: 1
expect: pass
"""


def explore(tidemark, path, seeds, budget, jobs, out):
    command = [tidemark, "explore", path, "--seeds", str(seeds), "--model", "all",
               "--budget", str(budget), "--jobs", str(jobs), "--json", "--out", out]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode not in (0, 1):
        sys.exit(f"error: {' '.join(command)} exited {result.returncode}:\n{result.stderr}")
    return json.loads(result.stdout)


def findings(report):
    """model -> sorted list of 'invariant: cause' for every vulnerability that shows under that
    model (the report's `brokenUnder`), and the crash states checked over all models."""
    by_model = {model: set() for model in MODELS}
    states = 0
    for scenario in report["scenarios"]:
        states += scenario.get("exploration", {}).get("statesChecked", 0)
        for vulnerability in scenario.get("vulnerabilities", []):
            for model in vulnerability.get("brokenUnder", []):
                by_model[model].add(f"{vulnerability['invariant']}: {vulnerability['cause']}")
    return {model: sorted(causes) for model, causes in by_model.items()}, states


def cell(causes):
    if not causes:
        return "none"
    invariants = sorted({cause.split(":", 1)[0] for cause in causes})
    return f"{len(causes)} ({', '.join(invariants)})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tidemark", default=".build/release/tidemark")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="Reports/sqlite-matrix")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    arguments = parser.parse_args()

    os.makedirs(arguments.out, exist_ok=True)
    results = {}
    for journal in JOURNALS:
        for sync in SYNCHRONOUS:
            name = f"{journal}-{sync}"
            path = os.path.join(arguments.out, f"sqlite-{name}.yaml")
            with open(path, "w") as scenario:
                scenario.write(SCENARIO.format(journal=journal, sync=sync, seeds=arguments.seeds))
            print(f"exploring journal_mode={journal} synchronous={sync} ...", file=sys.stderr)
            report = explore(arguments.tidemark, path, arguments.seeds, arguments.budget,
                             arguments.jobs, os.path.join(arguments.out, name))
            results[name] = findings(report)

    raw = json.dumps({name: {"vulnerabilities": causes, "statesChecked": states}
                      for name, (causes, states) in results.items()}, indent=2, sort_keys=True)
    with open(os.path.join(arguments.out, "findings.json"), "w") as file:
        file.write(raw + "\n")
    if arguments.json:
        print(raw)
        return
    print(f"| journal_mode | synchronous | {' | '.join(MODELS)} |")
    print("|---|---|" + "---|" * len(MODELS))
    for name, (causes, _) in results.items():
        journal, sync = name.split("-", 1)
        print(f"| {journal} | {sync} | " + " | ".join(cell(causes[model]) for model in MODELS) + " |")
    print()
    for name, (causes, _) in results.items():
        for model in MODELS:
            for cause in causes[model]:
                print(f"- {name} ({model}): {cause}")


if __name__ == "__main__":
    main()
