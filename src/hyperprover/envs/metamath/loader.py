"""Load a database once per process, and from a pickle cache when its files have not changed.

Reading set.mm takes about 5 s and unpickling it about 1 s (measured on the 2-core machine), so
environments, data extraction and tests load it through here. The cache lives in
~/.cache/hyperprover/metamath (or $HYPERPROVER_CACHE/metamath), keyed by the path, size and mtime of
every file read; `hyperprover check` always reads the text itself.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile

from hyperprover.envs.metamath.database import Database, MMParseError, no_gc, read_database

CACHE_VERSION = 1  # bump when the records of database.py change
_LOADED: dict[str, tuple[tuple[tuple[str, int, int], ...], Database]] = {}


def _stamp(files: tuple[str, ...]) -> tuple[tuple[str, int, int], ...] | None:
    try:
        return tuple((f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files)
    except OSError:
        return None


def cache_dir() -> str:
    base = os.environ.get("HYPERPROVER_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hyperprover")
    return os.path.join(base, "metamath")


def _cache_file(path: str) -> str:
    name = hashlib.sha1(f"{CACHE_VERSION}:{os.path.realpath(path)}".encode()).hexdigest()[:16]
    return os.path.join(cache_dir(), f"{os.path.basename(path)}.{name}.pkl")


def load_database(path: str, cache: bool = True) -> Database:
    """The parsed database at `path` (shared within the process; from the disk cache if `cache`)."""
    real = os.path.realpath(path)
    if not os.path.exists(real):
        raise MMParseError(f"database {path} not found (Debian: apt-get install metamath-databases)")
    hit = _LOADED.get(real)
    if hit is not None and _stamp(hit[1].files) == hit[0]:
        return hit[1]
    db = _from_cache(path) if cache else None
    if db is None:
        db = read_database(path)
        if cache:
            _to_cache(path, db)
    stamp = _stamp(db.files)
    if stamp is not None:
        _LOADED[real] = (stamp, db)
    return db


def _from_cache(path: str) -> Database | None:
    file = _cache_file(path)
    try:
        with open(file, "rb") as f, no_gc():
            stamp, db = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError):
        return None
    if not isinstance(db, Database) or _stamp(db.files) != stamp:
        return None
    return db


def _to_cache(path: str, db: Database) -> None:
    stamp = _stamp(db.files)
    if stamp is None:
        return
    try:
        os.makedirs(cache_dir(), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir(), suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump((stamp, db), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, _cache_file(path))
    except OSError:
        pass  # a read-only home only costs the next run a re-read
