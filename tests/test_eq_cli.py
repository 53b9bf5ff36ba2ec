"""`hyperprover data --env eq` and `hyperprover check --env eq`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperprover.cli import main as hyperprover
from hyperprover.envs.equations.cli import check_main, data_main


def _lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_data_then_check_through_the_dispatcher(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "th.jsonl"
    assert hyperprover(["data", "--env", "eq", "--gen", "rwalk", "--n", "12", "--seed", "4", "--out", str(out)]) == 0
    assert hyperprover(["data", "--env", "eq", "--gen", "graph", "--n", "8", "--seed", "4", "--out", str(out)]) == 0
    records = _lines(out)
    assert len(records) == 20
    assert [r["gen"] for r in records] == ["rwalk"] * 12 + ["graph"] * 8
    assert all(r["proof"]["tactic"] and r["goal"]["prefix"].startswith("<GOAL>") for r in records)
    capsys.readouterr()
    assert hyperprover(["check", "--env", "eq", str(out)]) == 0
    assert "20/20 proofs check" in capsys.readouterr().out


def test_data_resumes_and_is_reproducible(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert data_main(["--n", "5", "--seed", "2", "--out", str(a)]) == 0
    assert data_main(["--n", "9", "--seed", "2", "--out", str(a)]) == 0  # adds only the 4 missing ones
    assert data_main(["--n", "9", "--seed", "2", "--out", str(b)]) == 0
    assert _lines(a) == _lines(b)
    assert len({r["label"] for r in _lines(a)}) == 9


def test_check_reports_the_failing_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.jsonl"
    assert data_main(["--n", "6", "--seed", "1", "--out", str(good)]) == 0
    records = _lines(good)
    # break the second step of the third proof: a position where the rule cannot match
    step = records[2]["proof"]["children"][0]
    step["tactic"] = step["tactic"].rsplit("<PREFIX_", 1)[0] + "<PREFIX_4000>"
    # make the fifth proof drop a subgoal it needs
    records[4]["proof"]["children"] = []
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(r) for r in records) + "\n{not json\n")
    capsys.readouterr()
    assert check_main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert "4/7 proofs check" in out
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 3
    assert records[2]["label"] in failed[0] and "step 2" in failed[0] and "position 4000" in failed[0]
    assert records[4]["label"] in failed[1] and "children do not match" in failed[1]
    assert "bad.jsonl:7:" in failed[2] and "not JSON" in failed[2]


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert data_main(["--help"]) == 0
    assert "--gen" in capsys.readouterr().out
    assert check_main(["--help"]) == 0
    capsys.readouterr()
    assert data_main(["--gen", "walk", "--n", "3", "--out", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hyperprover data:") and "walk" in err and "\n" not in err
    assert data_main(["--n", "3"]) == 2
    assert "--out" in capsys.readouterr().err
    assert data_main(["--n", "3", "--out", str(tmp_path / "no" / "x.jsonl")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert check_main([str(tmp_path / "missing.jsonl")]) == 2
    assert capsys.readouterr().err.strip() == f"hyperprover check: no such file {tmp_path / 'missing.jsonl'}"
