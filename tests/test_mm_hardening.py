"""Metamath input that must be refused safely: `$[ $]` inclusions outside the database's folder, of
non-regular files or in a cycle; error messages that quote input; a cache file that is garbage or
would run code; goals that do not parse with the database grammar."""

from __future__ import annotations

import os
import pickle
import shutil
import stat
from pathlib import Path

import pytest

from hyperprover.envs.base import GoalParseError
from hyperprover.envs.metamath import loader
from hyperprover.envs.metamath.config import MetamathConfig
from hyperprover.envs.metamath.database import EXCERPT_CHARS, Database, MMParseError, read_database
from hyperprover.envs.metamath.env import MetamathEnv

DATA = os.path.join(os.path.dirname(__file__), "data", "mm")
SECRET = "hyperprover-secret-4f2a"  # must never show in an error message


def good_copy(folder: Path) -> str:
    """good.mm and the file it includes, copied into `folder`; the path of good.mm."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in ("good.mm", "good_part.mm"):
        shutil.copy(os.path.join(DATA, f), folder)
    return str(folder / "good.mm")


def read_error(path: str | Path, **kw: object) -> str:
    with pytest.raises(MMParseError) as e:
        read_database(str(path), **kw)  # type: ignore[arg-type]
    return str(e.value)


# ---- inclusions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["/proc/self/environ", "../outside.mm", "/dev/zero", "link.mm",
                                  "sub/../../outside.mm"])
def test_an_inclusion_outside_the_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     name: str) -> None:
    monkeypatch.setenv("HYPERPROVER_TEST_SECRET", SECRET)  # in /proc/self/environ
    (tmp_path / "outside.mm").write_text(f"{SECRET} $a |- x $.\n")
    db = tmp_path / "db"
    (db / "sub").mkdir(parents=True)
    (db / "link.mm").symlink_to(tmp_path / "outside.mm")  # a symlink out of the folder
    (db / "main.mm").write_text(f"$[ {name} $]\n")
    msg = read_error(db / "main.mm")
    assert "leads outside" in msg and SECRET not in msg and "\n" not in msg


def test_allow_dirs_admits_another_folder(tmp_path: Path) -> None:
    other = tmp_path / "other"
    good_copy(other)
    (tmp_path / "db").mkdir()
    main = tmp_path / "db" / "main.mm"
    main.write_text(f"$[ {other / 'good.mm'} $]\n$[ ../other/good_part.mm $]\n")
    db = read_database(str(main), allow_dirs=[str(other)])
    assert "ax17eq" in db.assertions and len(db.files) == 3  # good_part.mm once, although included twice
    assert "leads outside" in read_error(main)


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.mm")  # opening it for reading would wait for a writer forever
    (tmp_path / "folder.mm").mkdir()
    for name in ("fifo.mm", "folder.mm"):
        (tmp_path / "main.mm").write_text(f"$[ {name} $]\n")
        assert "not a regular file" in read_error(tmp_path / "main.mm")
    assert "not a regular file" in read_error("/dev/zero")
    assert "not a regular file" in read_error("/proc/self/environ")


def test_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hyperprover.envs.metamath import database

    path = good_copy(tmp_path)
    monkeypatch.setattr(database, "MAX_DATABASE_BYTES", os.path.getsize(path) + 10)  # not room for both files
    assert "exceed" in read_error(path)


def test_inclusion_cycles_are_errors_and_repeats_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "self.mm").write_text("$[ self.mm $]\n")
    assert "inclusion cycle" in read_error(tmp_path / "self.mm")
    (tmp_path / "a.mm").write_text("$[ b.mm $]\n")
    (tmp_path / "b.mm").write_text("$c x $.\n$[ a.mm $]\n")
    msg = read_error(tmp_path / "a.mm")
    assert f"{tmp_path / 'a.mm'} -> {tmp_path / 'b.mm'} -> {tmp_path / 'a.mm'}" in msg
    # a diamond is no cycle: d.mm is read once, its second inclusion ignored
    (tmp_path / "top.mm").write_text("$[ l.mm $] $[ r.mm $]\n")
    (tmp_path / "l.mm").write_text("$[ d.mm $] $c l $.\n")
    (tmp_path / "r.mm").write_text("$[ d.mm $] $c r $.\n")
    (tmp_path / "d.mm").write_text("$c d $.\n")
    assert read_database(str(tmp_path / "top.mm")).constants == {"d", "l", "r"}


HEAD = "$c ( ) -> wff |- $. $v ph ps $. wph $f wff ph $. wps $f wff ps $.\n"
LONG = SECRET + "\x1b[2J" + "x" * 5000  # a terminal escape, then far too much


@pytest.mark.parametrize("text", [
    f"{LONG} $a |- ph $.",  # bad label (the escape is no label character)
    f"$c {LONG} $.",  # bad math symbol
    f"ax $a |- ( ph {LONG.replace(chr(27), '')} ) $.",  # not an active symbol
    f"$d ph ph {LONG} $.",  # a repeated variable, the whole list quoted before
    f"${LONG}",  # unexpected keyword
    f"lab {LONG} $.",  # a label not followed by $a/$p/...
    f"{'a' * 5000}{SECRET} $a |- ph",  # not terminated: names the last label
    f"{'a' * 5000}{SECRET} $f wff ph $.",  # $f that names its label
    f"$[ {LONG} $]",  # an inclusion that cannot be read
])
def test_errors_quote_only_a_short_escaped_excerpt(tmp_path: Path, text: str) -> None:
    (tmp_path / "db.mm").write_text(HEAD + text + "\n")
    msg = read_error(tmp_path / "db.mm")
    quoted = len(msg) - len(str(tmp_path / "db.mm"))
    assert quoted < 3 * EXCERPT_CHARS + 150, msg
    assert "\x1b" not in msg and "x" * (EXCERPT_CHARS + 1) not in msg


def test_a_proof_error_quotes_only_an_excerpt(tmp_path: Path) -> None:
    (tmp_path / "db.mm").write_text(HEAD + f"th $p wff ph $= {'q' * 5000} $.\n")
    proof = read_database(str(tmp_path / "db.mm")).assertions["th"].proof
    assert proof is not None and "not defined" in proof.error and len(proof.error) < 2 * EXCERPT_CHARS + 100


def test_set_mm_style_reading_is_unchanged() -> None:
    db = read_database(os.path.join(DATA, "good.mm"))
    assert len(db.files) == 2 and len(db.digests) == 2 and all(len(d) == 64 for d in db.digests)


# ---- the cache -----------------------------------------------------------------------------------


class _Reads:
    """read_database counting its calls: a load that calls it missed the cache."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, *args: object, **kw: object) -> Database:
        self.n += 1
        return read_database(*args, **kw)  # type: ignore[arg-type]


@pytest.fixture
def cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path, _Reads]:
    """good.mm in a fresh folder, a fresh cache folder, the read counter, an empty in-process memo."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("HYPERPROVER_CACHE", str(cache))
    monkeypatch.setattr(loader, "_LOADED", {})
    reads = _Reads()
    monkeypatch.setattr(loader, "read_database", reads)
    return good_copy(tmp_path / "db"), cache / "metamath", reads


def test_a_cache_round_trip_gives_an_equal_database(cached: tuple[str, Path, _Reads]) -> None:
    path, folder, reads = cached
    first = loader.load_database(path)
    assert reads.n == 1 and len(os.listdir(folder)) == 1
    loader._LOADED.clear()
    again = loader.load_database(path)
    assert reads.n == 1, "the second load should come from the cache"
    assert again == read_database(path) == first
    a, b = again.assertions["a1i"], first.assertions["a1i"]
    assert a.proof == b.proof and a.hyps == b.hyps and a.all_dvs == b.all_dvs and again.top_f == first.top_f


def test_a_failed_cache_write_costs_nothing_and_leaves_no_temporary(cached: tuple[str, Path, _Reads],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path, folder, reads = cached

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "replace", full_disk)  # the rename into place fails, after the temporary was written
        assert loader.load_database(path) == read_database(path)
    assert os.listdir(folder) == [], "the temporary was left in the cache folder"
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700  # the folder keeps other users out
    loader._LOADED.clear()
    loader.load_database(path)
    assert reads.n == 2 and len(os.listdir(folder)) == 1  # the next load reads the text and writes the cache


class _RunsCode:
    """Unpickling this opens (creates) the marker file: proof that a pickle was loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


def _garbage(tmp_path: Path, kind: str, valid: bytes) -> bytes:
    head, _, body = valid.partition(b"\n")
    edits = {"wrong types": (b'"syms":["', b'"syms":[7,"'), "wrong kind": (b',"f",', b',"x",')}
    if kind in edits:
        old, new = edits[kind]
        assert old in body, "the cache format changed: update this test"
        return head + b"\n" + body.replace(old, new, 1)
    return {
        "pickle": pickle.dumps(_RunsCode(str(tmp_path / "marker"))),
        "pickle tuple": pickle.dumps((((), ()), _RunsCode(str(tmp_path / "marker")))),
        "empty": b"",
        "binary": bytes(range(256)) * 10,
        "truncated": valid[: len(valid) // 2],
        "head only": head,
        "wrong body": head + b"\n[1, 2]",
        "deep": head + b"\n" + b"[" * 200000,
    }[kind]


@pytest.mark.parametrize("kind", ["pickle", "pickle tuple", "empty", "binary", "truncated", "head only",
                                  "wrong body", "wrong types", "wrong kind", "deep"])
def test_a_bad_cache_file_is_a_miss_and_never_runs(cached: tuple[str, Path, _Reads], tmp_path: Path,
                                                    kind: str) -> None:
    path, folder, reads = cached
    loader.load_database(path)
    for name in os.listdir(folder):  # whatever the loader named its file, replace it
        valid = (folder / name).read_bytes()
        (folder / name).write_bytes(_garbage(tmp_path, kind, valid))
    loader._LOADED.clear()
    db = loader.load_database(path)
    assert not (tmp_path / "marker").exists(), "a cache file was unpickled"
    assert reads.n == 2 and db == read_database(path)
    loader._LOADED.clear()
    assert loader.load_database(path) == db and reads.n == 2  # the bad file was replaced by a good one


def test_a_fifo_in_place_of_the_cache_is_a_miss(cached: tuple[str, Path, _Reads]) -> None:
    path, folder, reads = cached
    folder.mkdir(parents=True)
    os.mkfifo(loader.cache_file(path))  # opening it would wait forever
    assert loader.load_database(path) == read_database(path) and reads.n == 1


def test_a_changed_file_is_read_again(cached: tuple[str, Path, _Reads]) -> None:
    path, _, reads = cached
    loader.load_database(path)
    part = os.path.join(os.path.dirname(path), "good_part.mm")
    st = os.stat(part)
    text = Path(part).read_text()
    Path(part).write_text(text.replace("wch $f", "wcx $f"))  # same size, and the same time below
    os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns))
    db = loader.load_database(path)  # the in-process memo checks the content too
    assert "wcx" in db.hyps and "wch" not in db.hyps and reads.n == 2
    loader._LOADED.clear()
    assert "wcx" in loader.load_database(path).hyps and reads.n == 2  # the cache was rewritten


# ---- goals ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def env() -> MetamathEnv:
    path = os.path.join(DATA, "good.mm")
    return MetamathEnv(MetamathConfig(database=path), db=read_database(path))


@pytest.mark.parametrize("text", [
    "|- ( ph ->",
    "|- ph ph",
    "|- ( ph -> ps ) )",
    "|- )",
    "|-",
    "wff ( ph",
    "setvar ph",  # ph is a wff variable
    "$( theorem a1i $)\na1i.1 $e |- ph $.\n|- ( ps ->",
])
def test_a_goal_that_does_not_parse_is_refused(env: MetamathEnv, text: str) -> None:
    with pytest.raises(GoalParseError, match="not a well-formed"):
        env.parse_goal(text)


def test_hypothesis_lines_must_parse_too(env: MetamathEnv) -> None:
    with pytest.raises(GoalParseError, match=r"\$e h: .* not a well-formed \|- statement"):
        env.parse_goal("h $e |- ( ph -> $.\n|- ph")
    with pytest.raises(GoalParseError, match="not a symbol"):
        env.parse_goal("h $e |- zz $.\n|- ph")


@pytest.mark.parametrize("text", ["|- ( ph -> ps )", "wff ( ph -> ps )", "setvar x", "|- A. x x = y",
                                  "h $e |- ( ph -> ps ) $.\n$d x y $.\n|- ps"])
def test_well_formed_goals_still_parse(env: MetamathEnv, text: str) -> None:
    assert env.goal_text(env.parse_goal(text)) == text


def test_goal_errors_quote_an_excerpt(env: MetamathEnv) -> None:
    with pytest.raises(GoalParseError) as e:
        env.parse_goal("|- ph\n|- " + "( " * 5000)
    assert len(str(e.value)) < 2 * EXCERPT_CHARS + 100


def test_check_command_takes_allow_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hyperprover.envs.metamath.cli import check_main

    other = tmp_path / "other"
    good_copy(other)
    (tmp_path / "db").mkdir()
    main = tmp_path / "db" / "main.mm"
    main.write_text("$[ ../other/good.mm $]\n")
    assert check_main([str(main), "--quiet"]) == 1
    assert "leads outside" in capsys.readouterr().err
    assert check_main([str(main), "--quiet", "--allow-dir", str(other)]) == 0


@pytest.mark.parametrize("name", ["good.mm", "demo0.mm", "miu.mm", "hol.mm", "ql.mm"])
def test_statement_types_agree_with_the_conclusion_index(name: str) -> None:
    path = os.path.join(DATA if name == "good.mm" else "/usr/share/metamath/databases", name)
    if not os.path.exists(path):
        pytest.skip("metamath-databases is not installed")
    env = MetamathEnv(MetamathConfig(database=path), db=read_database(path))
    assert env._statement_types == env.conclusions.body_type
