"""JSON-lines files that commands append to and resume from (`data --out`, eval_results.jsonl)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO

_BLOCK = 1 << 16


def _last_line_start(f: BinaryIO, size: int) -> int:
    """Offset just after the last newline of the file (0 when it has none), read backwards by blocks."""
    end = size
    while end > 0:
        start = max(0, end - _BLOCK)
        f.seek(start)
        i = f.read(end - start).rfind(b"\n")
        if i >= 0:
            return start + i + 1
        end = start
    return 0


def _is_object(text: bytes) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:  # also a UnicodeDecodeError: a write cut inside a multi-byte character
        return False


def repair_torn_line(path: str | Path) -> str | None:
    """Make a JSON-lines file safe to append to after a kill: a last line without its newline is ended with
    one when it holds a whole JSON object, and cut away otherwise (appending would glue the next record onto
    it). Returns a one-line warning saying what was done, or None when the file needed nothing."""
    try:
        f = open(path, "r+b")
    except (FileNotFoundError, IsADirectoryError):
        return None  # nothing to repair; the writer reports a folder itself
    with f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return None
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return None
        start = _last_line_start(f, size)
        f.seek(start)
        if _is_object(f.read()):
            f.write(b"\n")
            return f"{path}: its last line had no newline (an interrupted write); ended it with one"
        f.truncate(start)
        return (f"{path}: dropped its torn last line ({size - start} bytes of an interrupted write) "
                "before appending")


def read_jsonl(path: str | Path) -> list[Any]:
    """Every record of a JSON-lines file, in order (none when it does not exist); a line that does not parse, a
    killed writer's torn last line, is skipped."""
    out = []
    if Path(path).exists():
        for line in Path(path).read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out
