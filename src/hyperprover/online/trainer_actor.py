"""The trainer actor: the Trainer of `hyperprover train`, fed by replay buffers of search samples.

Each `<env>_mcts_tactic` / `<env>_mcts_critic` task reads from its own replay buffer (FIFO, uniform
draws that wait for `min_len` samples); supervised tasks in `--trainer.tasks` are mixed in by
`tasks_weight`. After every epoch the weights are put in Ray's object store as a new model version,
and every `async_bwd_eval_freq` epochs a snapshot is proved in its own Ray task (online/async_eval.py).
The training loop runs in a thread, so `add_samples` and `latest` answer while it trains.

Every sample received is appended to `trainer/replay.jsonl`, and the draws made so far are saved after each
epoch, so that a run resumed in a later piece refills its buffers with the earlier pieces' proofs instead of
starting them empty. A resume also cuts the file down to what the buffers keep (`--rb.max_len` of each kind), so
that a run of many pieces neither grows it without end nor reads it all back each time.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from hyperprover import atomic
from hyperprover.jsonl import repair_torn_line
from hyperprover.online.async_eval import async_eval_task
from hyperprover.online.config import OnlineConfig
from hyperprover.online.replay_buffer import ReplayBuffer
from hyperprover.search.samples import CriticSample, TacticSample, read_jsonl, write_jsonl
from hyperprover.train.tasks import CriticRecord, Record, Seq2SeqRecord, Task, make_task


class StopTraining(Exception):
    """Raised from the epoch-end hook to leave the training loop."""


def replay_task(name: str, buffer: ReplayBuffer[Any], env: str) -> Task:
    """A task whose records are drawn from `buffer`: one tactic of a tactic sample, drawn by its target
    probability, or a critic sample's goal and soft target."""
    critic = name.endswith("_critic")

    def train(seed: int) -> Iterator[Record]:
        rng = random.Random(seed)
        while True:
            s = buffer.draw(1)[0]
            if critic:
                assert isinstance(s, CriticSample)
                yield CriticRecord(s.goal_tokens, s.q_estimate)
            else:
                assert isinstance(s, TacticSample)
                j = rng.choices(range(len(s.tactics)), weights=s.target_pi)[0] if len(s.tactics) > 1 else 0
                yield Seq2SeqRecord(s.goal_tokens, s.tactic_tokens[j])

    def split(split: str, n: int) -> list[Record]:
        return []  # search samples have no held-out split; the async evaluations measure progress

    return Task(name, "critic" if critic else "seq2seq", train, split, env=env, ready=lambda: buffer.ready)


def read_replay(path: Path) -> tuple[list[TacticSample], list[CriticSample], str | None]:
    """The samples of a replay file, after making it safe to append to again: a last line torn by a killed run is
    dropped (`repair_torn_line`'s warning is returned); any other bad line is an error."""
    torn = repair_torn_line(path)
    tactic: list[TacticSample] = []
    critic: list[CriticSample] = []
    try:
        for s in read_jsonl(path):
            if isinstance(s, TacticSample):
                tactic.append(s)
            elif isinstance(s, CriticSample):
                critic.append(s)
    except ValueError as e:
        raise ValueError(f"{e}; delete the file to resume with empty replay buffers") from None
    return tactic, critic, torn


@dataclass
class EarlierPieces:
    """What a resumed trainer takes back from its folder: the samples its buffers keep, the draws made per buffer
    (for --rb.max_reuse) and the samples cut from the replay file per kind (so that `ingress` counts them)."""

    tactic: list[TacticSample] = field(default_factory=list)
    critic: list[CriticSample] = field(default_factory=list)
    drawn: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=lambda: {"tactic": 0, "critic": 0})
    notes: list[str] = field(default_factory=list)


def write_counts(path: Path, drawn: dict[str, int], dropped: dict[str, int]) -> None:
    atomic.write_text(path, json.dumps({"drawn": drawn, "dropped": dropped}))


def load_earlier_pieces(replay_path: Path, counts_path: Path, max_len: int) -> EarlierPieces:
    """Read the replay file and the counts back, and cut the file to the last `max_len` samples of each kind (what
    the FIFO buffers keep). The counts are written before the file is replaced: a kill between the two overstates
    the samples received, never the draws. A counts file of session 28 holds the draws alone."""
    out = EarlierPieces()
    if counts_path.is_file():
        data = json.loads(counts_path.read_text())
        data = data if "drawn" in data else {"drawn": data}
        out.drawn = {k: int(v) for k, v in data["drawn"].items()}
        out.dropped.update({k: int(v) for k, v in data.get("dropped", {}).items()})
    if not replay_path.is_file():
        return out
    tactic, critic, torn = read_replay(replay_path)
    out.notes += [torn] if torn else []
    out.tactic, out.critic = tactic[-max_len:], critic[-max_len:]
    if len(tactic) > max_len or len(critic) > max_len:
        out.dropped = {"tactic": out.dropped["tactic"] + len(tactic) - len(out.tactic),
                       "critic": out.dropped["critic"] + len(critic) - len(out.critic)}
        write_counts(counts_path, out.drawn, out.dropped)
        atomic.replace_file(replay_path, lambda tmp: write_jsonl(tmp, [*out.tactic, *out.critic]))
        out.notes.append(f"{replay_path} cut to the last {max_len} samples of each kind")
    return out


class TrainerWorker:
    def __init__(self, cfg: OnlineConfig, run_path: str) -> None:
        import torch

        from hyperprover.experiment import setup_experiment
        from hyperprover.model.checkpoint import load_checkpoint
        from hyperprover.provers.options import resolve_device
        from hyperprover.train.trainer import Trainer

        if cfg.local and cfg.torch_threads > 0:
            torch.set_num_threads(cfg.torch_threads)
        self.cfg, self.run_path = cfg, Path(run_path)
        tcfg = copy.deepcopy(cfg.trainer)
        tcfg.tasks = ",".join(cfg.trainer_tasks())
        tcfg.dump_path, tcfg.exp_name, tcfg.exp_id = str(self.run_path), "", "trainer"
        tcfg.debug.debug = False
        tcfg.reload_model = ""  # the starting weights come whole (model and dictionary) from init_state
        tcfg.num_workers = 0  # replay buffers live in this process: data loaders must not fork away from them
        tcfg.batch.collate_queue_size = min(tcfg.batch.collate_queue_size, max(64, cfg.rb.min_len))
        self.buffers: dict[str, ReplayBuffer[Any]] = {}
        tasks: dict[str, Task] = {}
        for name in cfg.trainer_tasks():
            if name in cfg.mcts_tasks():
                self.buffers[name] = ReplayBuffer(cfg.rb.min_len, cfg.rb.max_len, cfg.seed, cfg.rb.max_reuse)
                tasks[name] = replay_task(name, self.buffers[name], cfg.env)
            else:
                tasks[name] = make_task(name, tcfg)
        self.exp = setup_experiment(tcfg, "online-trainer", log_name="train.log")
        self.replay_path, self.drawn_path = self.exp.path / "replay.jsonl", self.exp.path / "replay_drawn.json"
        self.replay_lock = threading.Lock()
        self.dropped = {"tactic": 0, "critic": 0}  # samples cut from the replay file by earlier resumes
        self._refill()
        device = torch.device(resolve_device(tcfg.device if cfg.trainer_gpus > 0 else "cpu"))
        self.trainer = Trainer(tcfg, self.exp, tasks, device, init_state=load_checkpoint(cfg.reload_model),
                               on_epoch_end=self._epoch_end)
        # a version is an epoch: a resumed run goes on numbering, and its provers get the resumed weights at once
        self.version = self.trainer.counters.epoch
        self.latest_ref: Any = ray.put(self._state()) if self.version else None
        self.evals: dict[int, Any] = {}  # epoch -> ref of its async evaluation
        self.lock = threading.Lock()  # evals are added by the training thread, collected by status()
        self.error: str | None = None
        self.stop_flag = False
        self.thread: threading.Thread | None = None

    def _refill(self) -> None:
        """Put the samples of the run's earlier pieces back in the buffers, with the draws already made of them and
        the samples received in all."""
        if not self.buffers:
            return
        earlier = load_earlier_pieces(self.replay_path, self.drawn_path, self.cfg.rb.max_len)
        for note in earlier.notes:
            self.exp.logger.info(note)
        self.dropped = earlier.dropped
        for name, buf in self.buffers.items():
            kind = "critic" if name.endswith("_critic") else "tactic"
            samples: list[Any] = list(earlier.critic if kind == "critic" else earlier.tactic)
            buf.add(samples)
            buf.ingress = len(samples) + earlier.dropped[kind]
            buf.n_drawn = earlier.drawn.get(name, 0)
        if earlier.tactic or earlier.critic:
            self.exp.logger.info(f"replay buffers refilled from {self.replay_path}: {len(earlier.tactic)} tactic "
                                 f"and {len(earlier.critic)} critic samples of the earlier pieces")

    def start(self) -> bool:
        self.thread = threading.Thread(target=self._run, daemon=True, name="trainer")
        self.thread.start()
        return True

    def _run(self) -> None:
        try:
            self.trainer.run()
            self.exp.logger.info("trainer finished (max_epoch or stopping criterion)")
        except StopTraining:
            self.exp.logger.info("trainer stopped by the controller")
        except Exception:  # noqa: BLE001 - reported to the controller through status()
            self.error = traceback.format_exc(limit=8)
            self.exp.logger.error(f"trainer crashed:\n{self.error}")
        finally:
            self.exp.close()

    def _epoch_end(self, trainer: Any) -> None:
        from hyperprover.model.checkpoint import save_checkpoint

        self.latest_ref = ray.put(self._state())
        epoch = self.version = trainer.counters.epoch
        write_counts(self.drawn_path, {name: b.n_drawn for name, b in self.buffers.items()}, self.dropped)
        stats = {f"{name}/{k}": v for name, b in self.buffers.items() for k, v in b.stats().items()}
        self.exp.logger.info(f"published model version {self.version} (epoch {epoch}); buffers {stats}")
        freq = self.cfg.async_bwd_eval_freq
        if freq and epoch % freq == 0 and self._evals_running():
            self.exp.logger.info(f"epoch {epoch}: an async evaluation is still running; this epoch is not evaluated")
        elif freq and epoch % freq == 0:
            out = self.run_path / "bwd_prover_eval" / self.cfg.env / self.cfg.async_eval_split / str(epoch)
            save_checkpoint(out / "checkpoint.pth", trainer.model, trainer.dico, trainer.dims, epoch=epoch,
                            version=self.version)
            with self.lock:
                self.evals[epoch] = async_eval_task.options(num_cpus=1).remote(self.cfg, str(out), epoch)
            self.exp.logger.info(f"async evaluation of epoch {epoch} started in {out}")
        if self.stop_flag:
            raise StopTraining

    def _state(self) -> dict[str, Any]:
        return {k: v.detach().to("cpu", copy=True) for k, v in self.trainer.model.state_dict().items()}

    # ---------------------------------------------------------------- actor methods
    def add_samples(self, tactic: list[TacticSample], critic: list[CriticSample]) -> dict[str, float]:
        if self.buffers:
            with self.replay_lock:  # two batches may arrive at once: their lines must not interleave
                write_jsonl(self.replay_path, [*tactic, *critic])
        for name, buf in self.buffers.items():
            buf.add(list(critic) if name.endswith("_critic") else list(tactic))
        return self.stats()

    def latest(self) -> tuple[int, list[Any]]:
        """(version, [ref of its state dict]); the ref is wrapped so that Ray does not fetch it here."""
        return self.version, [self.latest_ref] if self.latest_ref is not None else []

    def stats(self) -> dict[str, float]:
        out: dict[str, float] = {"version": float(self.version), "epoch": float(self.trainer.counters.epoch)}
        for name, b in self.buffers.items():
            out.update({f"{name}/{k}": float(v) for k, v in b.stats().items()})
        out["ingress"] = float(sum(b.ingress for b in self.buffers.values()))
        return out

    def status(self) -> dict[str, Any]:
        with self.lock:
            pending = list(self.evals.items())
        for e, ref in pending:
            if not ray.wait([ref], timeout=0)[0]:
                continue
            with self.lock:
                self.evals.pop(e, None)
            try:
                ray.get(ref)
            except ray.exceptions.RayError as err:
                self.exp.logger.error(f"async evaluation of epoch {e} failed: {err}")
        alive = self.thread is not None and self.thread.is_alive()
        return {"error": self.error, "running": alive, **self.stats()}

    def _evals_running(self) -> bool:
        with self.lock:
            refs = list(self.evals.values())
        return bool(refs) and len(ray.wait(refs, num_returns=len(refs), timeout=0)[0]) < len(refs)

    def stop(self) -> bool:
        self.stop_flag = True
        return True
