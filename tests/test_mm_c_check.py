"""`hyperprover check --env mm --results`: proofs of an eval results file, verified by the C program."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from hyperprover.envs.base import ProofNode, proof_from_json, proof_to_json
from hyperprover.envs.metamath.c_check import (
    CCheckError,
    check_results,
    parse_output,
    place_snippets,
    run_metamath,
)
from hyperprover.envs.metamath.cli import check_main
from hyperprover.envs.metamath.config import SET_MM
from hyperprover.envs.metamath.env import MetamathEnv, make_env
from hyperprover.envs.metamath.proofs import replay
from hyperprover.results import AttemptRecord, ResultsFile

DATA = os.path.join(os.path.dirname(__file__), "data", "mm")
GOOD = os.path.join(DATA, "good.mm")
needs_c = pytest.mark.skipif(shutil.which("metamath") is None, reason="the C metamath program is not installed")


@pytest.fixture(scope="module")
def env() -> MetamathEnv:
    return make_env(database=GOOD)


def _results(env: MetamathEnv, path: Path, tamper: bool = False) -> Path:
    rf = ResultsFile(path)
    rf.append(AttemptRecord("mm:a1i", 1, False))  # a failed attempt first: not checked
    for label in ("id", "a1i", "ax17eq", "idz"):
        proof = proof_to_json(env, replay(env, label))
        if tamper and label == "idz":  # a tactic whose subgoals are not the tree's children
            proof["tactic"] = "ax-mp $s ph $= ( ps -> ph )"
        rf.append(AttemptRecord(f"mm:{label}", 2 if label == "a1i" else 1, True, proof))
    rf.append(AttemptRecord("mm:id", 2, True, proof_to_json(env, replay(env, "id"))))  # only the first counts
    return path


def _just_before_its_theorem(text: str, label: str) -> bool:
    own = re.search(rf"(?<!\S){re.escape(label)} \$p", text)
    mine = text.index(f"hp.{label} $p")
    return own is not None and mine < own.start() and " $p " not in text[mine + len(label) + 6 : own.start()]


def test_proof_round_trips_through_json(env: MetamathEnv) -> None:
    proof = replay(env, "a1i")
    back = proof_from_json(env, proof_to_json(env, proof))
    assert isinstance(back, ProofNode) and back == proof


@needs_c
def test_found_proofs_are_accepted_by_the_c_program(env: MetamathEnv, tmp_path: Path) -> None:
    res = _results(env, tmp_path / "eval_results.jsonl")
    verdicts = check_results(env, res, tmp_path / "c")
    assert [(v.theorem, v.mm_label, v.accepted) for v in verdicts] == [
        ("mm:id", "hp.id", True), ("mm:a1i", "hp.a1i", True), ("mm:ax17eq", "hp.ax17eq", True),
        ("mm:idz", "hp.idz", True)], verdicts
    text = (tmp_path / "c" / "found.mm").read_text()  # good.mm with each proof just before its theorem
    assert text.count(" $p ") == 8 and (tmp_path / "c" / "good_part.mm").is_symlink()
    assert all(_just_before_its_theorem(text, label) for label in ("id", "a1i", "ax17eq", "idz"))
    assert "verify proof hp.ax17eq" in (tmp_path / "c" / "metamath.log").read_text()


@needs_c
def test_cli_reports_each_theorem_and_the_total(env: MetamathEnv, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    res = _results(env, tmp_path / "eval_results.jsonl", tamper=True)
    assert check_main(["--results", str(res), "--database", GOOD]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "mm:id: accepted as hp.id"
    assert out[3].startswith("mm:idz: REJECTED -- no Metamath proof: step 1: tactic")
    assert out[4].startswith(f"{res}: 3 of 4 proofs accepted by the C metamath program")
    assert (tmp_path / "c_check" / "found.mm").exists()


@needs_c
def test_c_errors_are_attributed_to_their_theorem(tmp_path: Path) -> None:
    for f in ("good.mm", "good_part.mm"):
        shutil.copy(os.path.join(DATA, f), tmp_path)
    (tmp_path / "f.mm").write_text(
        "$[ good.mm $]\n${\n  hp.a $p |- ( ph -> ph ) $= ( id ) AB $.\n$}\n"
        "${\n  hp.b $p |- ( ph -> ps ) $= ( id ) AB $.\n$}\n")
    err, got = parse_output(run_metamath(tmp_path, "f.mm", ["hp.a", "hp.b", "hp.c"]), ["hp.a", "hp.b", "hp.c"])
    assert err is None
    assert got["hp.a"] == (True, "")
    assert not got["hp.b"][0] and "?Error" in got["hp.b"][1]
    assert not got["hp.c"][0] and "did not verify" in got["hp.c"][1]  # no such $p: never a silent pass
    (tmp_path / "g.mm").write_text("$[ good.mm $]\n  hp.a $p |- ( ph -> qqq ) $= ( id ) AB $.\n")
    err, got = parse_output(run_metamath(tmp_path, "g.mm", ["hp.a"]), ["hp.a"])
    assert err is not None and not got["hp.a"][0]


def test_snippets_go_just_before_their_theorem() -> None:
    text = "$( a $p in a comment: x $p $)\n x $p |- y $= ? $.\n${ z $p |- y $= ? $. $}\n"
    out, outside = place_snippets(text, {"x": ("SX", "-"), "z": ("SZ", "-"), "w": ("-", "SW")})
    assert out == "$( a $p in a comment: x $p $)\n SX\nx $p |- y $= ? $.\n${ SZ\nz $p |- y $= ? $. $}\n\nSW"
    assert outside == {"w"}


@needs_c
def test_a_proof_using_a_later_assertion_is_rejected(env: MetamathEnv, tmp_path: Path) -> None:
    shutil.copy(os.path.join(DATA, "good_part.mm"), tmp_path)
    bad = "${\n  hp.id $p |- ( ph -> ph ) $= wph idz $.\n$}\n"  # idz comes after id
    text = Path(GOOD).read_text()
    (tmp_path / "at_end.mm").write_text(text + bad)
    (tmp_path / "in_place.mm").write_text(place_snippets(text, {"id": (bad, bad)})[0])
    assert parse_output(run_metamath(tmp_path, "at_end.mm", ["hp.id"]), ["hp.id"])[1]["hp.id"] == (True, "")
    err, got = parse_output(run_metamath(tmp_path, "in_place.mm", ["hp.id"]), ["hp.id"])
    assert err is not None or not got["hp.id"][0]


@needs_c
def test_a_read_error_falls_back_to_one_file_per_theorem(env: MetamathEnv, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from hyperprover.envs.metamath import c_check

    real = c_check.build_snippets

    def broken(e: MetamathEnv, theorem: str, pj: dict, lab: str) -> tuple[str, str]:  # type: ignore[type-arg]
        s = real(e, theorem, pj, lab)
        return (s[0].replace(" $p |- ", " $p |- qqq "), s[1]) if theorem == "mm:a1i" else s

    monkeypatch.setattr(c_check, "build_snippets", broken)
    verdicts = check_results(env, _results(env, tmp_path / "r.jsonl"), tmp_path / "c")
    assert [v.accepted for v in verdicts] == [True, False, True, True]
    assert verdicts[1].detail.startswith("read error")
    assert (tmp_path / "c" / "found.hp.a1i.mm").exists()


def test_missing_program_or_results(env: MetamathEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = _results(env, tmp_path / "r.jsonl")
    assert check_main(["--results", str(res), "--database", GOOD, "--metamath", "no-such-metamath"]) == 2
    assert "'no-such-metamath' is not installed" in capsys.readouterr().err
    with pytest.raises(CCheckError, match="not installed"):
        check_results(env, res, tmp_path / "c", program="no-such-metamath")
    if shutil.which("metamath"):
        assert check_main(["--results", str(tmp_path / "none.jsonl"), "--database", GOOD]) == 2
        assert "no such results file" in capsys.readouterr().err


def test_results_conflicts_with_a_database_file(tmp_path: Path) -> None:
    assert check_main([GOOD, "--results", str(tmp_path / "r.jsonl")]) == 2
    assert check_main([]) == 2



@needs_c
@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(SET_MM), reason="set.mm missing: apt-get install metamath-databases")
def test_set_mm_proofs_from_a_results_file(tmp_path: Path) -> None:
    env = make_env()
    rf = ResultsFile(tmp_path / "eval_results.jsonl")
    for label in ("pm2.43", "19.21v", "sbcied"):
        rf.append(AttemptRecord(f"mm:{label}", 1, True, proof_to_json(env, replay(env, label))))
    verdicts = check_results(env, rf.path, tmp_path / "c")
    assert [(v.mm_label, v.accepted) for v in verdicts] == [
        ("hp.pm2.43", True), ("hp.19.21v", True), ("hp.sbcied", True)], verdicts
    text = (tmp_path / "c" / "found.mm").read_text()
    assert all(_just_before_its_theorem(text, label) for label in ("pm2.43", "19.21v", "sbcied"))


def test_an_error_on_the_label_line_rejects_the_proof() -> None:
    # how the program reports a $d violation in a proof it holds in memory: on the line that names the proof
    out = ('MM> verify proof hp.a\nhp.a ?Error at statement 24, label "hp.a", type "$p":\n  vx vx ax-d $.\n'
           "There is a disjoint variable ($d) violation at proof step 3.\nMM> verify proof hp.b\nhp.b\nMM> ")
    _, got = parse_output(out, ["hp.a", "hp.b"])
    assert got["hp.b"] == (True, "") and not got["hp.a"][0] and "disjoint" in got["hp.a"][1]
