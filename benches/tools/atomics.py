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


def costs_by_address(path, binary):
    """How often each instruction of `binary` ran, and the function it belongs to."""
    runs = collections.Counter()
    function_of = {}
    allocations = 0
    files, functions = {}, {}
    object_name = function = callee = None
    address = 0
    after_calls = False
    with open(path) as out:
        for line in out:
            line = line.rstrip("\n")
            if not line:
                continue
            named = re.match(r"(c?)(ob|fn)=\((\d+)\)\s*(.*)", line)
            if named:
                callee_side, kind, number, name = named.groups()
                table = files if kind == "ob" else functions
                if name:
                    table[number] = name
                if kind == "ob" and not callee_side:
                    object_name = table.get(number)
                elif kind == "fn":
                    if callee_side:
                        callee = table.get(number)
                    else:
                        function = table.get(number)
                continue
            calls = re.match(r"calls=(\d+)", line)
            if calls:
                if callee == "malloc":
                    allocations += int(calls.group(1))
                after_calls = True
                continue
            if not (line[0] in "+-*" or line.startswith("0x") or line[0].isdigit()):
                continue
            fields = line.split()
            position = fields[0]
            if position.startswith("0x"):
                address = int(position, 16)
            elif position[0] in "+-":
                offset = position[1:]
                offset = int(offset, 16) if offset.startswith("0x") else int(offset)
                address += offset if position[0] == "+" else -offset
            # The line after `calls=` is the call's inclusive cost, not this instruction's runs.
            if after_calls:
                after_calls = False
                continue
            if len(fields) > 1 and object_name and binary.split("/")[-1] in object_name:
                runs[address] += int(fields[1])
                function_of[address] = function
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
            print(f"  {count / requests:6.2f}  {function[:140]}")
    print(f"malloc calls per request: {allocations / requests:.2f}")


if __name__ == "__main__":
    main()
