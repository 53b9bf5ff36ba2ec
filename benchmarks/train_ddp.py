"""Data-parallel training throughput: tokens/s of 1 process against N (DDP), through the trainer's own step.

    .venv/bin/python benchmarks/train_ddp.py [--procs 1,2] [--steps 20] [--threads 1] [--device cpu]

Every process trains on its own random batches of `--batch` sequences (weak scaling: N processes train N
times the sequences of one per update), so the figure is the tokens of all processes per second. CPU
processes meet through gloo, GPU ones (one GPU each) through NCCL. `--threads` is per process: on a
machine of C cores, compare `--procs 1 --threads C` with `--procs C --threads 1` as well.
"""

from __future__ import annotations

import argparse
import datetime
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as tdist
import torch.multiprocessing as mp

from hyperprover.train.batching import Batch, collate
from hyperprover.train.config import TrainConfig
from hyperprover.train.distributed import Dist, all_sum, pick_device, setup_ranked_experiment
from hyperprover.train.tasks import Record, Task
from hyperprover.train.trainer import Trainer

WORDS = [f"w{i}" for i in range(2000)]
WARMUP = 3


def _task() -> Task:
    def train(seed: int) -> Iterator[Record]:
        return iter(())  # the vocabulary is known: nothing is sampled

    return Task("bench", "seq2seq", train, lambda split, n: [], vocabulary=lambda: WORDS)


def _batches(trainer: Trainer, args: argparse.Namespace, rank: int) -> list[Batch]:
    rng = random.Random(rank)

    def words(n: int) -> tuple[str, ...]:
        return tuple(rng.choice(WORDS) for _ in range(n))

    out = []
    for _ in range(4):  # a few distinct batches, reused
        items = [(trainer.dico.encode(words(args.src_len)).ids, trainer.dico.encode(words(args.tgt_len)).ids)
                 for _ in range(args.batch)]
        out.append(collate("seq2seq", items, trainer.dico))
    return out


def _trainer(dist: Dist, args: argparse.Namespace, folder: Path) -> Trainer:
    cfg = TrainConfig(dump_path=str(folder), exp_name="bench", exp_id=f"procs{dist.world_size}", tasks="bench",
                      num_workers=0, eval_splits="", vocab_samples=0, optimizer="adam,lr=0.0001",
                      cpu_threads=args.threads)
    cfg.model.emb_dim, cfg.model.n_layers, cfg.model.n_heads = args.emb_dim, args.layers, 8
    exp = setup_ranked_experiment(cfg, "train", dist)
    for h in exp.logger.handlers:  # the trainer's INFO lines would drown the figures
        h.setLevel("WARNING")
    return Trainer(cfg, exp, {"bench": _task()}, pick_device(args.device, dist), dist=dist)


def _worker(rank: int, world: int, args: argparse.Namespace, folder: Path) -> None:
    torch.set_num_threads(args.threads)
    dist = Dist(rank, world, rank)
    if world > 1:
        backend = "nccl" if args.device == "cuda" else "gloo"
        tdist.init_process_group(backend, init_method=f"file://{folder / 'rendezvous'}", rank=rank,
                                 world_size=world, timeout=datetime.timedelta(minutes=5))
    try:
        trainer = _trainer(dist, args, folder)
        batches = [b.to(trainer.device) for b in _batches(trainer, args, rank)]
        tokens = 0
        for i in range(WARMUP + args.steps):
            if i == WARMUP:  # allocator, kernels and DDP buckets warmed up
                all_sum([0.0], dist, trainer.device)  # a barrier that also syncs the GPU stream
                t0 = time.perf_counter()
            stats = trainer._step(batches[i % len(batches)])
            trainer.counters.n_iter += 1
            tokens += stats.n_tokens if i >= WARMUP else 0  # already summed over the ranks
        all_sum([0.0], dist, trainer.device)
        elapsed = time.perf_counter() - t0
        if rank == 0:
            (folder / "result.txt").write_text(f"{tokens / elapsed}")
    finally:
        if world > 1:
            tdist.destroy_process_group()


def measure(world: int, args: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if world == 1:
            _worker(0, 1, args, folder)
        else:
            mp.spawn(_worker, args=(world, args, folder), nprocs=world, join=True)
        return float((folder / "result.txt").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--procs", default="1,2", help="comma list of process counts")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--emb_dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16, help="sequences per process and step")
    ap.add_argument("--src_len", type=int, default=48)
    ap.add_argument("--tgt_len", type=int, default=16)
    args = ap.parse_args()
    results: dict[int, Any] = {}
    for n in [int(p) for p in args.procs.split(",")]:
        results[n] = measure(n, args)
        base = results[min(results)]
        print(f"{n} process(es) x {args.threads} thread(s), {args.device}, emb {args.emb_dim} x {args.layers} "
              f"layers, batch {args.batch}x({args.src_len}+{args.tgt_len}) per process: "
              f"{results[n]:,.0f} tokens/s ({results[n] / base:.2f}x of {min(results)} process(es))", flush=True)


if __name__ == "__main__":
    main()
