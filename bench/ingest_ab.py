#!/usr/bin/env python3
"""ingest_ab.py: compare bench_ingest builds on a noisy machine by taking turns.

Runs each variant in a fresh process, round after round (so a slow stretch of the machine hits
every variant alike), and prints the medians of every run's wall time and CPU split, and of each
process's first run alone (a fresh process, as a user's run is, also pays for memory the host has
not backed yet).

  bench/ingest_ab.py --rounds 5 before=/tmp/bench_ingest.old after=build/ingest/bench/bench_ingest
  bench/ingest_ab.py --corpus /var/tmp/ingest/corpus10m.txt a=BIN b=BIN c=BIN

Each process runs `--runs 3 --no-sort` on the corpus (which must exist: make it once with
`bench_ingest --file PATH --keep --runs 1 --no-sort`).
"""
import argparse
import re
import statistics
import subprocess
import sys

RUN = re.compile(r"run \d+: ([\d.]+) s wall, ([\d.]+) s CPU = ([\d.]+) dedupe/batching thread "
                 r"\+ (-?[\d.]+) read thread")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("variants", nargs="+", metavar="LABEL=BINARY")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--corpus", default="/var/tmp/ingest/corpus10m.txt")
    a = p.parse_args()
    variants = []
    for v in a.variants:
        label, sep, binary = v.partition("=")
        if not sep or not binary:
            p.error(f"{v}: expected LABEL=BINARY")
        variants.append((label, binary))
    runs = {label: [] for label, _ in variants}
    first = {label: [] for label, _ in variants}  # each process's first run: what a user's run pays
    for _ in range(a.rounds):
        for label, binary in variants:
            out = subprocess.run([binary, "--file", a.corpus, "--reuse", "--runs", "3", "--no-sort"],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"{label}: {binary} failed: {out.stderr.strip()}")
            these = [tuple(map(float, m.groups())) for m in RUN.finditer(out.stdout)]
            runs[label] += these
            first[label].append(these[0][0])
    for label, rs in runs.items():
        med = [statistics.median(r[i] for r in rs) for i in range(4)]
        print(f"{label:12s} n={len(rs):2d}  wall {med[0]:.3f}  cpu {med[1]:.3f}  "
              f"consumer {med[2]:.3f}  reader {med[3]:.3f}  (min wall {min(r[0] for r in rs):.3f}; "
              f"first run of a process: median {statistics.median(first[label]):.3f})")


if __name__ == "__main__":
    main()
