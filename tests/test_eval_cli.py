"""`hyperprover eval` end to end with a real (hand-set) transformer: results, resume, summary."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from hyperprover.cli import main
from hyperprover.envs.base import make_env, proof_from_json
from hyperprover.results import ResultsFile
from online_model import rigged_checkpoint

GOALS = """# goals the hand-set model can prove (it knows commutativity, + 0, * 1, A - A)
x0 + 0 == x0
x1 * 1 == x1
x1 + x0 == x0 + x1
ln(x0) * 1 + 0 == ln(x0)
exp(x0 - x0) == exp(0)
"""
ARGS = ["--env", "eq", "--n_theorems", "4", "--max_attempts", "2", "--device", "cpu",
        "--search.n_expansions", "8", "--search.succ_expansions", "4", "--decoding.n_samples", "4",
        "--n_simultaneous_proofs", "2"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return rigged_checkpoint(tmp_path_factory.mktemp("ckpt") / "rigged.pth")


def run_eval(tmp_path, checkpoint, exp_id, prover="htps", extra=()):
    goals = tmp_path / "goals.txt"
    goals.write_text(GOALS)
    argv = ["eval", *ARGS, "--theorems_file", str(goals), "--prover", prover, "--reload_model", str(checkpoint),
            "--dump_path", str(tmp_path),
            "--exp_id", exp_id, *extra]
    assert main(argv) == 0
    folder = tmp_path / "eval" / exp_id
    records = [asdict(r) for r in ResultsFile(folder / "eval_results.jsonl").read()]
    return folder, records, json.loads((folder / "summary.json").read_text())


def test_eval_writes_attempts_and_summary(tmp_path, checkpoint):
    folder, records, summary = run_eval(tmp_path, checkpoint, "whole")
    assert summary["n_theorems"] == 4 and summary["proved"] >= 1
    assert set(summary) >= {"proved", "pass@1", "pass@2", "time_per_theorem_s"}
    # one line per attempt: attempt 2 only for theorems that attempt 1 did not prove
    first = {r["label"] for r in records if r["attempt"] == 1}
    second = {r["label"] for r in records if r["attempt"] == 2}
    proved_first = {r["label"] for r in records if r["attempt"] == 1 and r["proved"]}
    assert len(first) == 4 and second == first - proved_first
    assert all(set(r["stats"]) >= {"n_expansions", "n_nodes", "time_s"} for r in records)
    assert (folder / "params.json").exists() and (folder / "eval.log").exists()


# A resumed run batches its goals differently; sampled tactics are seeded per search and goal, so beam search
# and sampling must both give the same summary.
BEAM = ("--decoding.use_beam", "true", "--decoding.use_sampling", "false", "--decoding.n_samples", "32")
SAMPLED = ("--decoding.n_samples", "6", "--decoding.fixed_temperature", "1.5")


@pytest.mark.parametrize("decoding", [BEAM, SAMPLED], ids=["beam", "sampled"])
def test_interrupted_eval_resumes_to_the_same_summary(tmp_path, checkpoint, decoding):
    _, records, summary = run_eval(tmp_path, checkpoint, "whole", extra=decoding)
    folder = tmp_path / "eval" / "cut"
    folder.mkdir(parents=True)
    # a run killed after two attempts, its last line torn mid-write
    text = "\n".join(json.dumps(r, sort_keys=True) for r in records[:2]) + '\n{"label": "identi'
    (folder / "eval_results.jsonl").write_text(text)
    _, resumed, again = run_eval(tmp_path, checkpoint, "cut", extra=decoding)
    assert summary["proved"] >= 1
    keep = ("n_theorems", "proved", "proved_labels", "pass@1", "pass@2")
    assert {k: again[k] for k in keep} == {k: summary[k] for k in keep}
    assert len({(r["label"], r["attempt"]) for r in resumed}) == len(resumed)  # no attempt twice


def test_reported_proofs_recheck(tmp_path, checkpoint):
    env = make_env("eq")
    n_proofs = 0
    for prover in ("htps", "bfs", "greedy"):
        _, records, _ = run_eval(tmp_path, checkpoint, prover, prover)
        for r in records:
            assert r["proved"] == (r["proof"] is not None)
            if r["proof"] is not None:
                env.check_proof(proof_from_json(env, r["proof"]))  # from the printed file alone, from scratch
                n_proofs += 1
    assert n_proofs > 0


def test_bad_checkpoint_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    assert main(["eval", *ARGS, "--reload_model", str(bad), "--dump_path", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "bad.pth" in err


def test_bad_theorems_file(tmp_path, checkpoint, capsys):
    goals = tmp_path / "goals.txt"
    goals.write_text("x0 == x0\nx0 + == 1\n")
    assert main(["eval", *ARGS, "--theorems_file", str(goals), "--reload_model", str(checkpoint),
                 "--dump_path", str(tmp_path)]) == 2
    assert "line 2" in capsys.readouterr().err


def test_env_options_reach_the_env_and_its_workers(tmp_path):
    """`--mm.database` picks the database of eval's env and of the processes that apply tactics (they build
    their own env; with set.mm's labels they could not apply good.mm's assertions)."""
    good = str(Path(__file__).parent / "data" / "mm" / "good.mm")
    assert main(["eval", "--env", "mm", "--mm.database", good, "--split", "train", "--expander", "uniform",
                 "--prover", "bfs", "--search.n_expansions", "50", "--decoding.n_samples", "0",
                 "--env_workers", "1", "--dump_path", str(tmp_path), "--exp_id", "good"]) == 0
    lines = [json.loads(x) for x in (tmp_path / "eval" / "good" / "eval_results.jsonl").read_text().splitlines()]
    assert sorted(r["label"] for r in lines) == sorted(f"mm:{t}" for t in make_env("mm", database=good).splits.train)
    assert sum(r["proved"] for r in lines) >= 1
    assert main(["eval", "--env", "mm", "--mm.database", str(tmp_path / "missing.mm"), "--split", "train",
                 "--expander", "uniform", "--dump_path", str(tmp_path), "--exp_id", "missing"]) != 0
