"""Load a database once per process, and from a JSON cache when its files have not changed.

The cache lives in ~/.cache/hyperprover/metamath (or $HYPERPROVER_CACHE/metamath): one file per
database path (and `allow_dirs`), two JSON lines. The first names every file read with the sha256 of
its content; the cache is used only when every file still has that digest. The second holds the
Database records: every string once in a table, statements and references as indices into it, each
distinct `$d` set once. JSON cannot run code, unlike the pickle this replaced (a cache folder can be
shared or planted); any unreadable, malformed or stale cache is a miss and is rewritten.

Loading set.mm (41 MB, 40k assertions) in a fresh process, `load_database(SET_MM)` timed alone, on
the 2-core machine shared with a training job (4 interleaved runs each, load average 6 to 13):
reading the text 4.1-6.6 s; the pickle cache this replaced 1.4-1.6 s; this cache 1.9-2.4 s, the
sha256 of set.mm (0.1 s) included. Earlier, under less load: text 2.8-3.2 s, pickle 0.8 s, this
cache 1.0-1.6 s. So the cache stays about twice as fast as the text; writing it costs about 1 s
(encoding with the collector off, one json.dumps). `hyperprover check` always reads the text itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from hyperprover.atomic import write_text
from hyperprover.envs.metamath.database import (
    MAX_DATABASE_BYTES,
    Assertion,
    Database,
    Hyp,
    MMParseError,
    Proof,
    no_gc,
    read_database,
    read_regular_file,
)

CACHE_FORMAT = "hyperprover metamath cache 2"  # change when the records of database.py change
MAX_CACHE_BYTES = 2 * MAX_DATABASE_BYTES  # the JSON of a database is about as large as its text
_LOADED: dict[tuple[str, tuple[str, ...]], Database] = {}
_KINDS = {"f": "f", "e": "e", "a": "a", "p": "p"}  # a kind read from JSON, checked and shared


def cache_dir() -> str:
    base = os.environ.get("HYPERPROVER_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hyperprover")
    return os.path.join(base, "metamath")


def cache_file(path: str, allow_dirs: Sequence[str] = ()) -> str:
    key = json.dumps([CACHE_FORMAT, os.path.realpath(path), _real_dirs(allow_dirs)])
    return os.path.join(cache_dir(), f"{os.path.basename(path)}.{hashlib.sha256(key.encode()).hexdigest()[:16]}.json")


def _real_dirs(allow_dirs: Sequence[str]) -> list[str]:
    return sorted({os.path.realpath(d) for d in allow_dirs})


def load_database(path: str, cache: bool = True, allow_dirs: Sequence[str] = ()) -> Database:
    """The parsed database at `path` (shared within the process; from the disk cache if `cache`).
    `allow_dirs`: as for read_database."""
    real = os.path.realpath(path)
    if not os.path.exists(real):
        raise MMParseError(f"database {path} not found (Debian: apt-get install metamath-databases)")
    key = (real, tuple(_real_dirs(allow_dirs)))
    db = _LOADED.get(key)
    if db is not None and _unchanged(db.files, db.digests):
        return db
    db = _from_cache(path, allow_dirs) if cache else None
    if db is None:
        db = read_database(path, allow_dirs)
        if cache:
            _to_cache(path, allow_dirs, db)
    _LOADED[key] = db
    return db


def _unchanged(files: Sequence[str], digests: Sequence[str]) -> bool:
    """Every file still has its sha256 (the content decides, not the size or time)."""
    if len(files) != len(digests) or not files:
        return False
    try:
        return all(hashlib.sha256(read_regular_file(os.path.realpath(f), MAX_DATABASE_BYTES, f)).hexdigest() == d
                   for f, d in zip(files, digests))
    except MMParseError:
        return False


def _from_cache(path: str, allow_dirs: Sequence[str]) -> Database | None:
    file = cache_file(path, allow_dirs)
    try:
        data = read_regular_file(os.path.realpath(file), MAX_CACHE_BYTES, file)
        head_line, _, body_line = data.partition(b"\n")
        head = json.loads(head_line)
        if (not isinstance(head, dict) or head.get("format") != CACHE_FORMAT
                or head.get("path") != os.path.realpath(path) or head.get("allow_dirs") != _real_dirs(allow_dirs)):
            return None
        files, digests = _strs(head.get("files")), _strs(head.get("digests"))
        if not _unchanged(files, digests):
            return None
        with no_gc():
            return _decode(json.loads(body_line), path, files, digests)
    except (MMParseError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
        return None  # no cache, or a damaged or foreign one: read the text


def _to_cache(path: str, allow_dirs: Sequence[str], db: Database) -> None:
    head = {"format": CACHE_FORMAT, "path": os.path.realpath(path), "allow_dirs": _real_dirs(allow_dirs),
            "files": list(db.files), "digests": list(db.digests)}
    with no_gc():  # the collector would rescan the whole database for every list built here
        text = json.dumps(head) + "\n" + json.dumps(_encode(db), separators=(",", ":"))
    try:
        os.makedirs(cache_dir(), mode=0o700, exist_ok=True)  # the folder, not the file, keeps others out
        write_text(cache_file(path, allow_dirs), text)
    except OSError:
        pass  # a read-only or full cache folder only costs the next run a re-read


def _encode(db: Database) -> dict[str, Any]:
    syms: dict[str, int] = {}

    def ids(xs: Sequence[str]) -> list[int]:
        return [syms.setdefault(x, len(syms)) for x in xs]

    hyp_ids = {label: i for i, label in enumerate(db.hyps)}
    dv_sets: dict[frozenset[tuple[str, str]], int] = {}

    def dv_id(dvs: frozenset[tuple[str, str]]) -> int:
        return dv_sets.setdefault(dvs, len(dv_sets))

    def proof(p: Proof | None) -> list[Any] | None:
        if p is None:
            return None
        return [p.compressed, ids(p.labels), p.letters, [hyp_ids[h.label] for h in p.extra_hyps], p.error]

    hyps = [[*ids([h.label]), h.kind, ids(h.stmt), h.seq] for h in db.hyps.values()]
    assertions = [[*ids([a.label]), a.kind, a.index, ids(a.stmt), [hyp_ids[h.label] for h in a.hyps],
                   dv_id(a.dvs), dv_id(a.all_dvs), proof(a.proof)] for a in db.assertions.values()]
    return {
        "hyps": hyps,
        "assertions": assertions,
        "dv_sets": [ids([v for p in sorted(s) for v in p]) for s in dv_sets],
        "constants": ids(sorted(db.constants)),
        "variables": ids(sorted(db.variables)),
        "var_types": [ids(kv) for kv in db.var_types.items()],
        "var_hyps": [[*ids([v]), hyp_ids[h.label]] for v, h in db.var_hyps.items()],
        "top_f": [[*ids([v]), hyp_ids[h.label]] for v, h in db.top_f.items()],
        "top_vars": ids(sorted(db.top_vars)),
        "syms": list(syms),  # last: `ids` above fills it
    }


def _strs(x: object) -> list[str]:
    if not isinstance(x, list) or not all(type(s) is str for s in x):
        raise TypeError("expected a list of strings")
    return x


def _str(x: object) -> str:
    if type(x) is not str:
        raise TypeError("expected a string")
    return x


def _bool(x: object) -> bool:
    if type(x) is not bool:
        raise TypeError("expected true or false")
    return x


def _decode(body: dict[str, Any], path: str, files: list[str], digests: list[str]) -> Database:
    """The Database of `_encode`'s output; a wrong shape raises TypeError, KeyError, IndexError or ValueError."""
    sym = list(map(sys.intern, _strs(body["syms"]))).__getitem__

    def syms(ids: list[int]) -> tuple[str, ...]:
        return tuple(map(sym, ids))

    hyps = [Hyp(sym(lab), _KINDS[kind], syms(stmt), int(seq)) for lab, kind, stmt, seq in body["hyps"]]
    hyp = hyps.__getitem__

    def pairs(ids: list[int]) -> frozenset[tuple[str, str]]:
        it = map(sym, ids)
        return frozenset(zip(it, it))

    dv_sets = [pairs(s) for s in body["dv_sets"]]

    def proof(p: list[Any] | None) -> Proof | None:
        if p is None:
            return None
        compressed, labels, letters, extra, error = p
        return Proof(_bool(compressed), syms(labels), _str(letters), tuple(map(hyp, extra)), _str(error))

    db = Database(path=path, files=tuple(files), digests=tuple(digests))
    db.hyps = {h.label: h for h in hyps}
    for lab, kind, index, stmt, hs, dvs, all_dvs, pf in body["assertions"]:
        db.assertions[sym(lab)] = Assertion(sym(lab), _KINDS[kind], int(index), syms(stmt), tuple(map(hyp, hs)),
                                            dv_sets[dvs], dv_sets[all_dvs], proof(pf))
    db.constants = set(syms(body["constants"]))
    db.variables = set(syms(body["variables"]))
    db.var_types = {sym(v): sym(tc) for v, tc in body["var_types"]}
    db.var_hyps = {sym(v): hyp(h) for v, h in body["var_hyps"]}
    db.top_f = {sym(v): hyp(h) for v, h in body["top_f"]}
    db.top_vars = set(syms(body["top_vars"]))
    return db
