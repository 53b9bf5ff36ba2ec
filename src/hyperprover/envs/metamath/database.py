"""Read a Metamath database (.mm) into immutable records, following the Metamath book's rules.

The reader works on whole token lists: comments are cut out of the text with `str.find`, the rest
is split on whitespace, and statements are delimited with `list.index`, so the per-token Python work
is a few set operations per statement. That keeps reading set.mm (41 MB) to a few seconds.

Scopes (`${ $}`) are kept with an undo log instead of copying frames, because set.mm opens some
30,000 blocks. Every `$a`/`$p` gets its mandatory hypotheses and `$d` pairs computed when it is
read; a `$p` also keeps the whole `$d` set in scope (dummy variables) and the non-mandatory
hypotheses its proof names, so the verifier needs no scope information later.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import re
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

KEYWORDS = frozenset({"$c", "$v", "$f", "$e", "$d", "$a", "$p", "${", "$}", "$[", "$]", "$=", "$.", "$(", "$)"})
_LABEL_RE = re.compile(r"[A-Za-z0-9_.\-]+")
_MATH_RE = re.compile(r"[\x21-\x23\x25-\x7e]+")  # printable ASCII without '$'
_LETTERS_RE = re.compile(r"[A-Z?]*")
MAX_DATABASE_BYTES = 1 << 30  # a database and all its inclusions (set.mm is 41 MB)
EXCERPT_CHARS = 80  # the most of the input an error message quotes
PSEUDO_FILE_DIRS = ("/proc", "/sys")  # kernel files that pass for regular ones but lie about their size


class MMError(Exception):
    """Base class of every error about a Metamath database or proof."""


class MMParseError(MMError):
    """The database text breaks the Metamath syntax rules; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Hyp:
    """A `$f` or `$e` hypothesis. `stmt` starts with the typecode; `seq` orders hypotheses by declaration."""

    label: str
    kind: str  # "f" | "e"
    stmt: tuple[str, ...]
    seq: int


@dataclass(frozen=True, slots=True)
class Proof:
    """A `$p` proof as written: normal (`labels` are the steps) or compressed (`labels` is the list in
    parentheses, `letters` the step code). `extra_hyps` are the active non-mandatory hypotheses the
    proof names (the `$f` of dummy variables); `error` a reference problem found while reading."""

    compressed: bool
    labels: tuple[str, ...]
    letters: str = ""
    extra_hyps: tuple[Hyp, ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True)
class Assertion:
    """An `$a` or `$p` statement with its mandatory frame."""

    label: str
    kind: str  # "a" | "p"
    index: int  # position among all assertions, in database order
    stmt: tuple[str, ...]
    hyps: tuple[Hyp, ...]  # mandatory hypotheses in the order the verifier pops them
    dvs: frozenset[tuple[str, str]]  # mandatory $d pairs, each sorted
    all_dvs: frozenset[tuple[str, str]] = frozenset()  # every $d pair in scope ($p only)
    proof: Proof | None = None

    @property
    def typecode(self) -> str:
        return self.stmt[0]

    @property
    def variables(self) -> tuple[str, ...]:
        """Mandatory variables, in the order of their `$f` hypotheses."""
        return tuple(h.stmt[1] for h in self.hyps if h.kind == "f")


@dataclass
class Database:
    path: str
    assertions: dict[str, Assertion] = field(default_factory=dict)  # database order
    hyps: dict[str, Hyp] = field(default_factory=dict)
    constants: set[str] = field(default_factory=set)
    variables: set[str] = field(default_factory=set)  # every symbol ever declared with $v
    var_types: dict[str, str] = field(default_factory=dict)  # variable -> typecode of its latest $f
    var_hyps: dict[str, Hyp] = field(default_factory=dict)  # variable -> latest $f
    top_f: dict[str, Hyp] = field(default_factory=dict)  # $f hypotheses still active at the end
    top_vars: set[str] = field(default_factory=set)  # variables still active at the end
    files: tuple[str, ...] = ()  # every file read (the database and its inclusions), real paths
    digests: tuple[str, ...] = ()  # the sha256 of each of `files`, of the bytes read

    @property
    def labels(self) -> list[str]:
        return list(self.assertions)


def pair(x: str, y: str) -> tuple[str, str]:
    return (x, y) if x < y else (y, x)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def strip_comments(text: str, name: str) -> str:
    """Cut out `$( ... $)` comments (not nested); both markers must stand alone as tokens."""
    parts: list[str] = []
    prev = 0
    find = text.find
    while True:
        start = find("$(", prev)
        if start < 0:
            break
        if (start > 0 and not text[start - 1].isspace()) or (
            start + 2 < len(text) and not text[start + 2].isspace()
        ):
            raise MMParseError(f"{name}:{_line_of(text, start)}: '$(' must be separated by whitespace")
        end = start + 2
        while True:
            end = find("$)", end)
            if end < 0:
                raise MMParseError(f"{name}:{_line_of(text, start)}: comment is never closed with '$)'")
            if text[end - 1].isspace() and (end + 2 == len(text) or text[end + 2].isspace()):
                break
            end += 2
        nested = find("$(", start + 2, end)
        if nested >= 0 and text[nested - 1].isspace() and text[nested + 2].isspace():
            raise MMParseError(f"{name}:{_line_of(text, nested)}: nested comment ('$(' inside a comment)")
        parts.append(text[prev:start])
        prev = end + 2
    parts.append(text[prev:])
    return " ".join(parts)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most `limit` characters of `text`, control characters escaped: all an error message may
    quote of the input (a token can be a whole file, e.g. the NUL-separated /proc/self/environ)."""
    short = "".join(c if c.isprintable() and c.isascii() else ascii(c)[1:-1] for c in text[:limit])
    return short if len(text) <= limit else f"{short}... ({len(text)} characters)"


def _q(text: str) -> str:
    return f"'{excerpt(text)}'"


def _inside(real: str, folder: str) -> bool:
    return real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)


class _Sources:
    """The files of one database: reads them under the inclusion rules and keeps each one's sha256.

    `$[ name $]` resolves in the folder of the including file (its real path, so a symlinked folder
    cannot lead out) and must stay inside it or one of `allow_dirs`; only regular files are read (a
    fifo would block, /dev/zero never ends, /proc files lie about their size), all together at most
    MAX_DATABASE_BYTES; a file that includes itself or a file still being read is a cycle, while a
    file included again after it was read is ignored, as the Metamath book says."""

    def __init__(self, allow_dirs: Sequence[str] = ()) -> None:
        self.allow_dirs = tuple(os.path.realpath(d) for d in allow_dirs)
        self.digests: dict[str, str] = {}  # real path -> sha256 of the bytes read
        self.stack: list[str] = []  # real paths of the files being read, the outermost first
        self.budget = MAX_DATABASE_BYTES

    def tokens(self, path: str, real: str, folder: str, asked: str) -> list[str]:
        """Tokens of `path` with comments removed and inclusions (resolved in `folder`) spliced in. Errors
        about the file itself name it as `asked` (the path given, or the `$[ $]` statement)."""
        text = self.read(asked, real)
        toks = strip_comments(text, path).split()
        if "$[" not in toks and "$]" not in toks:
            return toks
        self.stack.append(real)
        out: list[str] = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t == "$[":
                if i + 2 >= len(toks) or toks[i + 2] != "$]":
                    raise MMParseError(f"{path}: '$[' must be followed by one file name and '$]'")
                out.extend(self.include(path, folder, toks[i + 1]))
                i += 3
            elif t == "$]":
                raise MMParseError(f"{path}: '$]' without '$['")
            else:
                out.append(t)
                i += 1
        self.stack.pop()
        return out

    def include(self, includer: str, folder: str, name: str) -> list[str]:
        where = f"{includer}: $[ {excerpt(name)} $]"
        real = os.path.realpath(os.path.join(folder, name))
        if not any(_inside(real, d) for d in (folder, *self.allow_dirs)):
            raise MMParseError(f"{where} leads outside {folder}; an included file must be a relative path inside "
                               "the including file's folder (read_database's allow_dirs can add folders)")
        if real in self.stack:
            cycle = " -> ".join([*self.stack[self.stack.index(real):], real])
            raise MMParseError(f"{where}: inclusion cycle {cycle}; a file cannot include itself or its includer")
        if real in self.digests:
            return []  # read before: a second inclusion is ignored
        return self.tokens(real, real, os.path.dirname(real), where)

    def read(self, path: str, real: str) -> str:
        data = read_regular_file(real, self.budget, path)
        self.budget -= len(data)
        self.digests[real] = hashlib.sha256(data).hexdigest()
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as e:
            raise MMParseError(f"{path}: non-ASCII byte at offset {e.start}; Metamath files are ASCII") from e
        if "\r" in text:  # what reading in text mode did, so that line numbers of CR files stay the same
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return text


def read_regular_file(real: str, limit: int, name: str) -> bytes:
    """The bytes of the regular file `real` (no device, fifo or folder), at most `limit` of them; else
    MMParseError about `name`."""
    if any(_inside(real, d) for d in PSEUDO_FILE_DIRS):
        raise MMParseError(f"{name}: not a regular file (files under {', '.join(PSEUDO_FILE_DIRS)} are refused)")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: opening a fifo must not wait
    except OSError as e:
        raise MMParseError(f"{name}: cannot read: {e.strerror}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise MMParseError(f"{name}: not a regular file; a database is read only from regular files")
        if st.st_size > limit:
            raise MMParseError(f"{name}: the database and its inclusions exceed {MAX_DATABASE_BYTES} bytes "
                               "(MAX_DATABASE_BYTES in database.py)")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(st.st_size + 1)  # one byte more tells a file that grows while read
    finally:
        os.close(fd)
    if len(data) != st.st_size:
        raise MMParseError(f"{name}: the file changed while it was read; read it again")
    return data


def read_tokens(path: str, sources: _Sources | None = None) -> list[str]:
    """Tokens of `path` with comments removed and `$[ file $]` inclusions spliced in (see _Sources)."""
    src = sources if sources is not None else _Sources()
    return src.tokens(path, os.path.realpath(path), os.path.realpath(os.path.dirname(path) or "."), path)


class _Reader:
    """One pass over the tokens; `self.where` names the last label seen, for error messages."""

    def __init__(self, path: str, toks: list[str]) -> None:
        self.db = Database(path=path)
        self.toks = toks
        self.where = "start of file"
        self.active_vars: set[str] = set()
        self.active_f: dict[str, Hyp] = {}  # variable -> $f
        self.active_e: list[tuple[Hyp, frozenset[str]]] = []  # with the variables it mentions
        self.active_hyp_labels: dict[str, Hyp] = {}
        self.active_d: set[tuple[str, str]] = set()
        self.undo: list[list[tuple[str, object]]] = [[]]
        self.seq = 0

    def error(self, msg: str) -> MMParseError:
        return MMParseError(f"{self.db.path}: {msg} (near {excerpt(self.where)})")

    def stmt_end(self, i: int, end: str = "$.") -> int:
        try:
            return self.toks.index(end, i)
        except ValueError:
            raise self.error(f"statement is not terminated with '{end}'") from None

    def check_symbols(self, syms: tuple[str, ...], what: str) -> frozenset[str]:
        """All symbols active and typed; returns the variables among them."""
        # set.difference iterates over the small side; `-=` would walk all the constants
        s = set(syms).difference(self.db.constants)
        bad = s.difference(self.active_vars)
        if bad:
            tok = sorted(bad)[0]
            kind = "keyword" if tok.startswith("$") else "symbol"
            raise self.error(f"{what}: {kind} {_q(tok)} is not an active constant or variable")
        active_f = self.active_f
        untyped = [v for v in s if v not in active_f]
        if untyped:
            raise self.error(f"{what}: variable {_q(sorted(untyped)[0])} has no active $f hypothesis")
        return frozenset(s)

    def new_label(self, label: str) -> None:
        self.where = label
        if not _LABEL_RE.fullmatch(label):
            kind = "keyword" if label in KEYWORDS else "label"
            raise self.error(f"bad {kind} {_q(label)} (labels use letters, digits, '-', '_', '.')")
        db = self.db
        if label in db.assertions or label in db.hyps:
            raise self.error(f"label {_q(label)} is defined twice")
        if label in db.constants or label in db.variables:
            raise self.error(f"label {_q(label)} is also a math symbol")

    def declare(self, syms: list[str], const: bool) -> None:
        db = self.db
        for s in syms:
            if not _MATH_RE.fullmatch(s):
                raise self.error(f"bad math symbol {_q(s)} (printable ASCII without '$')")
            if s in db.constants or s in self.active_vars or (const and s in db.variables):
                raise self.error(f"math symbol {_q(s)} is already declared")
            if s in db.hyps or s in db.assertions:
                raise self.error(f"math symbol {_q(s)} is also a label")
            if const:
                db.constants.add(s)
            else:
                db.variables.add(s)
                self.active_vars.add(s)
                self.undo[-1].append(("v", s))

    def run(self) -> Database:
        toks, db = self.toks, self.db
        intern = sys.intern
        n = len(toks)
        i = 0
        while i < n:
            t = toks[i]
            if t == "${":
                self.undo.append([])
                i += 1
            elif t == "$}":
                if len(self.undo) == 1:
                    raise self.error("'$}' without a matching '${'")
                self.close_scope()
                i += 1
            elif t in ("$c", "$v"):
                j = self.stmt_end(i)
                if t == "$c" and len(self.undo) > 1:
                    raise self.error("$c must be in the outermost scope")
                if j == i + 1:
                    raise self.error(f"empty {t} statement")
                self.declare(toks[i + 1 : j], const=t == "$c")
                i = j + 1
            elif t == "$d":
                j = self.stmt_end(i)
                self.add_dv([intern(x) for x in toks[i + 1 : j]])
                i = j + 1
            elif t.startswith("$"):
                raise self.error(f"unexpected keyword {_q(t)}")
            else:
                self.new_label(t)
                kw = toks[i + 1] if i + 1 < n else "end of file"
                if kw == "$p":
                    k = self.stmt_end(i, "$=")
                    j = self.stmt_end(k)
                    stmt = tuple(map(intern, toks[i + 2 : k]))
                    self.add_assertion(t, "p", stmt, toks[k + 1 : j])
                    i = j + 1
                    continue
                j = self.stmt_end(i)
                stmt = tuple(map(intern, toks[i + 2 : j]))
                if kw == "$f":
                    self.add_f(t, stmt)
                elif kw == "$e":
                    self.add_e(t, stmt)
                elif kw == "$a":
                    self.add_assertion(t, "a", stmt, None)
                else:
                    raise self.error(f"label {_q(t)} must be followed by $f, $e, $a or $p, not {_q(kw)}")
                i = j + 1
        if len(self.undo) > 1:
            raise self.error(f"{len(self.undo) - 1} block(s) opened with '${{' are never closed")
        db.top_f = dict(self.active_f)
        db.top_vars = set(self.active_vars)
        return db

    def close_scope(self) -> None:
        for kind, item in reversed(self.undo.pop()):
            if kind == "v":
                self.active_vars.discard(item)  # type: ignore[arg-type]
            elif kind == "f":
                h = self.active_f.pop(item)  # type: ignore[call-overload]
                del self.active_hyp_labels[h.label]
            elif kind == "e":
                h, _ = self.active_e.pop()
                del self.active_hyp_labels[h.label]
            elif kind == "d":
                self.active_d.discard(item)  # type: ignore[arg-type]

    def add_dv(self, vs: list[str]) -> None:
        if len(set(vs)) != len(vs):
            raise self.error(f"$d {excerpt(' '.join(vs))}: a variable is repeated")
        for v in vs:
            if v not in self.active_vars:
                raise self.error(f"$d: {_q(v)} is not an active variable")
        active_d, undo = self.active_d, self.undo[-1]
        vs.sort()
        for a, x in enumerate(vs):
            for y in vs[a + 1 :]:
                if (x, y) not in active_d:
                    active_d.add((x, y))
                    undo.append(("d", (x, y)))

    def add_f(self, label: str, stmt: tuple[str, ...]) -> None:
        if len(stmt) != 2:
            raise self.error(f"$f {excerpt(label)} must have exactly a typecode and a variable")
        tc, v = stmt
        if tc not in self.db.constants:
            raise self.error(f"$f {excerpt(label)}: typecode {_q(tc)} is not a declared constant")
        if v not in self.active_vars:
            raise self.error(f"$f {excerpt(label)}: {_q(v)} is not an active variable")
        if v in self.active_f:
            other = excerpt(self.active_f[v].label)
            raise self.error(f"$f {excerpt(label)}: variable {_q(v)} already has an active $f ({other})")
        h = Hyp(label, "f", stmt, self.seq)
        self.seq += 1
        self.db.hyps[label] = h
        self.db.var_types[v] = tc
        self.db.var_hyps[v] = h
        self.active_f[v] = h
        self.active_hyp_labels[label] = h
        self.undo[-1].append(("f", v))

    def typecode(self, label: str, stmt: tuple[str, ...]) -> None:
        if not stmt:
            raise self.error(f"{excerpt(label)} has an empty statement (a typecode is required)")
        if stmt[0] not in self.db.constants:
            raise self.error(f"{excerpt(label)}: typecode {_q(stmt[0])} is not a declared constant")

    def add_e(self, label: str, stmt: tuple[str, ...]) -> None:
        self.typecode(label, stmt)
        vs = self.check_symbols(stmt[1:], f"$e {excerpt(label)}")
        h = Hyp(label, "e", stmt, self.seq)
        self.seq += 1
        self.db.hyps[label] = h
        self.active_e.append((h, vs))
        self.active_hyp_labels[label] = h
        self.undo[-1].append(("e", label))

    def add_assertion(self, label: str, kind: str, stmt: tuple[str, ...], proof: list[str] | None) -> None:
        self.typecode(label, stmt)
        mand = set(self.check_symbols(stmt[1:], f"${kind} {excerpt(label)}"))
        for _, vs in self.active_e:
            mand |= vs
        hyps = [self.active_f[v] for v in mand]
        hyps.extend(h for h, _ in self.active_e)
        hyps.sort(key=lambda h: h.seq)
        dvs = frozenset(p for p in self.active_d if p[0] in mand and p[1] in mand)
        a = Assertion(label, kind, len(self.db.assertions), stmt, tuple(hyps), dvs)
        if proof is not None:
            mand_labels = {h.label for h in hyps}
            a = Assertion(label, kind, a.index, stmt, a.hyps, dvs, frozenset(self.active_d),
                          self.read_proof(label, proof, mand_labels))
        self.db.assertions[label] = a

    def read_proof(self, label: str, toks: list[str], mand: set[str]) -> Proof:
        intern = sys.intern
        if toks and toks[0] == "(":
            try:
                close = toks.index(")")
            except ValueError:
                raise self.error(f"$p {excerpt(label)}: compressed proof has no ')'") from None
            labels = tuple(map(intern, toks[1:close]))
            letters = "".join(toks[close + 1 :])
            if not _LETTERS_RE.fullmatch(letters):
                bad = re.sub(r"[A-Z?]", "", letters)[0]
                raise self.error(f"$p {excerpt(label)}: character {_q(bad)} is not allowed in a compressed proof")
            compressed = True
            named = labels
        else:
            labels = tuple(map(intern, toks))
            letters = ""
            compressed = False
            named = tuple(set(labels))
        if not labels and not letters:
            raise self.error(f"$p {excerpt(label)} has an empty proof (use '?' for an unknown proof)")
        extra: list[Hyp] = []
        error = ""
        for ref in sorted(set(named).difference(self.db.assertions)):  # hypotheses, bad references
            if ref == "?":
                continue
            h = self.active_hyp_labels.get(ref)
            if h is None:
                where = "not active here" if ref in self.db.hyps else "not defined before this proof"
                error = error or f"proof refers to {_q(ref)}, which is {where}"
            elif ref in mand:
                if compressed:
                    error = error or f"compressed proof lists mandatory hypothesis {_q(ref)} in its parentheses"
            else:
                extra.append(h)
        if compressed and len(set(labels)) != len(labels):
            error = error or "compressed proof lists a label twice"
        return Proof(compressed, labels, letters, tuple(extra), error)


def read_database(path: str, allow_dirs: Sequence[str] = ()) -> Database:
    """Read and check the syntax of a database (with its inclusions); raises MMParseError. `allow_dirs`:
    folders besides the including file's own that `$[ $]` may read from."""
    src = _Sources(allow_dirs)
    with no_gc():
        db = _Reader(path, read_tokens(path, src)).run()
    db.files = tuple(sorted(src.digests))
    db.digests = tuple(src.digests[f] for f in db.files)
    return db


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector off while building many small tuples (it would rescan them all
    again and again; nothing built here is cyclic)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def read_database_text(text: str, name: str = "<string>") -> Database:
    """Read a database given as text (no `$[ $]` inclusions), for tests and snippets."""
    toks = strip_comments(text, name).split()
    if "$[" in toks:
        raise MMParseError(f"{name}: file inclusion needs a file; use read_database")
    return _Reader(name, toks).run()
