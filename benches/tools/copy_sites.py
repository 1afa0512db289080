#!/usr/bin/env python3
"""The calls into `memcpy` one request of a `benches/paths.rs` path makes, by call site, with
the size each copies when the compiler wrote it as an immediate (moves of a request's head or of
a future between frames, which cost time that an instruction count hides: `rep movsb` is one
instruction to callgrind).

    PATHS_ONLY=<path> PATHS_N=1024 valgrind --tool=callgrind --dump-instr=yes --dump-line=no \
        --callgrind-out-file=/tmp/cg.<path> --collect-atstart=no \
        --toggle-collect='*paths*measured*' target/release/deps/paths-<hash> --bench
    python3 benches/tools/copy_sites.py /tmp/cg.<path> 1024 target/release/deps/paths-<hash>

Prints one line per call site made at least once per two requests: calls per request, the site,
the size (`?` when it is computed at run time) and the calling function; then the total.
"""

import collections
import re
import subprocess
import sys

import callgrind


def size_before(binary, address):
    """The length the call at `address` copies, when an immediate put it in `%edx` (else `None`)."""
    listing = subprocess.run(
        [
            "objdump",
            "-d",
            "--no-show-raw-insn",
            f"--start-address={address - 48}",
            f"--stop-address={address + 1}",
            binary,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # The last instruction before the call that writes the length register decides: an
    # immediate is the size; anything else (a computed length) is unknown. An earlier immediate
    # in the window may belong to another call.
    instructions = [line.split("\t", 1)[1] for line in listing.splitlines() if "\t" in line]
    for instruction in reversed(instructions[:-1]):
        if re.search(r",%(edx|rdx|dx|dl)$", instruction.strip()):
            size = re.fullmatch(r"mov\s+\$(0x[0-9a-f]+),%edx", instruction.strip())
            return int(size.group(1), 16) if size else None
    return None


def main():
    path, requests, binary = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    calls = collections.Counter()
    caller = {}
    for record in callgrind.records(path):
        if isinstance(record, callgrind.Call) and record.callee and "memcpy" in record.callee:
            calls[record.address] += record.calls
            caller[record.address] = record.caller
    total = 0.0
    for address, count in calls.most_common():
        per_request = count / requests
        total += per_request
        if per_request < 0.5:
            continue
        size = size_before(binary, address)
        shown = "?" if size is None else str(size)
        print(f"{per_request:6.2f}  {address:#x}  {shown:>5}  {caller[address]}")
    print(f"memcpy calls per request: {total:.2f}")


if __name__ == "__main__":
    main()
