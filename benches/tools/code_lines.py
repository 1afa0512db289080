#!/usr/bin/env python3
"""Distinct 64-byte lines of machine code one request of a `benches/paths.rs` path executes.

A request that runs more distinct code lines refills more of the instruction cache after the
kernel's network stack has run, which the load run pays and an in-process loop does not.

    PATHS_ONLY=<path> PATHS_N=1024 valgrind --tool=callgrind --dump-instr=yes --dump-line=no \
        --callgrind-out-file=/tmp/cg.<path> --collect-atstart=no \
        --toggle-collect='*paths*measured*' target/release/deps/paths-<hash> --bench
    python3 benches/tools/code_lines.py /tmp/cg.<path> 1024 [/tmp/cg.<other path>]

Counts a line when one of its instructions runs at least once per two requests on average; with a second file,
prints the functions whose lines differ most between the two.
"""

import collections
import re
import sys

import callgrind


def lines_by_function(path, requests):
    """The hot code lines of a callgrind output, and the function each belongs to."""
    cost = collections.Counter()
    function_of = {}
    for record in callgrind.records(path):
        if isinstance(record, callgrind.Cost):
            cost[record.address] += record.count
            function_of[record.address >> 6] = record.function
    # An instruction's count is how often it ran: a line runs as often as its busiest one.
    runs = collections.Counter()
    for address, count in cost.items():
        runs[address >> 6] = max(runs[address >> 6], count)
    hot = [line for line, count in runs.items() if count >= requests * 0.5]
    by_function = collections.Counter()
    for line in hot:
        name = re.sub(r"::h[0-9a-f]{16}", "", function_of.get(line) or "?")
        by_function[name] += 1
    return len(hot), by_function


def main():
    path, requests = sys.argv[1], int(sys.argv[2])
    count, ours = lines_by_function(path, requests)
    print(f"{path}: {count} code lines ({count * 64 // 1024} KiB) per request")
    if len(sys.argv) > 3:
        other_count, theirs = lines_by_function(sys.argv[3], requests)
        print(f"{sys.argv[3]}: {other_count} code lines ({other_count * 64 // 1024} KiB) per request")
        names = sorted(set(ours) | set(theirs), key=lambda n: theirs[n] - ours[n])
        for name in names[:40]:
            print(f"{ours[name] - theirs[name]:+5d} {ours[name]:5d} {theirs[name]:5d}  {name[:120]}")


if __name__ == "__main__":
    main()
