"""The training loop: tasks drawn per step by weight, token-budget batches from worker processes, AdamW
with a schedule, evaluations every `eval_freq` epochs, best models, stopping criterion, and a checkpoint
(`checkpoint.pth`, temp file + rename) after every epoch from which a killed run resumes.

An epoch is `epoch_size` *real* sequences of trained batches (the original counted batch.size per step
whatever the batch held); it always ends on an optimizer update when accumulating gradients.

Data-parallel runs (train/distributed.py): the model is wrapped in DistributedDataParallel, each rank draws
its own batches (seeds offset by rank), and the sequences of an epoch are counted over all ranks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import random
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from hyperprover.config import flatten, to_dict
from hyperprover.experiment import Experiment, options_differ
from hyperprover.model.checkpoint import CheckpointError, load_checkpoint, model_from_state, save_checkpoint
from hyperprover.model.config import ModelDims, resolve
from hyperprover.model.dictionary import SPECIAL_WORDS, Dictionary
from hyperprover.model.transformer import Seq2SeqTransformer, count_parameters
from hyperprover.train.batching import Batch, TaskBatches, eval_batches
from hyperprover.train.config import TrainConfig, split_list, task_weights
from hyperprover.train.distributed import SINGLE, Dist, all_sum, all_true, broadcast, gather
from hyperprover.train.metrics import (
    Tracker,
    evaluate_batches,
    forward_loss,
    greedy_proving_metrics,
    parse_metric,
    parse_stopping,
)
from hyperprover.train.optim import build_optimizer, parse_optimizer, set_lr
from hyperprover.train.tasks import CriticRecord, Seq2SeqRecord, Task


class ReloadError(ValueError):
    """--reload_model points at weights that do not fit this model."""


def build_dictionary(tasks: dict[str, Task], cfg: TrainConfig, logger: logging.Logger) -> Dictionary:
    """Words of every task: its full vocabulary when the source knows it, plus counts over samples."""
    counts: Counter[str] = Counter()
    for task in tasks.values():
        if task.vocabulary is not None:
            counts.update({w: 0 for w in task.vocabulary() if w not in counts})
        if task.objective == "mass" and task.vocabulary is not None:
            continue  # a corpus task lists its (frequency-filtered) words; sampling it adds nothing
        if not _is_ready(task):
            continue  # no data yet (an empty replay buffer): its words come from the other tasks
        it = task.train(cfg.env_base_seed + 12345)
        n = min(cfg.vocab_samples, cfg.debug.size) if cfg.debug.debug else cfg.vocab_samples
        for _ in range(n):
            rec = next(it)
            if isinstance(rec, Seq2SeqRecord):
                counts.update(rec.x)
                counts.update(rec.y)
            elif isinstance(rec, CriticRecord):
                counts.update(rec.x)
            else:
                counts.update(rec)
    counts.pop("</s>", None)
    dico = Dictionary.build(counts, min_count=0)
    logger.info(f"dictionary: {len(dico)} words ({len(dico) - len(SPECIAL_WORDS)} besides the specials), "
                f"sha256 {dico.sha256()[:16]}")
    return dico


def reload_weights(model: Seq2SeqTransformer, dico: Dictionary, path: str, logger: logging.Logger) -> None:
    """Copy another run's weights: every parameter must exist with the same shape, except the vocabulary rows,
    which are copied word by word between the two dictionaries."""
    try:
        state = load_checkpoint(path)
    except CheckpointError as e:
        raise ReloadError(f"--reload_model: {e}") from None
    old = Dictionary.from_state(state["dictionary"])
    src = state["model"]
    common = [w for w in dico.id2word if w in old.word2id]
    if len(common) <= len(SPECIAL_WORDS):
        raise ReloadError(f"--reload_model {path}: its dictionary shares no word with this run's; "
                          "the checkpoint was trained on unrelated data")
    new_ids = torch.tensor([dico.word2id[w] for w in common])
    old_ids = torch.tensor([old.word2id[w] for w in common])
    own = model.state_dict()
    with torch.no_grad():
        for name, t in own.items():
            if name not in src:
                raise ReloadError(f"--reload_model {path}: parameter {name} is missing from the checkpoint")
            s = src[name]
            vocab_sized = t.dim() >= 1 and t.size(0) == len(dico) and s.size(0) == len(old) and \
                (name.endswith("tokens.weight") or name.startswith("decoder.proj"))
            if vocab_sized and t.shape[1:] == s.shape[1:]:
                t[new_ids] = s[old_ids].to(t.dtype)
            elif t.shape != s.shape:
                raise ReloadError(f"--reload_model {path}: {name} has shape {tuple(s.shape)} in the checkpoint "
                                  f"but {tuple(t.shape)} here; use the same --model sizes as that run")
            else:
                t.copy_(s)
    logger.info(f"reloaded weights from {path}: {len(common)}/{len(dico)} words share embeddings")


def check_model_options(state: dict[str, Any], cfg: TrainConfig, path: Path) -> None:
    """A resumed run trains the checkpoint's model whatever --model.* says: refuse other values than those it
    was built with (a checkpoint that does not record its options passes). Raises ConfigError."""
    saved = state.get("params", {}).get("model")
    if not isinstance(saved, dict):
        return
    now = flatten(to_dict(cfg.model), "model.")
    was = flatten(saved, "model.")
    differ = [k for k in now if k in was and was[k] != now[k]]
    if differ:
        raise options_differ(path, {k: was[k] for k in differ}, {k: now[k] for k in differ})


def data_seed(base: int, task: str, epoch: int, rank: int = 0) -> int:
    """The seed of a task's training stream in an epoch, on a rank. The epoch is part of it so that a resumed
    run does not replay the data it already saw, the rank so that data-parallel ranks see different data
    (rank 0 keeps the single-process seed: a run on one process is unchanged)."""
    key = f"{base}/{task}/{epoch}" + (f"/rank{rank}" if rank else "")
    return zlib.crc32(key.encode()) % (2**31)


class LossModule(nn.Module):
    """The model with its loss as `forward(batch)`: DistributedDataParallel synchronises gradients only of
    what runs through its own forward, and the critic loss calls encode/critic_logits, not model.forward."""

    def __init__(self, model: Seq2SeqTransformer, dico: Dictionary, eps: float) -> None:
        super().__init__()
        self.model, self.dico, self.eps = model, dico, eps

    def forward(self, batch: Batch) -> Tensor:
        return forward_loss(self.model, batch, self.dico, self.eps)[0]


@dataclass
class StepStats:
    """One training batch summed over the ranks: its loss (the mean of the ranks'), sequences and tokens."""

    loss: float
    n_seqs: int
    n_tokens: int


@dataclass
class Counters:
    epoch: int = 0  # completed epochs
    n_iter: int = 0  # batches trained on
    n_updates: int = 0  # optimizer steps
    n_sequences: int = 0
    train_seconds: float = 0.0  # wall time in the training loop, over every resume (for --max_time_min)


class Trainer:
    def __init__(self, cfg: TrainConfig, exp: Experiment, tasks: dict[str, Task], device: torch.device,
                 init_state: dict[str, Any] | None = None,
                 on_epoch_end: Callable[[Trainer], None] | None = None, dist: Dist = SINGLE) -> None:
        """`init_state`: a loaded checkpoint whose model AND dictionary this run starts from (online training:
        provers and trainer must share one vocabulary); `on_epoch_end` runs after each epoch's checkpoint
        (on rank 0); `dist`: this process's rank in data-parallel training (the process group is set up)."""
        self.cfg, self.exp, self.tasks, self.device, self.dist = cfg, exp, tasks, device, dist
        self.on_epoch_end = on_epoch_end
        self.log = exp.logger
        _, self.trained, self.weights = task_weights(cfg)
        torch.manual_seed(cfg.seed)
        self.counters = Counters()
        self.tracker = Tracker([parse_metric(m, "validation_metrics") for m in split_list(cfg.validation_metrics)],
                               parse_stopping(cfg.stopping_criterion))
        state = load_checkpoint(exp.checkpoint_path) if exp.resumed else None
        if state is not None and init_state is None:
            check_model_options(state, cfg, exp.path)
        if state is not None or init_state is not None:
            start = state if state is not None else init_state
            assert start is not None
            self.model, self.dico = model_from_state(start, device)
            self.dims = ModelDims.from_dict(start["model_dims"])
        else:
            self.dico = self._shared_dictionary()
            self.dims = resolve(cfg.model, len(self.dico), self.dico.pad)
            self.model = Seq2SeqTransformer(self.dims).to(device)
            if cfg.reload_model:
                reload_weights(self.model, self.dico, cfg.reload_model, self.log)
        self.net = self._wrap(LossModule(self.model, self.dico, cfg.label_smoothing_eps))
        self.spec = parse_optimizer(cfg.optimizer)
        self.opt, self.schedule = build_optimizer(self.model.parameters(), self.spec)
        cuda = device.type == "cuda"
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.model.amp) if cuda else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        if state is not None:
            self._restore(state)
        self.log.info(f"model: {count_parameters(self.model) / 1e6:.2f}M parameters, {self.dims}")
        self._eval_sets: dict[tuple[str, str], list[Batch]] = {}
        self._check_ranks_agree()

    # ---------------------------------------------------------------- data parallelism
    def _shared_dictionary(self) -> Dictionary:
        """Built by rank 0 alone and sent to the others: every rank must map words to the same ids, and
        sampling `vocab_samples` records once is enough."""
        dico = build_dictionary(self.tasks, self.cfg, self.log) if self.dist.is_main else None
        state = broadcast(dico.state() if dico is not None else None, self.dist)
        assert state is not None
        return dico if dico is not None else Dictionary.from_state(state)

    def _wrap(self, net: LossModule) -> nn.Module:
        if not self.dist.enabled:
            return net
        # DDP starts every rank from rank 0's weights (it broadcasts them), whatever each rank initialised
        ids = [self.device.index] if self.device.type == "cuda" else None
        wrapped = DistributedDataParallel(net, device_ids=ids)
        if self.dist.rank:  # dropout masks of their own on the other ranks (rank 0 draws as a single process)
            torch.manual_seed(self.cfg.seed + 7919 * self.dist.rank)
        return wrapped

    def _check_ranks_agree(self) -> None:
        """Every rank must start from the same folder and point of training (rank 0's checkpoint): a rank
        that cannot see rank 0's folder (no shared file system) would train from scratch and desynchronise."""
        if not self.dist.enabled:
            return
        c = self.counters
        starts = gather((str(self.exp.path), c.epoch, c.n_iter, c.n_updates), self.dist)
        if any(s != starts[0] for s in starts):
            shown = "; ".join(f"rank {r}: {s[0]} at epoch {s[1]}, {s[3]} updates" for r, s in enumerate(starts))
            raise CheckpointError(f"ranks start from different points ({shown}); every rank must see rank 0's "
                                  "run folder (a shared file system)")
        self.log.info(f"all {self.dist.world_size} ranks start at epoch {c.epoch}, {c.n_iter} iterations, "
                      f"{c.n_updates} updates")

    # ---------------------------------------------------------------- checkpoints
    def _save(self, path: Path) -> None:
        if not self.dist.is_main:
            return  # rank 0 alone writes the run folder; the weights are the same on every rank
        save_checkpoint(path, self.model, self.dico, self.dims, optimizer=self.opt.state_dict(),
                        scaler=self.scaler.state_dict(), counters=dataclasses.asdict(self.counters),
                        tracker=self.tracker.state(), params=to_dict(self.cfg))

    def _restore(self, state: dict[str, Any]) -> None:
        try:
            self.opt.load_state_dict(state["optimizer"])
            if state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
            self.counters = Counters(**state["counters"])
            self.tracker.load(state.get("tracker", {}))
        except (KeyError, ValueError, TypeError) as e:
            raise CheckpointError(f"{self.exp.checkpoint_path} lacks trainer state ({e}); "
                                  "move it away to restart") from None
        self.log.info(f"resumed from {self.exp.checkpoint_path}: epoch {self.counters.epoch}, "
                      f"{self.counters.n_iter} iterations, {self.counters.n_updates} updates")

    # ---------------------------------------------------------------- data
    def _loaders(self) -> dict[str, Iterator[Batch]]:
        pool = 500 if self.cfg.debug.debug else self.cfg.batch.collate_queue_size
        out: dict[str, Iterator[Batch]] = {}
        for name in self.trained:
            seed = data_seed(self.cfg.env_base_seed, name, self.counters.epoch, self.dist.rank)
            ds = TaskBatches(self.tasks[name], self.dico, self.cfg.batch, seed, pool)
            loader = DataLoader(ds, batch_size=None, num_workers=self.cfg.num_workers,
                                persistent_workers=self.cfg.num_workers > 0,
                                prefetch_factor=4 if self.cfg.num_workers > 0 else None)
            out[name] = iter(loader)
        return out

    def _eval_set(self, task: Task, split: str) -> list[Batch]:
        key = (task.name, split)
        if key not in self._eval_sets:
            n = min(self.cfg.eval_size, self.cfg.debug.size) if self.cfg.debug.debug else self.cfg.eval_size
            self._eval_sets[key] = eval_batches(task, task.split(split, n), self.dico, self.cfg.batch)
        return self._eval_sets[key]

    # ---------------------------------------------------------------- steps
    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=self.amp_dtype)

    def _sync(self, final: bool) -> contextlib.AbstractContextManager[object]:
        # the micro-batches before the last of an update only accumulate: all-reducing them would be wasted
        if final or not isinstance(self.net, DistributedDataParallel):
            return contextlib.nullcontext()
        return self.net.no_sync()

    def _step(self, batch: Batch) -> StepStats:
        self.net.train()
        final = (self.counters.n_iter + 1) % self.cfg.accumulate_gradients == 0
        with self._sync(final):  # forward and backward: DDP decides in forward whether backward all-reduces
            with self._autocast():
                loss = self.net(batch)
            stats, n_bad = self._share(float(loss.detach()), batch)
            if n_bad:
                value = f"{float(loss.detach())}" + (f" here, non-finite on {n_bad} of {self.dist.world_size} ranks"
                                                     if self.dist.enabled else "")
                self.log.warning(f"non-finite loss {value} at iteration {self.counters.n_iter}; batch skipped")
                self.opt.zero_grad(set_to_none=True)
                return stats
            self.scaler.scale(loss).backward()
        if final:
            self._update()
        return stats

    def _share(self, loss: float, batch: Batch) -> tuple[StepStats, int]:
        """The batch's numbers summed over the ranks, in one small all-reduce: the epoch then ends on the same
        batch on every rank, and a non-finite loss on any rank skips the batch on all of them (a rank that
        skipped backward would leave the others waiting in theirs). Returns (stats, ranks with a bad loss)."""
        finite = math.isfinite(loss)
        n_good, total, seqs, tokens = all_sum([float(finite), loss if finite else 0.0, batch.n_seqs,
                                               batch.n_tokens], self.dist, self.device)
        n_bad = self.dist.world_size - round(n_good)
        mean = total / self.dist.world_size if n_bad == 0 else math.nan
        return StepStats(mean, round(seqs), round(tokens)), n_bad

    def _update(self) -> None:
        self.scaler.unscale_(self.opt)
        clip = self.cfg.clip_grad_norm if self.cfg.clip_grad_norm > 0 else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        # gradients are all-reduced, so the ranks' norms agree; the vote makes sure they skip together
        finite = all_true(math.isfinite(norm), self.dist, self.device)
        if not finite and not self.scaler.is_enabled():
            # one such update turns every weight into NaN (clipping by a non-finite norm spreads it). Seen
            # with bf16 on an H100 after a finite loss, ~1 update in 240 (cause not pinned down; SDPA's
            # memory-efficient backward with a mask is known for it, pytorch/pytorch#119320). An fp16
            # GradScaler skips these steps itself.
            value = f"{norm}" + (" here, non-finite on some rank" if self.dist.enabled else "")
            self.log.warning(f"non-finite gradient norm {value} at iteration {self.counters.n_iter}; update skipped")
            self.opt.zero_grad(set_to_none=True)
            return
        set_lr(self.opt, self.schedule(self.counters.n_updates))
        self.scaler.step(self.opt)
        self.scaler.update()
        self.opt.zero_grad(set_to_none=True)
        self.counters.n_updates += 1

    # ---------------------------------------------------------------- evaluation
    def evaluate(self) -> dict[str, Any]:
        scores: dict[str, Any] = {"epoch": self.counters.epoch}
        for split in split_list(self.cfg.eval_splits):
            for name, task in self.tasks.items():
                with self._autocast():
                    m = evaluate_batches(self.model, self._eval_set(task, split), self.dico, self.device)
                scores.update({f"{split}-{name}-{k}": v for k, v in m.items()})
        if self.cfg.n_th_to_prove > 0:
            for env in sorted({t.env for t in self.tasks.values() if t.env}):
                got = greedy_proving_metrics(self.model, self.dico, env, self.cfg.n_th_to_prove, "valid",
                                             self.device)
                scores.update(got)
        return scores

    # ---------------------------------------------------------------- loop
    def _evaluate_on_main(self) -> dict[str, Any]:
        """Rank 0 evaluates on the full sets (the figures of a single process) while the others wait; every
        rank gets the scores, so that all trackers (best values, stopping counter) stay the same."""
        scores = self.evaluate() if self.dist.is_main else None
        scores = broadcast(scores, self.dist)
        assert scores is not None
        return scores

    def _out_of_time(self) -> bool:
        # rank 0's clock decides for all: ranks measuring either side of the limit would part ways
        c, limit = self.counters, self.cfg.max_time_min
        return broadcast(bool(limit) and c.train_seconds > 60 * limit, self.dist)

    def run(self) -> Counters:
        cfg, c = self.cfg, self.counters
        if not self.trained:
            self.exp.metrics.log(self._evaluate_on_main(), c.n_iter)
            return c
        loaders = self._loaders()
        mark = time.time()
        while c.epoch < cfg.max_epoch:
            if self._out_of_time():
                self.log.info(f"--max_time_min {cfg.max_time_min} reached ({c.train_seconds / 60:.1f} min), stopping")
                break
            rng = random.Random(zlib.crc32(f"{cfg.seed}/tasks/{c.epoch}".encode()))
            self.log.info(f"============ starting epoch {c.epoch} ============")
            n_seq, window = 0, _Window()
            while n_seq < cfg.epoch_size or c.n_iter % cfg.accumulate_gradients:
                name = self._pick_task(rng)
                t0 = time.perf_counter()
                batch = next(loaders[name]).to(self.device)
                t1 = time.perf_counter()
                stats = self._step(batch)
                window.add(name, stats, t1 - t0, time.perf_counter() - t1)
                c.n_iter += 1
                n_seq += stats.n_seqs
                c.n_sequences += stats.n_seqs
                if c.n_iter % cfg.log_network_stats_freq == 0:
                    self._log_progress(window, n_seq)
                    window = _Window()
            c.epoch += 1
            now = time.time()
            c.train_seconds, mark = c.train_seconds + now - mark, now
            stop = False
            if c.epoch % cfg.eval_freq == 0:
                scores = self._evaluate_on_main()
                self.exp.metrics.log(scores, c.n_iter)
                for name in self.tracker.improved(scores):
                    self._save(self.exp.path / f"best-{name}.pth")
                    self.log.info(f"new best {name} = {scores[name]}: saved best-{name}.pth")
                stop = self.tracker.should_stop(scores)
            self._save(self.exp.checkpoint_path)
            self.log.info(f"saved {self.exp.checkpoint_path} (epoch {c.epoch}, {c.n_iter} iterations)")
            if self.on_epoch_end is not None and self.dist.is_main:
                self.on_epoch_end(self)
            if stop:
                self.log.info(f"stopping criterion {cfg.stopping_criterion}: no improvement in "
                              f"{self.tracker.stop_count} evaluations, stopping")
                break
        return c

    def _pick_task(self, rng: random.Random) -> str:
        """A task drawn by weight among those ready to give data; when none is ready, among all (the draw
        then waits for data, as a replay buffer below its min_len does)."""
        ready = [(n, w) for n, w in zip(self.trained, self.weights, strict=True) if _is_ready(self.tasks[n])]
        if not ready:
            return rng.choices(self.trained, self.weights)[0]
        return rng.choices([n for n, _ in ready], [w for _, w in ready])[0]

    def _log_progress(self, w: _Window, n_seq: int) -> None:
        c = self.counters
        elapsed = max(w.data_s + w.step_s, 1e-9)
        lr = self.opt.param_groups[0]["lr"]
        losses = " ".join(f"{k}: {sum(v) / len(v):.4f}" for k, v in sorted(w.losses.items()))
        pct = 100.0 * n_seq / self.cfg.epoch_size
        self.log.info(f"epoch {c.epoch} - iter {c.n_iter} ({pct:.0f}% of epoch) - {w.seqs / elapsed:.1f} "
                      f"sequences/s - {w.tokens / elapsed:.0f} tokens/s - loss {losses} - lr {lr:.4g} - "
                      f"{c.n_updates} updates - data wait {100 * w.data_s / elapsed:.0f}%")
        stats = {"sequences_per_s": w.seqs / elapsed, "tokens_per_s": w.tokens / elapsed, "lr": lr,
                 **{f"loss_{k}": sum(v) / len(v) for k, v in w.losses.items()}}
        self.exp.metrics.scalars(stats, c.n_iter, prefix="train/")


def _is_ready(task: Task) -> bool:
    return task.ready is None or task.ready()


class _Window:
    """Statistics since the last progress line."""

    def __init__(self) -> None:
        self.losses: dict[str, list[float]] = defaultdict(list)
        self.seqs = self.tokens = 0
        self.data_s = self.step_s = 0.0

    def add(self, task: str, step: StepStats, data_s: float, step_s: float) -> None:
        if math.isfinite(step.loss):
            self.losses[task].append(step.loss)
        self.seqs += step.n_seqs
        self.tokens += step.n_tokens
        self.data_s += data_s
        self.step_s += step_s
