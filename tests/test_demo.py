"""`hyperprover demo` (the README's first command) end to end at a tiny size."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hyperprover.demo import PROVERS, RECIPES, DemoConfig, eval_id, main
from hyperprover.model.checkpoint import load_checkpoint


def test_demo_runs_every_step_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--dump_path", str(tmp_path), "--n_theorems", "10", "--train_minutes", "0.1", "--n_identities", "3",
            "--n_expansions", "4", "--n_samples", "4", "--epoch_size", "100", "--vocab_samples", "200",
            "--n_seeds", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    root = tmp_path / "demo"
    assert (root / "data" / "eq_rwalk.jsonl").read_text().count("\n") == 10
    model = root / "supervised" / RECIPES["eq"].model / "checkpoint.pth"
    checkpoint = load_checkpoint(model)
    trained = checkpoint["counters"]
    assert trained["epoch"] >= 1 and trained["train_seconds"] > 6
    # the prover's cost is the decoder: one layer of width 96 (docs/results.md, "A smaller model")
    dims = checkpoint["model_dims"]
    assert (dims["dec_dim"], dims["dec_layers"], dims["enc_layers"]) == (96, 1, 3)
    cfg = DemoConfig(n_expansions=4, n_samples=4)
    for prover, seed in [(p, s) for p in PROVERS for s in (0, 1)]:
        summary = json.loads((root / "eval" / eval_id(prover, cfg, seed) / "summary.json").read_text())
        assert summary["n_theorems"] == 3 and summary["n_expansions"] == 4
        assert summary["expander"] == PROVERS[prover][1]
        params = json.loads((root / "eval" / eval_id(prover, cfg, seed) / "params.json").read_text())
        assert params["search"]["seed"] == seed
        assert params["decoding"]["score_enumerated"] is (PROVERS[prover][1] == "model")
        # the learned provers apply their best 32 tactics per goal, the floor its 4 random ones
        assert params["decoding"]["max_tactics"] == (32 if PROVERS[prover][1] == "model" else 0)
        # the floor draws n_samples complete tactics; the model samples n_subst_samples substitution tactics
        assert params["decoding"]["n_samples"] == (4 if PROVERS[prover][1] == "uniform" else 8)
        lines = (root / "eval" / eval_id(prover, cfg, seed) / "eval_results.jsonl").read_text().splitlines()
        # one line per identity, in the order the searches finished
        assert sorted(json.loads(line)["label"] for line in lines) == [f"identities:{i}" for i in range(3)]
    assert (root / "plots" / "index.html").is_file()
    assert f"supervised/{RECIPES['eq'].model}/" in out
    # the table and the paired comparisons with the floor
    assert "floor    htps   uniform     1" in out and out.count("exact McNemar p = ") == 3
    assert out.count("sign test over theorems") == 3  # two seeds: the verdicts pool them by theorem
    # a second run finds the model trained (the time limit counts over resumes) and the first 3 identities
    # proved or failed; with one more identity, each eval (now in its own process) makes just that attempt
    argv[argv.index("--n_identities") + 1] = "4"
    assert main([*argv, "--parallel_evals", "true"]) == 0
    assert load_checkpoint(model)["counters"]["epoch"] == trained["epoch"]
    for prover, seed in [(p, s) for p in PROVERS for s in (0, 1)]:
        lines = (root / "eval" / eval_id(prover, cfg, seed) / "eval_results.jsonl").read_text().splitlines()
        assert [json.loads(line)["label"] for line in lines[3:]] == ["identities:3"]


@pytest.mark.skipif(not Path("/usr/share/metamath/databases/set.mm").exists() or shutil.which("metamath") is None,
                    reason="needs set.mm and the C metamath program (apt-get install metamath metamath-databases)")
def test_metamath_demo_proves_a_fixed_sample_and_the_c_program_checks_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hyperprover.envs.base import make_env, split_theorems

    argv = ["--env", "mm", "--dump_path", str(tmp_path), "--train_minutes", "0.1", "--n_identities", "3",
            "--n_expansions", "6", "--epoch_size", "100"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    root = tmp_path / "demo_mm"
    cfg = DemoConfig(env="mm", n_expansions=6)
    sample = [t.label for t in split_theorems(make_env("mm"), "valid%5=0")]
    assert len(sample) == 200
    for prover in PROVERS:
        folder = root / "eval" / eval_id(prover, cfg)
        lines = (folder / "eval_results.jsonl").read_text().splitlines()
        assert sorted(json.loads(line)["label"] for line in lines) == sorted(sample[:3])
        params = json.loads((folder / "params.json").read_text())
        assert params["decoding"]["renormalize_scores"] is (PROVERS[prover][1] == "model")
        assert params["search"]["no_critic"] is (PROVERS[prover][1] == "model")  # no critic trained on mm
        if PROVERS[prover][1] == "model":  # it ranks the complete applicable tactics, samples no substitution
            assert params["decoding"]["n_samples"] == 0 and params["decoding"]["score_enumerated"] is True
        if any(json.loads(line)["proved"] for line in lines):
            assert (folder / "c_check" / "found.mm").is_file()
    assert "C accepts" in out and out.count("exact McNemar p = ") == 3
    assert "rejected by the C program" not in out
