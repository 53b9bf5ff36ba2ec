import shutil
from pathlib import Path

import pytest

from hyperprover.config import load_config
from hyperprover.train.config import TrainConfig
from hyperprover.train.tasks import Seq2SeqRecord, make_task

HOL = Path("/usr/share/metamath/databases/hol.mm")


def test_sr_task_gives_goal_tactic_records():
    task = make_task("sr_bwd_rwalk_seq2seq", load_config(TrainConfig, []))
    first = [r for _, r in zip(range(5), task.train(0))]
    assert all(isinstance(r, Seq2SeqRecord) and r.x[0] == "<GOAL>" and r.y for r in first)
    assert first == [r for _, r in zip(range(5), task.train(0))]  # reproducible by seed
    assert len(task.split("valid", 7)) == 7
    vocab = set(task.vocabulary()) if task.vocabulary else set()
    assert all(w in vocab for r in first for w in r.y)


@pytest.mark.skipif(not HOL.exists(), reason="needs the Debian package metamath-databases")
def test_mm_task_reads_human_proof_steps():
    cfg = load_config(TrainConfig, ["--mm.database", str(HOL)])
    task = make_task("mm_x2y_goal--tactic_seq2seq", cfg)
    records = [r for _, r in zip(range(20), task.train(1))]
    assert all(r.x and r.y for r in records)
    vocab = set(task.vocabulary()) if task.vocabulary else set()
    assert all(r.y[0] in vocab for r in records)  # the tactic's label is a vocabulary word
    assert task.split("valid", 5)


@pytest.mark.skipif(shutil.which("coqtop") is None, reason="needs the Debian package coq")
def test_coq_task_reads_the_replayed_library_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny = Path(__file__).parent / "data"
    cfg = load_config(TrainConfig, ["--coq.library_root", str(tiny), "--coq.library_dirs", "coq",
                                    "--coq.n_valid", "1", "--coq.n_test", "0"])
    monkeypatch.setenv("HYPERPROVER_CACHE", str(tmp_path))  # the replay is cached there, built on first use
    task = make_task("coq_x2y_goal--tactic_seq2seq", cfg)
    records = [r for _, r in zip(range(10), task.train(0))]
    assert all(isinstance(r, Seq2SeqRecord) and "|-" in r.x and r.y for r in records)
    assert list((tmp_path / "coq").iterdir())  # the cache folder
    vocab = set(task.vocabulary()) if task.vocabulary else set()
    assert all(w in vocab for r in records for w in (*r.x, *r.y))
    valid = task.split("valid", 10)
    train_tactics = {" ".join(r.y) for r in records}
    assert valid and all(r not in records for r in valid) and train_tactics
