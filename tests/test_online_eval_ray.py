"""`hyperprover eval --n_provers 2`: Ray provers, interrupted and resumed, give the uninterrupted summary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("hyperprover.envs.equations.env")

from hyperprover.evaluation.main import main  # noqa: E402
from hyperprover.results import ResultsFile  # noqa: E402
from online_model import rigged_checkpoint  # noqa: E402


def _argv(ckpt: Path, root: Path, exp_id: str, n_provers: int) -> list[str]:
    # beam search without sampling on a model whose decoder ignores its input: every run proposes the
    # same tactics, so summaries can be compared exactly
    return ["--reload_model", str(ckpt), "--dump_path", str(root), "--exp_id", exp_id, "--n_provers",
            str(n_provers), "--split", "identities", "--n_theorems", "48", "--max_attempts", "2",
            "--search.n_expansions", "50", "--search.succ_expansions", "8",
            "--decoding.use_beam", "true", "--decoding.use_sampling", "false", "--decoding.n_samples", "4",
            "--decoding.max_gen_len", "8", "--n_simultaneous_proofs", "2"]


def _summary(root: Path, exp_id: str) -> dict:
    s = json.loads((root / "eval" / exp_id / "summary.json").read_text())
    return {k: v for k, v in s.items() if k.startswith("pass@") or k in ("n_theorems", "proved", "proved_labels")}


def test_ray_eval_interrupted_and_resumed_matches_uninterrupted(tmp_path: Path) -> None:
    ckpt = rigged_checkpoint(tmp_path / "m.pth")
    assert main(_argv(ckpt, tmp_path, "full", 2)) == 0
    full = _summary(tmp_path, "full")
    assert (tmp_path / "eval" / "full" / "provers" / "prover_1.log").is_file()

    # interrupt a run with Ctrl-C once an attempt is recorded, then run it again on the same folder; the rigged
    # model's searches take milliseconds, so a run can end before the signal lands: then try a fresh folder
    n_full = len(ResultsFile(tmp_path / "eval" / "full" / "eval_results.jsonl").read())
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    for k in range(8):
        exp_id = f"cut{k}"
        results = tmp_path / "eval" / exp_id / "eval_results.jsonl"
        # SIGINT back to its default in the child: a process that starts with it ignored (inherited from a
        # parent that ignores it) never gets Ctrl-C
        proc = subprocess.Popen([sys.executable, "-m", "hyperprover.cli", "eval", *_argv(ckpt, tmp_path, exp_id, 2)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if results.exists() and len(ResultsFile(results).read()) >= 1:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        n_before = len(ResultsFile(results).read())
        if 1 <= n_before < n_full:
            break
    assert 1 <= n_before < n_full, "every run finished before it could be interrupted"
    assert main(_argv(ckpt, tmp_path, exp_id, 2)) == 0
    assert _summary(tmp_path, exp_id) == full
    records = ResultsFile(results).read()
    keys = [(r.label, r.attempt) for r in records]
    assert len(keys) == len(set(keys)), "an attempt was recorded twice"
    full_keys = {(r.label, r.attempt) for r in ResultsFile(tmp_path / "eval" / "full" / "eval_results.jsonl").read()}
    assert set(keys) == full_keys and n_before < len(records)
