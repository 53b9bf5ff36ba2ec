import json

from hyperprover.cli import main
from hyperprover.envs.sr.cli import check_main, data_main


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_data_then_check_round_trip(tmp_path, capsys):
    out = tmp_path / "sr.jsonl"
    assert main(["data", "--env", "sr", "--n", "40", "--seed", "5", "--out", str(out)]) == 0
    recs = lines(out)
    assert len(recs) == 40 and recs[0]["label"] == "sr_data:5:0"
    assert set(recs[0]) == {"label", "target", "target_infix", "points", "proof"}
    assert recs[0]["proof"][0]["expr"] == "+ 0" and len(recs[0]["points"]["x"]) == len(recs[0]["points"]["y"])
    capsys.readouterr()
    assert main(["check", "--env", "sr", str(out)]) == 0
    assert "40/40 proofs check" in capsys.readouterr().out
    # lines are appended: a second run adds to the file, and the same seed gives the same theorems
    assert data_main(["--n", "3", "--seed", "5", "--out", str(out)]) == 0
    again = lines(out)
    assert len(again) == 43 and again[40] == recs[0]


def test_fixed_sources(tmp_path, capsys):
    out = tmp_path / "b.jsonl"
    assert data_main(["--source", "bench", "--n", "1000", "--out", str(out)]) == 0
    recs = lines(out)
    assert recs[0]["label"].startswith("sr_bench:") and len(recs) >= 20
    assert data_main(["--source", "valid", "--n", "5", "--out", str(tmp_path / "v.jsonl")]) == 0
    assert [r["label"] for r in lines(tmp_path / "v.jsonl")] == [f"sr_valid:{i}" for i in range(5)]
    capsys.readouterr()
    assert check_main([str(out)]) == 0 and f"{len(recs)}/{len(recs)} proofs check" in capsys.readouterr().out


def test_check_reports_broken_proofs(tmp_path, capsys):
    out = tmp_path / "sr.jsonl"
    assert data_main(["--n", "6", "--seed", "1", "--out", str(out)]) == 0
    recs = lines(out)
    recs[1]["proof"][1]["tactic"] = "T||A|erf(A) <PREFIX_0>"  # unknown rule
    recs[2]["proof"] = recs[2]["proof"][:-1]  # last step missing: the chain never closes
    recs[3]["points"]["y"][0] += 1.0  # targets changed: the proof no longer fits
    recs[4]["points"]["y"] = recs[4]["points"]["y"][:-1]  # mismatched lengths
    out.write_text("".join(json.dumps(r) + "\n" for r in recs) + "not json\n")
    capsys.readouterr()
    assert check_main([str(out), "--show", "10"]) == 1
    text = capsys.readouterr().out
    assert "2/7 proofs check" in text
    assert "line 2 (sr_data:1:1): ProofError: step 1" in text and "unknown_rule" in text
    assert "line 3 (sr_data:1:2)" in text and "line 4 (sr_data:1:3)" in text
    assert "line 5 (sr_data:1:4): ValueError" in text and "line 7 (?)" in text


def test_usage_errors(tmp_path, capsys):
    assert data_main(["--n", "3"]) == 2
    assert "--out FILE.jsonl is required" in capsys.readouterr().err
    assert data_main(["--n", "3", "--out", str(tmp_path / "x"), "--sr.n_pointz", "4"]) == 2
    assert "did you mean --sr.n_points" in capsys.readouterr().err
    assert data_main(["--out", str(tmp_path / "x"), "--sr.x_min", "3", "--sr.x_max", "1"]) == 2
    assert "x_min" in capsys.readouterr().err
    assert check_main([str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert check_main([]) == 2
    assert data_main(["--help"]) == 0 and "--sr.n_points" in capsys.readouterr().out
