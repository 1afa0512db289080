"""Reads a callgrind output written with `--dump-instr=yes --dump-line=no`: the one parser of
the scripts beside it."""

import re
from typing import Iterator, NamedTuple, Optional


class Cost(NamedTuple):
    """How often the instruction at `address` ran, in `function` of `object_name`."""

    object_name: Optional[str]
    function: Optional[str]
    address: int
    count: int


class Call(NamedTuple):
    """`calls` calls from `caller` into `callee`, made by the instruction at `address`."""

    caller: Optional[str]
    callee: Optional[str]
    calls: int
    address: int


def records(path) -> Iterator["Cost | Call"]:
    """Every instruction's own cost and every call of the file, in order.

    Names are compressed (`fn=(12) name` once, then `fn=(12)`); positions are absolute (`0x…`)
    or relative to the previous one (`+n`, `-n`, `*`); the cost line after `calls=` is the
    call's inclusive cost, not the calling instruction's own, so it is not yielded as one.
    """
    objects, functions = {}, {}
    object_name = function = callee = None
    address = 0
    after_calls = False
    pending_calls = 0
    with open(path) as out:
        for line in out:
            line = line.rstrip("\n")
            if not line:
                continue
            named = re.match(r"(c?)(ob|fn)=\((\d+)\)\s*(.*)", line)
            if named:
                callee_side, kind, number, name = named.groups()
                table = objects if kind == "ob" else functions
                if name:
                    table[number] = name
                resolved = table.get(number, number)
                if kind == "ob" and not callee_side:
                    object_name = resolved
                elif kind == "fn":
                    if callee_side:
                        callee = resolved
                    else:
                        function = resolved
                continue
            calls = re.match(r"calls=(\d+)", line)
            if calls:
                # Yielded with the next line, which holds the calling instruction's position.
                pending_calls = int(calls.group(1))
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
            if after_calls:
                after_calls = False
                yield Call(function, callee, pending_calls, address)
                continue
            if len(fields) > 1:
                yield Cost(object_name, function, address, int(fields[1]))
