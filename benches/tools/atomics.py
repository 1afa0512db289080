#!/usr/bin/env python3
"""Atomic read-modify-writes and heap allocations one request of a `benches/paths.rs` path runs.

An uncontended atomic read-modify-write (an `Arc` clone or drop, a `Mutex` lock or unlock) costs
tens of cycles, far more than the one instruction callgrind counts for it, and an allocation
costs a `malloc` and a `free`: two paths of equal instruction counts can differ in time by these.

    PATHS_ONLY=<path> PATHS_N=1024 valgrind --tool=callgrind --dump-instr=yes --dump-line=no \
        --callgrind-out-file=/tmp/cg.<path> --collect-atstart=no \
        --toggle-collect='*paths*measured*' target/release/deps/paths-<hash> --bench
    python3 benches/tools/atomics.py /tmp/cg.<path> 1024 target/release/deps/paths-<hash>

Counts the executed instructions of the bench binary (not of libc) that carry a `lock` prefix or
are an `xchg` with memory (implicitly locked), by function, and the calls into `malloc` (from
Rust's allocator shim; the harness's own allocations included, the same on every path).
"""

import collections
import re
import subprocess
import sys

import callgrind


def costs_by_address(path, binary):
    """How often each instruction of `binary` ran, the function it belongs to, and the calls
    into `malloc`."""
    runs = collections.Counter()
    function_of = {}
    allocations = 0
    for record in callgrind.records(path):
        if isinstance(record, callgrind.Call):
            if record.callee == "malloc":
                allocations += record.calls
        elif record.object_name and binary.split("/")[-1] in record.object_name:
            runs[record.address] += record.count
            function_of[record.address] = record.function
    return runs, function_of, allocations


def atomic_addresses(binary):
    """The addresses of `binary`'s locked instructions."""
    listing = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", binary], capture_output=True, text=True
    ).stdout
    found = set()
    for line in listing.splitlines():
        instruction = re.match(r"\s*([0-9a-f]+):\s*(.*)", line)
        if not instruction:
            continue
        text = instruction.group(2)
        if text.startswith("lock ") or (text.startswith("xchg") and "(" in text):
            found.add(int(instruction.group(1), 16))
    return found


def main():
    path, requests, binary = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    runs, function_of, allocations = costs_by_address(path, binary)
    atomic = atomic_addresses(binary)
    by_function = collections.Counter()
    for address, count in runs.items():
        if address in atomic:
            by_function[function_of[address]] += count
    total = sum(by_function.values()) / requests
    print(f"atomic read-modify-writes per request: {total:.2f}")
    for function, count in by_function.most_common(20):
        if count / requests >= 0.05:
            print(f"  {count / requests:6.2f}  {(function or '?')[:140]}")
    print(f"malloc calls per request: {allocations / requests:.2f}")


if __name__ == "__main__":
    main()
