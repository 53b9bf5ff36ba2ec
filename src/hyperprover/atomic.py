"""Files replaced whole (checkpoints, params, counters, summaries): written beside their final path and renamed
over it, so that a reader, or a kill at any moment, finds the old file or the new one and never half of one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def replace_file(path: str | Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp)` to fill a temporary file in `path`'s folder, then rename it to `path`. The temporary name
    holds the process id (two processes writing the same file do not share one) and starts with a dot (globs
    over the folder skip it); it is removed when `write` or the rename fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """`Path.write_text`, atomically."""
    replace_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
