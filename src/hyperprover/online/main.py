"""`hyperprover online`: online HTPS training on Ray (docs/guide-online.md; the original's launch_mcts).

The controller (this process, no GPU) draws theorems from `--data_src_props` splits, samples per-proof
search parameters, hands jobs to `--n_provers` prover actors, records every finished attempt in
mcts_results.jsonl, forwards the search samples to the trainer actor (at most two batches in flight:
back-pressure), and pushes each new model version to the provers (`--beam_kind`). A prover that dies
is restarted by Ray and its theorems re-queued; a dead trainer stops the run with a clear message.
Ctrl-C or `--max_time` stop cleanly: every file is flushed, Ray is shut down.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hyperprover.config import ConfigError, help_text, load_config, save_params
from hyperprover.envs.base import split_theorems
from hyperprover.experiment import (
    Experiment,
    absolute_paths,
    check_run_names,
    parse_log_lines,
    setup_experiment,
)
from hyperprover.jsonl import read_jsonl, repair_torn_line
from hyperprover.online.async_eval import finished_evals
from hyperprover.online.config import OnlineConfig, check_online_config
from hyperprover.online.hyperopt import SearchParamsSampler
from hyperprover.online.label_sampler import AttemptOutcome, SplitSampler, parse_split_props
from hyperprover.provers.actor import Job, JobResult
from hyperprover.provers.options import PRESETS, check_expander, open_env
from hyperprover.provers.pool import ProverPool, init_ray, start_provers


class TrainerDied(RuntimeError):
    pass


def grown_budget(base: int, failures: int, growth: float, cap: int) -> int:
    """The expansion budget of the next attempt on a theorem never solved after `failures` attempts: hard
    theorems get more search, easy ones stay cheap (iterative deepening over attempts)."""
    return max(base, min(cap, round(base * growth ** failures)))


def solved_critics(r: JobResult) -> tuple[float, ...]:
    """The critic's values of the nodes the search found solved (the label sampler's pos_value_loss)."""
    return tuple(c.critic for c in r.critic_samples if c.solved)


def result_line(r: JobResult) -> dict[str, Any]:
    critics = solved_critics(r)
    return {"job_id": r.job_id, "label": r.label, "split": r.split, "attempt": r.attempt, "proved": r.proved,
            "proof_size": r.proof_size, "params": r.draw, "stats": r.stats, "version": r.version,
            "prover": r.prover, "error": r.error, "time": time.time(),
            "solved_critic_mean": sum(critics) / len(critics) if critics else None}


def replayed_outcome(record: dict[str, Any]) -> AttemptOutcome:
    """What the label sampler learnt from a recorded attempt (the mean stands for the solved nodes' critics:
    pos_value_loss only uses their mean)."""
    mean = record.get("solved_critic_mean")
    return AttemptOutcome(record["label"], record["proved"], record["proof_size"], () if mean is None else (mean,),
                          record["time"])


def earlier_pieces(log: Path) -> tuple[float, int]:
    """Run time (seconds) and statistics lines of the pieces of a run before this one, from their controller.log:
    a run stopped and started again goes on counting both, so `--max_time` is the whole run's and the curves
    of `hyperprover plot` go on where the last piece stopped."""
    logged = parse_log_lines(log) if log.exists() else []
    seconds = max((float(d.get("time_s", 0.0)) for d in logged), default=0.0)
    return seconds, sum("launcher_stats/n_recorded" in d for d in logged)


class Controller:
    def __init__(self, cfg: OnlineConfig, exp: Experiment) -> None:
        import ray

        self.cfg, self.exp, self.log = cfg, exp, exp.logger
        env = open_env(cfg)
        props = parse_split_props(cfg.data_src_props)
        self.labels = {s: [t.label for t in split_theorems(env, s)] for s in props}
        self.sampler = SplitSampler(self.labels, props, cfg.label_sampler, seed=cfg.seed)
        self.hyperopt = SearchParamsSampler(cfg.hyperopt, cfg.hyperopt_param_str, seed=cfg.seed)
        self.results_path = exp.path / "mcts_results.jsonl"
        torn = repair_torn_line(self.results_path)  # a killed run's last line: never glue a record onto it
        if torn:
            self.log.warning(torn)
        previous = read_jsonl(self.results_path)
        self.next_id = 1 + max((int(r["job_id"]) for r in previous), default=0)
        # attempts per (split, label): the attempt number seeds a search and its sampling, so repeated attempts
        # on one theorem explore differently (a resumed run goes on counting)
        self.n_attempts: Counter[tuple[str, str]] = Counter((r["split"], r["label"]) for r in previous)
        self.solved: dict[str, set[str]] = {s: set() for s in self.labels}
        for r in previous:
            if r["proved"] and r["split"] in self.solved:
                self.solved[r["split"]].add(r["label"])
            self.sampler.replay(r["split"], replayed_outcome(r))
        if previous:
            self.log.info(f"the label sampler goes on from the {len(previous)} attempts of the earlier pieces")
        self.results_file = open(self.results_path, "a")  # noqa: SIM115 - closed in close()
        self.ready: deque[Job] = deque()
        self.n_recorded = len(previous)  # --max_proofs counts the whole run, as --max_time does
        self.time_before, self.steps_before = earlier_pieces(exp.path / "controller.log")
        self.window: list[JobResult] = []
        self.trainer: Any = None
        self.sample_refs: list[Any] = []
        self.ingress = 0
        self.trainer_stats: dict[str, float] = {}
        self.published = 0
        self.best_eval = -1.0
        self.last_reload = 0.0 if previous else time.time()
        self.stop_reason = ""
        earlier = finished_evals(exp.path, cfg.env, cfg.async_eval_split)
        self.logged_evals = {e.epoch for e in earlier}  # logged by the earlier pieces of the run
        self.critic_on = False
        for e in earlier:
            self._critic_switch(e.epoch, e.critic_auc)
        self.started = time.time()  # the x axis of the plots; run() sets it again when the loop starts
        if not cfg.no_trainer:
            from hyperprover.online.trainer_actor import TrainerWorker

            self.trainer = ray.remote(TrainerWorker).options(
                max_restarts=0, max_concurrency=4, num_cpus=1, num_gpus=cfg.trainer_gpus,
            ).remote(cfg, str(exp.path))
            ray.get(self.trainer.start.remote())
        handles = start_provers(cfg.n_provers, cfg, cfg.reload_model, str(exp.path / "provers"), cfg.max_restarts,
                                cfg.prover_gpus, cfg.torch_threads if cfg.local else 0,
                                keep_samples=not cfg.no_trainer, resources=cfg.ray.prover_resource_dict())
        self.pool = ProverPool(handles, self.log)

    # ---------------------------------------------------------------- jobs
    def _new_job(self) -> Job:
        split, label = self.sampler.sample()
        draw = self.hyperopt.draw()
        if label not in self.solved.get(split, ()) and self.cfg.unsolved_budget_growth > 1.0:
            base = int(draw.get("n_expansions", self.cfg.search.n_expansions))
            draw["n_expansions"] = grown_budget(base, self.n_attempts[split, label], self.cfg.unsolved_budget_growth,
                                                self.cfg.max_expansions or 8 * self.cfg.search.n_expansions)
        if self.critic_on:
            draw["no_critic"] = False
        self.n_attempts[split, label] += 1
        job = Job(self.next_id, label, split, self.n_attempts[split, label], draw)
        self.next_id += 1
        return job

    def _feed(self) -> None:
        want = self.cfg.n_simultaneous_proofs * 2
        for p in self.pool.available:
            n = want - len(p.in_flight)
            if n <= 0:
                continue
            jobs = [self.ready.popleft() if self.ready else self._new_job() for _ in range(n)]
            self.pool.submit(p, jobs)
        while len(self.ready) < self.cfg.n_simultaneous_proofs:
            self.ready.append(self._new_job())

    def _record(self, r: JobResult) -> None:
        self.results_file.write(json.dumps(result_line(r), sort_keys=True) + "\n")
        self.results_file.flush()
        self.n_recorded += 1
        self.window.append(r)
        if r.proved:
            self.solved.setdefault(r.split, set()).add(r.label)
        self.sampler.update(r.split, AttemptOutcome(r.label, r.proved, r.proof_size, solved_critics(r)))
        self.hyperopt.record(r.draw, r.proved)

    # ---------------------------------------------------------------- trainer
    def _send_samples(self, results: list[JobResult]) -> None:
        import ray

        if self.trainer is None:
            return
        tactic = [s for r in results for s in r.tactic_samples]
        critic = [s for r in results for s in r.critic_samples]
        if not tactic and not critic:
            return
        while len(self.sample_refs) >= 2:  # back-pressure: wait for the trainer to take earlier batches
            done, self.sample_refs = ray.wait(self.sample_refs, num_returns=1, timeout=60)
            for ref in done:
                self.trainer_stats = self._trainer_get(ref)
        self.sample_refs.append(self.trainer.add_samples.remote(tactic, critic))
        self.ingress += len(tactic) + len(critic)

    def _trainer_get(self, ref: Any, timeout: float = 60.0) -> Any:
        import ray

        try:
            return ray.get(ref, timeout=timeout)
        except ray.exceptions.RayActorError as e:
            raise TrainerDied(f"the trainer actor died ({type(e).__name__}); see {self.exp.path}/trainer/"
                              "train.log. The run stops: restart it from the last trainer checkpoint") from None

    def _check_trainer(self) -> None:
        if self.trainer is None:
            return
        status = self._trainer_get(self.trainer.status.remote())
        if status["error"]:
            last = status["error"].strip().splitlines()[-1]
            raise TrainerDied(f"the trainer crashed: {last} (full traceback in {self.exp.path}/trainer/train.log)")
        self.trainer_stats = status
        for e in finished_evals(self.exp.path, self.cfg.env, self.cfg.async_eval_split):
            if e.epoch not in self.logged_evals:  # one __log__ line per async evaluation, for `hyperprover plot`
                self.logged_evals.add(e.epoch)
                split = self.cfg.async_eval_split
                metrics = {"epoch": e.epoch, "time_s": round(self.time_before + time.time() - self.started, 1),
                           f"async_eval/{split}/proved_rate": e.proved_rate}
                if e.critic_auc is not None:
                    metrics[f"async_eval/{split}/critic_auc"] = e.critic_auc
                self.exp.metrics.log(metrics, e.epoch)
                self._critic_switch(e.epoch, e.critic_auc)

    def _critic_switch(self, epoch: int, auc: float | None) -> None:
        """--critic_from_auc: while the latest held-out evaluation finds that the critic ranks goals well enough,
        the searches of new attempts steer with it (HTPS's value backup; else with the policy alone). Online
        training can also make the critic worse (on Metamath it fell from 0.61 to 0.53 in an hour): a critic back
        at chance is switched off again, since it would then steer the search at random."""
        cut = self.cfg.critic_from_auc
        if not cut or auc is None or (auc >= cut) == self.critic_on:
            return
        self.critic_on = auc >= cut
        if self.critic_on:
            self.log.info(f"HTPS steers with the critic from now on: the epoch {epoch} async evaluation measured its "
                          f"ROC-AUC at {auc:.3f} >= --critic_from_auc {cut:g}")
        else:
            self.log.info(f"HTPS steers without the critic again: the epoch {epoch} async evaluation measured its "
                          f"ROC-AUC at {auc:.3f} < --critic_from_auc {cut:g}")

    def _reload(self) -> None:
        import ray

        if self.cfg.beam_kind == "fixed" or self.trainer is None:
            return
        if time.time() - self.last_reload < self.cfg.min_reload_time:
            return
        if self.cfg.beam_kind == "automatically_reloading":
            version, refs = self._trainer_get(self.trainer.latest.remote())
            if version > self.published and refs:
                self.pool.set_weights(version, refs[0])
                self.published, self.last_reload = version, time.time()
                self.log.info(f"provers reload model version {version}")
            return
        # increasing_quality: the newest evaluated snapshot, if at least as good as the best so far
        evals = finished_evals(self.exp.path, self.cfg.env, self.cfg.async_eval_split)
        if evals and evals[-1].epoch > self.published and evals[-1].proved_rate >= self.best_eval:
            from hyperprover.model.checkpoint import load_checkpoint

            e = evals[-1]
            self.pool.set_weights(e.epoch, ray.put(load_checkpoint(e.checkpoint)["model"]))
            self.published, self.best_eval, self.last_reload = e.epoch, e.proved_rate, time.time()
            self.log.info(f"provers reload the epoch {e.epoch} snapshot (async eval {100 * e.proved_rate:.1f}%)")

    # ---------------------------------------------------------------- statistics
    def _stats(self, step: int, elapsed_s: float) -> None:
        w, self.window = self.window, []
        stats: dict[str, Any] = {
            "time_s": round(elapsed_s, 1),  # the x axis of `hyperprover plot`: runs logging at other rates compare
            "launcher_stats/n_jobs_ready": len(self.ready), "launcher_stats/n_in_flight": self.pool.n_in_flight(),
            "launcher_stats/n_recorded": self.n_recorded, "launcher_stats/n_requeued": self.pool.n_requeued,
            "launcher_stats/n_prover_deaths": self.pool.n_prover_deaths,
            "launcher_stats/n_provers_alive": len(self.pool.alive), "data_loader/ingress": self.ingress,
            "launcher_stats/n_provers_available": len(self.pool.available),
            "launcher_stats/n_nodes_lost": len(self.pool.lost_nodes),
            "launcher_stats/model_version": self.published,
            "launcher_stats/critic_on": int(self.critic_on),
        }
        for split, labels in self.labels.items():
            stats[f"launcher_stats/solved_labels_acc_{split}"] = len(self.solved.get(split, ())) / len(labels)
            recent = [r for r in w if r.split == split]
            if recent:
                stats[f"launcher_stats/proved_rate_{split}"] = sum(r.proved for r in recent) / len(recent)
        if w:
            stats["mcts_stats/time"] = sum(r.stats.get("time", r.stats.get("time_wall_s", 0.0)) for r in w) / len(w)
            stats["mcts_stats/n_nodes"] = sum(r.stats.get("n_nodes", 0.0) for r in w) / len(w)
            stats["mcts_stats/n_attempts"] = len(w)
        stats.update({f"trainer/{k}": v for k, v in self.trainer_stats.items() if isinstance(v, int | float)})
        stats.update(self.hyperopt.solve_rates())
        self.exp.metrics.log(stats, step)

    # ---------------------------------------------------------------- loop
    def run(self) -> None:
        cfg = self.cfg
        start = last_stats = last_check = self.started = time.time()
        start -= self.time_before  # run time goes on from the earlier pieces
        step = self.steps_before
        stopping = {"sigint": False}

        def on_sigint(signum: int, frame: Any) -> None:
            stopping["sigint"] = True

        main_thread = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
        self._reload()  # a resumed run: the provers search with the trainer's weights from the first attempt on
        try:
            while True:
                if stopping["sigint"]:
                    self.stop_reason = "Ctrl-C"
                    break
                if cfg.max_time and time.time() - start > cfg.max_time:
                    self.stop_reason = f"--max_time {cfg.max_time:g}s"
                    break
                if cfg.max_proofs and self.n_recorded >= cfg.max_proofs:
                    self.stop_reason = f"--max_proofs {cfg.max_proofs}"
                    break
                if not self.pool.alive:
                    raise RuntimeError("every prover died and Ray has no restarts left (--max_restarts)")
                self._feed()
                results, lost = self.pool.poll()
                self.ready.extendleft(reversed(lost))  # lost theorems go first
                for r in results:
                    if not cfg.max_proofs or self.n_recorded < cfg.max_proofs:
                        self._record(r)
                self._send_samples(results)
                if time.time() - last_check > 2.0:
                    self._check_trainer()
                    self._reload()
                    last_check = time.time()
                if time.time() - last_stats > cfg.stats_freq:
                    step += 1
                    self._stats(step, time.time() - start)
                    last_stats = time.time()
                if not results:
                    time.sleep(0.2)
            self._stats(step + 1, time.time() - start)
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, old)

    def close(self) -> None:
        import ray

        self.results_file.flush()
        self.results_file.close()
        self.pool.shutdown()
        if self.trainer is not None:
            try:
                ray.get(self.trainer.stop.remote(), timeout=10)
            except ray.exceptions.RayError:
                pass
            ray.kill(self.trainer, no_restart=True)


def check_inputs(cfg: OnlineConfig) -> None:
    """Fail before Ray starts: the splits must exist and the expander must be buildable."""
    env = open_env(cfg)
    for split in parse_split_props(cfg.data_src_props):
        try:
            n = len(split_theorems(env, split))
        except (KeyError, ValueError) as e:
            raise ConfigError(f"--data_src_props: {e}") from None
        if not n:
            raise ConfigError(f"--data_src_props: split {split!r} has no theorems")
    check_expander(cfg, env)


def main(argv: Sequence[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(help_text(OnlineConfig, "online", __doc__ or "", PRESETS))
        return 0
    try:
        cfg = load_config(OnlineConfig, argv, PRESETS)
        absolute_paths(cfg)
        check_online_config(cfg)
        check_run_names(cfg)
        check_inputs(cfg)
    except ConfigError as e:
        print(f"hyperprover online: {e}", file=sys.stderr)
        return 2
    import ray

    exp = setup_experiment(cfg, "online", log_name="controller.log", argv=argv)
    save_params(cfg, exp.path / "launcher_params.json")
    try:
        init_ray(cfg.ray.address, cfg.ray.num_cpus or cfg.n_provers + 3, cfg.ray.log_to_driver)
    except ConfigError as e:
        exp.logger.error(str(e))
        print(f"hyperprover online: {e}", file=sys.stderr)
        exp.close()
        return 1
    controller: Controller | None = None
    code = 0
    try:
        controller = Controller(cfg, exp)
        controller.run()
        exp.logger.info(f"stopped ({controller.stop_reason}): {controller.n_recorded} attempts recorded in "
                        f"{controller.results_path}")
    except TrainerDied as e:
        exp.logger.error(str(e))
        print(f"hyperprover online: {e}", file=sys.stderr)
        code = 1
    except (ConfigError, RuntimeError) as e:
        exp.logger.error(str(e))
        print(f"hyperprover online: {e}", file=sys.stderr)
        code = 1
    finally:
        if controller is not None:
            controller.close()
        exp.close()
        ray.shutdown()
    return code


__all__ = ["Controller", "OnlineConfig", "main"]
