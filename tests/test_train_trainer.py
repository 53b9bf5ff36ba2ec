"""`hyperprover train` end to end on small in-test tasks and a generated text corpus."""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from hyperprover.experiment import parse_log_lines, setup_experiment
from hyperprover.model.checkpoint import load_checkpoint, load_model
from hyperprover.model.decoding import sample
from hyperprover.train.config import TrainConfig
from hyperprover.train.latex import write_corpus
from hyperprover.train.main import main
from hyperprover.train.metrics import Tracker
from hyperprover.train.tasks import CriticRecord, Record, Seq2SeqRecord, Task, known_tasks, register_task
from hyperprover.train.trainer import Trainer

WORDS = [str(i) for i in range(10)]  # digits: shared with the arithmetic corpus, so reloads copy embeddings


def _reverse_task(name: str, cfg: object) -> Task:
    def train(seed: int) -> Iterator[Record]:
        rng = random.Random(seed)
        while True:
            x = tuple(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
            yield Seq2SeqRecord(x, tuple(reversed(x)))

    def split(split: str, n: int) -> list[Record]:
        return list(itertools.islice(train(zlib.crc32(split.encode())), n))

    return Task(name, "seq2seq", train, split, vocabulary=lambda: WORDS)


def _critic_task(name: str, cfg: object) -> Task:
    def train(seed: int) -> Iterator[Record]:
        rng = random.Random(seed)
        while True:
            x = tuple(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
            yield CriticRecord(x, 1.0 if int(x[0]) < 5 else 0.0)

    def split(split: str, n: int) -> list[Record]:
        return list(itertools.islice(train(zlib.crc32(split.encode())), n))

    return Task(name, "critic", train, split, vocabulary=lambda: WORDS)


if "toy_reverse_seq2seq" not in known_tasks():
    register_task(r"toy_reverse_seq2seq", _reverse_task, "toy_reverse_seq2seq")
    register_task(r"toy_critic_seq2seqtok", _critic_task, "toy_critic_seq2seqtok")

SMALL = ["--model.emb_dim", "32", "--model.n_layers", "1", "--model.n_heads", "2", "--num_workers", "0",
         "--eval_size", "64", "--log_network_stats_freq", "5", "--optimizer", "adam,lr=0.003", "--cpu_threads", "1"]


def run(tmp: Path, exp_id: str, *args: str) -> int:
    return main(["--dump_path", str(tmp), "--exp_name", "t", "--exp_id", exp_id, *SMALL, *args])


def test_mass_pretraining_then_supervised_reload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_corpus(tmp_path / "corpus", n=600)
    rc = run(tmp_path, "mass", "--tasks", "latex_mass", "--latex.data_dir", str(tmp_path / "corpus"),
             "--batch.bptt", "24", "--batch.size", "16", "--epoch_size", "320", "--max_epoch", "3",
             "--validation_metrics", "_valid-latex_mass-tok-ppl", "--latex.valid_fraction", "0.1")
    assert rc == 0
    logs = parse_log_lines(tmp_path / "t" / "mass" / "train.log")
    ppl = [d["valid-latex_mass-tok-ppl"] for d in logs]
    assert [d["epoch"] for d in logs] == [1, 2, 3] and ppl[-1] < ppl[0]
    best = tmp_path / "t" / "mass" / "best-valid-latex_mass-tok-ppl.pth"
    assert best.is_file()

    rc = run(tmp_path, "sup", "--tasks", "toy_reverse_seq2seq", "--reload_model", str(best), "--epoch_size", "64",
             "--max_epoch", "1")
    assert rc == 0
    text = (tmp_path / "t" / "sup" / "train.log").read_text()
    assert "reloaded weights from" in text
    old, new = load_checkpoint(best), load_checkpoint(tmp_path / "t" / "sup" / "checkpoint.pth")
    assert old["dictionary"]["id2word"] != new["dictionary"]["id2word"]  # different vocabularies ...
    # ... yet a shared word kept its (pretrained, then briefly fine-tuned) encoder embedding
    i_old, i_new = old["dictionary"]["id2word"].index("7"), new["dictionary"]["id2word"].index("7")
    e_old = old["model"]["encoder.embed.tokens.weight"][i_old]
    e_new = new["model"]["encoder.embed.tokens.weight"][i_new]
    assert torch.cosine_similarity(e_old, e_new, dim=0) > 0.8

    capsys.readouterr()
    rc = run(tmp_path, "bad", "--tasks", "toy_reverse_seq2seq", "--reload_model", str(best),
             "--model.emb_dim", "16", "--max_epoch", "1")
    assert rc == 2 and "shape" in capsys.readouterr().err


def test_resume_continues_epoch_and_step_count(tmp_path: Path) -> None:
    args = ["--tasks", "toy_reverse_seq2seq,toy_critic_seq2seqtok", "--epoch_size", "100", "--num_workers", "1",
            "--batch.tokens", "200"]
    assert run(tmp_path, "r", *args, "--max_epoch", "1") == 0
    ck = load_checkpoint(tmp_path / "t" / "r" / "checkpoint.pth")
    n1 = ck["counters"]["n_iter"]
    assert ck["counters"]["epoch"] == 1 and n1 > 0
    # a second start (as after a kill) finds checkpoint.pth and continues from epoch 1, iteration n1
    assert run(tmp_path, "r", *args, "--max_epoch", "2") == 0
    text = (tmp_path / "t" / "r" / "train.log").read_text()
    assert f"resumed from {tmp_path / 't' / 'r' / 'checkpoint.pth'}: epoch 1, {n1} iterations" in text
    ck2 = load_checkpoint(tmp_path / "t" / "r" / "checkpoint.pth")
    assert ck2["counters"]["epoch"] == 2 and ck2["counters"]["n_iter"] > n1
    assert [d["epoch"] for d in parse_log_lines(tmp_path / "t" / "r" / "train.log")] == [1, 2]
    # the same training dictionary: a resumed run never rebuilds it
    assert ck2["dictionary"] == ck["dictionary"]


def test_critic_trains_and_best_checkpoint_decodes_like_the_trained_model(tmp_path: Path) -> None:
    cfg = TrainConfig(dump_path=str(tmp_path), exp_name="t", exp_id="c", tasks="toy_critic_seq2seqtok,"
                      "toy_reverse_seq2seq", num_workers=0, epoch_size=6000, max_epoch=1, eval_size=128,
                      optimizer="adam,lr=0.003", validation_metrics="valid-toy_critic_seq2seqtok-tok-acc",
                      cpu_threads=1)
    cfg.model.emb_dim, cfg.model.n_layers, cfg.model.n_heads = 32, 1, 2
    exp = setup_experiment(cfg, "train")
    from hyperprover.train.tasks import make_task

    tasks = {n: make_task(n, cfg) for n in cfg.tasks.split(",")}
    trainer = Trainer(cfg, exp, tasks, torch.device("cpu"))
    trainer.run()
    scores = parse_log_lines(exp.path / "train.log")[-1]
    assert scores["valid-toy_critic_seq2seqtok-tok-acc"] > 80.0  # the label is a function of the first token
    assert scores["valid-toy_critic_seq2seqtok-roc-auc-score"] > 0.85

    best, dico = load_model(exp.path / "best-valid-toy_critic_seq2seqtok-tok-acc.pth")
    x = torch.tensor([dico.encode(["1", "2", "3"]).ids, dico.encode(["9", "8", "7"]).ids])
    outs = []
    for model in (trainer.model.eval(), best):
        with torch.no_grad():
            enc, mask = model.encode(x)
            hyps = sample(model, model.decoder.memory(enc), mask, n_samples=1, max_len=10, eos=dico.eos,
                          greedy=True)
        outs.append([h[0].tokens for h in hyps])
    assert outs[0] == outs[1] and all(len(t) > 0 for t in outs[0])


def test_tracker_stopping_and_best() -> None:
    tr = Tracker([("valid-a-tok-ppl", True), ("valid-a-tok-acc", False)], ("valid-a-tok-ppl", True, 2))
    seq = [(5.0, 10.0), (4.0, 9.0), (4.5, 20.0), (4.2, 5.0)]
    improved, stops = [], []
    for ppl, acc in seq:
        s = {"valid-a-tok-ppl": ppl, "valid-a-tok-acc": acc}
        improved.append(tr.improved(s))
        stops.append(tr.should_stop(s))
    assert improved == [["valid-a-tok-ppl", "valid-a-tok-acc"], ["valid-a-tok-ppl"], ["valid-a-tok-acc"], []]
    assert stops == [False, False, False, True]


def test_cli_errors_and_help(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--batch.tokens" in capsys.readouterr().out
    assert run(tmp_path, "e", "--tasks", "toy_reverse_seq2seq", "--optimizer", "adam,warmup=3") == 2
    assert "warmup" in capsys.readouterr().err
    assert run(tmp_path, "e", "--tasks", "latex_mass", "--latex.data_dir", str(tmp_path / "none")) == 2
    assert "data_dir" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path: Path) -> None:
    """A run killed mid-training restarts from its last checkpoint.pth with the same counters."""
    import subprocess
    import sys
    import time

    write_corpus(tmp_path / "corpus", n=400)
    argv = [sys.executable, "-m", "hyperprover.cli", "train", "--dump_path", str(tmp_path), "--exp_name", "t",
            "--exp_id", "k", *SMALL, "--tasks", "latex_mass", "--latex.data_dir", str(tmp_path / "corpus"),
            "--batch.bptt", "16", "--batch.size", "8", "--epoch_size", "80", "--eval_size", "8"]
    ckpt = tmp_path / "t" / "k" / "checkpoint.pth"
    proc = subprocess.Popen([*argv, "--max_epoch", "1000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not (ckpt.is_file() and load_checkpoint(ckpt)["counters"]["epoch"] >= 2):
            time.sleep(0.5)
    finally:
        proc.kill()
        proc.wait()
    state = load_checkpoint(ckpt)["counters"]
    assert state["epoch"] >= 2
    done = subprocess.run([*argv, "--max_epoch", str(state["epoch"] + 1)], capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resumed from {ckpt}: epoch {state['epoch']}, {state['n_iter']} iterations" in done.stderr
    after = load_checkpoint(ckpt)["counters"]
    assert after["epoch"] == state["epoch"] + 1 and after["n_iter"] > state["n_iter"]


def test_tasks_not_ready_are_skipped_until_ready(tmp_path: Path) -> None:
    """A replay-buffer task below its min_len must not block the trainer: the other tasks train meanwhile."""
    drawn: list[int] = []
    ready = {"flag": False}

    def waiting_task(name: str, cfg: object) -> Task:
        base = _reverse_task(name, cfg)

        def train(seed: int) -> Iterator[Record]:
            for r in base.train(seed):
                assert ready["flag"], "a task that is not ready was asked for data"
                drawn.append(1)
                yield r

        return Task(name, "seq2seq", train, base.split, vocabulary=lambda: WORDS, ready=lambda: ready["flag"])

    cfg = TrainConfig(dump_path=str(tmp_path), exp_name="t", exp_id="w", tasks="toy_reverse_seq2seq,toy_wait",
                      tasks_weight="1,100", num_workers=0, epoch_size=200, max_epoch=1, eval_size=16,
                      eval_splits="", optimizer="adam,lr=0.003", cpu_threads=1, batch=TrainConfig().batch)
    cfg.model.emb_dim, cfg.model.n_layers, cfg.model.n_heads = 32, 1, 2
    cfg.batch.tokens = 200
    tasks = {"toy_reverse_seq2seq": _reverse_task("toy_reverse_seq2seq", cfg), "toy_wait": waiting_task("w", cfg)}
    trainer = Trainer(cfg, setup_experiment(cfg, "train"), tasks, torch.device("cpu"))
    trainer.run()
    assert trainer.counters.epoch == 1 and not drawn  # the epoch went by on the ready task alone
    ready["flag"] = True
    cfg.max_epoch = 2
    trainer.run()
    assert drawn  # once ready, weight 100 makes it the task of almost every step


def test_update_with_non_finite_gradient_is_skipped(tmp_path: Path) -> None:
    """A finite loss whose gradient overflows must not reach the weights (seen with bf16 on a GPU: one such
    update made every later loss NaN)."""
    cfg = TrainConfig(dump_path=str(tmp_path), exp_name="t", exp_id="g", tasks="toy_reverse_seq2seq",
                      num_workers=0, epoch_size=200, max_epoch=1, eval_size=16, eval_splits="",
                      optimizer="adam,lr=0.003", cpu_threads=1, clip_grad_norm=1.0)
    cfg.model.emb_dim, cfg.model.n_layers, cfg.model.n_heads = 32, 1, 2
    tasks = {"toy_reverse_seq2seq": _reverse_task("toy_reverse_seq2seq", cfg)}
    trainer = Trainer(cfg, setup_experiment(cfg, "train"), tasks, torch.device("cpu"))
    poisoned = {"left": 3}

    def poison(grad: torch.Tensor) -> torch.Tensor:
        if poisoned["left"] == 0:
            return grad
        poisoned["left"] -= 1
        return torch.full_like(grad, float("inf"))

    next(iter(trainer.model.parameters())).register_hook(poison)
    trainer.run()
    assert poisoned["left"] == 0 and trainer.counters.n_iter > 3
    assert trainer.counters.n_updates == trainer.counters.n_iter - 3
    assert all(bool(torch.isfinite(p).all()) for p in trainer.model.parameters())
    log = (tmp_path / "t" / "g" / "train.log").read_text()
    assert log.count("non-finite gradient norm") == 3
