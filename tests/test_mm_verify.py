"""Metamath reader + verifier + `hyperprover check --env mm` on small databases."""

from __future__ import annotations

import glob
import os
import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperprover.envs.metamath import compressed
from hyperprover.envs.metamath.cli import check_main
from hyperprover.envs.metamath.database import MMParseError, read_database, read_database_text
from hyperprover.envs.metamath.verify import Verifier, VerifyError

DATA = os.path.join(os.path.dirname(__file__), "data", "mm")
DEBIAN = "/usr/share/metamath/databases"
SMALL = ["demo0.mm", "miu.mm", "big-unifier.mm", "hol.mm", "peano.mm", "ql.mm"]


def data(name: str) -> str:
    return os.path.join(DATA, name)


def test_good_database_reads_and_verifies() -> None:
    db = read_database(data("good.mm"))
    assert [a.label for a in db.assertions.values() if a.kind == "p"] == ["id", "a1i", "ax17eq", "idz"]
    assert len(db.files) == 2  # the inclusion was read once although it is included twice
    mp = db.assertions["ax-mp"]
    assert [h.label for h in mp.hyps] == ["wph", "wps", "min", "maj"]
    assert db.assertions["ax-17"].dvs == frozenset({("ph", "x")})
    assert db.assertions["ax17eq"].all_dvs == frozenset({("x", "y")})
    idz = db.assertions["idz"].proof
    assert idz is not None and idz.compressed and "Z" in idz.letters
    report = Verifier(db).verify_all()
    assert (report.n_proofs, report.n_incomplete) == (4, 0)


def test_execute_builds_the_proof_tree() -> None:
    db = read_database(data("good.mm"))
    v = Verifier(db)
    tree = v.execute(db.assertions["idz"])
    assert tree.stmt == db.assertions["idz"].stmt and tree.label == "ax-mp"
    # the Z-saved subproof is shared, not copied
    assert tree.stmt == v.execute(db.assertions["id"]).stmt


@pytest.mark.parametrize("name, label, step, reason", [
    ("bad_proof.mm", "a1i", 9, "hypothesis 'min' of 'ax-mp' does not match"),
    ("bad_dv.mm", "ax17eq", 5, "$d x y is missing"),
    ("bad_dv_same.mm", "ax17bad", 5, "'x' would appear on both sides"),
    ("bad_type.mm", "th", 3, "type mismatch for 'wps' of 'ax-1'"),
])
def test_bad_proofs_are_rejected_with_step_and_reason(name: str, label: str, step: int, reason: str) -> None:
    db = read_database(data(name))
    with pytest.raises(VerifyError) as e:
        Verifier(db).verify_all()
    assert (e.value.label, e.value.step) == (label, step)
    assert reason in e.value.reason


@pytest.mark.parametrize("name, reason", [
    ("bad_scope.mm", "never closed"),
    ("bad_syntax.mm", "symbol 'zz' is not an active constant or variable"),
])
def test_malformed_databases_are_rejected(name: str, reason: str) -> None:
    with pytest.raises(MMParseError, match=reason):
        read_database(data(name))


HEAD = "$c ( ) -> wff |- $. $v ph ps $. wph $f wff ph $. wps $f wff ps $. wi $a wff ( ph -> ps ) $.\n"


@pytest.mark.parametrize("text, reason", [
    ("$( never closed", "comment is never closed"),
    ("$( a $( nested $) $)", "nested comment"),
    ("x$( a $)", "must be separated by whitespace"),
    ("ax $a |- ph", "not terminated"),
    ("${ $c q $. $}", "outermost scope"),
    ("$}", "without a matching"),
    ("wi2 $f wff ph $.", "already has an active \\$f"),
    ("wi $a wff ph $.", "defined twice"),
    ("$c ph $.", "already declared"),
    ("a@b $a |- ph $.", "bad label"),
    ("ax $a ph $.", "typecode 'ph' is not a declared constant"),
    ("$v q $. ax $a |- q $.", "has no active \\$f"),
    ("ax $q |- ph $.", "must be followed by"),
    ("$d ph ph $.", "repeated"),
    ("th $p |- ph $= ( wph ) A% $.", "not allowed in a compressed proof"),
    ("th $p |- ph $= $.", "empty proof"),
])
def test_syntax_errors_name_the_problem(text: str, reason: str) -> None:
    with pytest.raises(MMParseError, match=reason):
        read_database_text(HEAD + text)


@pytest.mark.parametrize("proof, reason", [
    ("wph nosuch", "not defined before this proof"),
    ("wph wph wi wps", "leaves 2 statements"),
    ("wph wph wi th", "not defined before"),
    ("wph wph", "leaves 2 statements"),
    ("( wi ) AABU", "ends in the middle of a number"),
    ("( wi ) AAC", "reuses step 1"),
])
def test_proof_errors(proof: str, reason: str) -> None:
    db = read_database_text(HEAD + f"th $p wff ( ph -> ph ) $= {proof} $.")
    with pytest.raises(VerifyError, match=reason):
        Verifier(db).verify_all()


def test_inactive_hypothesis_reference_is_an_error() -> None:
    db = read_database_text(HEAD + "${ h $e |- ph $. $} th $p |- ph $= h $.")
    with pytest.raises(VerifyError, match="not active here"):
        Verifier(db).verify_all()


def test_incomplete_proofs_are_reported_not_failed() -> None:
    db = read_database(data("incomplete.mm"))
    report = Verifier(db).verify_all()
    assert report.incomplete == ("th1", "th2")


@given(st.lists(st.integers(min_value=1, max_value=200_000), max_size=30))
def test_compressed_numbers_round_trip(nums: list[int]) -> None:
    letters = compressed.encode(nums)
    assert compressed.decode(letters.replace("\n", "")) == nums
    assert all(compressed.decode_number(compressed.encode_number(n)) == n for n in nums)


def test_compressed_known_codes() -> None:
    assert [compressed.encode_number(n) for n in (1, 20, 21, 40, 41, 120, 121)] == [
        "A", "T", "UA", "UT", "VA", "YT", "UUA"]


def test_check_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_main([data("good.mm")]) == 0
    assert "4 of 4 proofs verified" in capsys.readouterr().out
    assert check_main([data("bad_dv.mm")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hyperprover check:") and "ax17eq" in err and "step 5" in err
    assert check_main([data("incomplete.mm"), "--strict"]) == 1
    assert check_main([data("good.mm"), "--label", "nosuch"]) == 2
    assert check_main([data("missing.mm")]) == 1
    assert check_main([]) == 2


def test_check_cli_through_the_dispatcher(capsys: pytest.CaptureFixture[str]) -> None:
    from hyperprover.envs.cli import main

    assert main(["check", "--env", "mm", data("good.mm"), "--label", "a1i"]) == 0
    assert "1 of 1 proofs verified" in capsys.readouterr().out


@pytest.mark.skipif(not os.path.isdir(DEBIAN), reason="Debian package metamath-databases is not installed")
@pytest.mark.parametrize("name", SMALL)
def test_small_debian_databases_verify(name: str) -> None:
    db = read_database(os.path.join(DEBIAN, name))
    report = Verifier(db).verify_all()
    assert report.n_incomplete == 0 and report.n_proofs == sum(a.kind == "p" for a in db.assertions.values())


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(DEBIAN), reason="Debian package metamath-databases is not installed")
@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(DEBIAN, "*.mm"))))
def test_every_debian_database_checks(path: str) -> None:
    assert check_main([path, "--quiet"]) == 0


@pytest.mark.skipif(shutil.which("metamath") is None, reason="the C metamath program is not installed")
def test_c_metamath_agrees_on_the_test_databases(tmp_path: object) -> None:
    import subprocess

    for name in ["good.mm", "bad_proof.mm", "bad_dv.mm", "bad_type.mm"]:
        r = subprocess.run(["metamath", f"read {name}", "verify proof *", "exit"], cwd=DATA,
                           capture_output=True, text=True, timeout=60)
        ok = "All proofs in the database were verified" in r.stdout and "?Error" not in r.stdout
        assert ok == (name == "good.mm"), (name, r.stdout[-500:])
