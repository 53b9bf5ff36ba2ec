"""`hyperprover demo` (what `make run` runs): the whole pipeline on one CPU, on Equations (default) or Metamath.

Equations (`--env eq`):
1. generate random-walk theorems with their proofs and re-check every proof from scratch;
2. train a small transformer on goal -> tactic and critic data for a bounded time;
3. prove the 160 identities three ways at the same expansion budget: the model-free floor (HTPS over every
   complete applicable tactic, uniform priors, critic 0.5), HTPS with the model and best-first with the model;
4. print a table (proved, pass@k, time per theorem, critic AUC), the paired comparisons of each learned prover
   with the floor (`hyperprover compare`: McNemar p-value, bootstrap interval), and where everything is.
Metamath (`--env mm`): step 1 re-checks every proof of set.mm with the project's verifier, step 2 trains on
the goal -> tactic steps of its human proofs, step 3 proves a fixed 200-theorem sample of the valid split
(every 5th, `valid%5=0`) and has the C `metamath` program re-check every proof found, step 4 as above.
Every step writes into `<dump_path>/demo/` (`demo_mm/` for Metamath); running the demo again resumes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hyperprover.config import help_text, load_config, opt

# The supervised_eq_local sweep's optimiser, bounded in time (sweeps/supervised_eq_local.json), with
# data chosen for proving identities on a CPU budget: random-graph proofs (whose goals close on hypotheses and
# trivially true statements, as identities do) mixed with shorter random walks than the spec's default
# (20 steps from up to 10-operator statements, ~100-token goals). At equal training time on 2 cores this
# doubled the share of sampled tactics that apply to the identities (4.9% -> 11.2%, benchmarks/tactic_validity.py).
RECIPE = "graph_rwalk"
TASKS = ("eq_bwd_graph_seq2seq", "eq_bwd_rwalk_seq2seq", "eq_critic_rwalk_seq2seqtok")
# the optimiser and logging of both recipes (sweeps/supervised_{eq,mm}_local.json)
TRAINING_ARGS = [
    "--batch.tokens", "4000", "--batch.size", "64", "--batch.collate_queue_size", "2000",
    "--optimizer", "adam_inverse_sqrt,warmup_updates=300,lr=0.002,weight_decay=0.01", "--clip_grad_norm", "1.0",
    "--eval_splits", "valid", "--cpu_threads", "1", "--log_network_stats_freq", "50",
]
# Proving, not training, is what the model costs here: scoring a goal's ~100 candidate tactics runs the decoder
# over each, so the Equations model has one decoder layer of width 96 (the Metamath one: two of 128). At equal
# training time it proves as many identities at equal budget with 2x the expansions per CPU-second
# (benchmarks/prover_throughput.py --new_checkpoint; docs/results.md, "A smaller model").
EQ_MODEL_ARGS = ["--model.emb_dim", "96", "--model.enc_n_layers", "3", "--model.dec_n_layers", "1",
                 "--model.n_heads", "4"]
MM_MODEL_ARGS = ["--model.emb_dim", "128", "--model.enc_n_layers", "3", "--model.dec_n_layers", "2",
                 "--model.n_heads", "4"]
TRAIN_ARGS = [
    "--tasks", ",".join(TASKS), "--tasks_weight", "2,2,1",
    "--eq.gen.rwalk_max_init_ops", "3", "--eq.gen.rwalk_n_steps", "10", "--eq.gen.rwalk_max_created_hyps", "3",
    *EQ_MODEL_ARGS, *TRAINING_ARGS, "--batch.max_len", "256", "--eval_size", "100",
    "--validation_metrics", "valid-eq_bwd_graph_seq2seq-tok-acc",
]
# best-first expands one goal per search and step: more searches at once share each model call (HTPS already
# sends up to 50 goals per search). Sampling is seeded per goal, so this changes the speed, not the proofs.
SIMULTANEOUS = {"htps": 8, "bfs": 32}
# name -> (search, expander): the floor runs the same HTPS as the learned prover, without a model
PROVERS = {"floor": ("htps", "uniform"), "htps": ("htps", "model"), "bfs": ("bfs", "model")}
# sweeps/supervised_mm_local.json's model on the goal -> tactic steps of set.mm's human proofs
MM_TRAIN_ARGS = [
    "--tasks", "mm_x2y_goal--tactic_seq2seq", *MM_MODEL_ARGS, *TRAINING_ARGS, "--batch.max_len", "512",
    "--eval_size", "200",
    "--validation_metrics", "valid-mm_x2y_goal--tactic_seq2seq-tok-acc",
]


@dataclass(frozen=True)
class Recipe:
    """What the demo trains and proves for one env."""

    env: str
    folder: str  # under dump_path
    model: str  # supervised/<model>/checkpoint.pth
    train_args: tuple[str, ...]
    split: str  # the theorems of step 3
    train_minutes: float
    n_seeds: int
    c_check: bool  # the C metamath program re-checks every proof found
    learned: tuple[str, ...] = ()  # extra options of the learned provers
    subst_samples: int | None = None  # tactics sampled per goal beside the scored ones (None: --n_subst_samples)
    max_tactics: int = 0  # the learned provers apply a goal's best N tactics (by prior) only (0: all)


RECIPES = {
    # the env applying all ~100 scored tactics of a goal was then the learned prover's largest cost; its best 32
    # (the floor applies 32 too, drawn at random) proved the same 51 of 480 at this budget in 0.57x the time
    "eq": Recipe("eq", "demo", f"{RECIPE}_w96_dec1", tuple(TRAIN_ARGS), "identities", 15.0, 3, False,
                 max_tactics=32),
    # a 42k-word vocabulary: renormalised scores compute only the logits a step can take; no critic is trained
    # on Metamath (its human proofs give no unprovable goals), so HTPS values new goals at 0.5 as the floor does;
    # the model ranks the complete applicable tactics and samples no substitution (sampling them lost to the
    # floor on Metamath, ranking won: docs/metamath.md)
    "mm": Recipe("mm", "demo_mm", "setmm", tuple(MM_TRAIN_ARGS), "valid%5=0", 25.0, 1, True,
                 ("--decoding.renormalize_scores", "true", "--search.no_critic", "true"), subst_samples=0),
}


@dataclass
class DemoConfig:
    env: str = opt("eq", "eq: Equations (random walks, the 160 identities); mm: Metamath (set.mm)",
                   choices=tuple(RECIPES))
    dump_path: str = opt("./dumped", "root folder; the demo writes into <dump_path>/demo/ (demo_mm/ for mm)")
    n_theorems: int = opt(500, "eq: random-walk theorems generated and re-checked in step 1", min=1)
    train_minutes: float = opt(0.0, "training time of step 2 in minutes (0: eq 15, mm 25)", min=0.0)
    epoch_size: int = opt(6000, "training sequences per epoch (the time limit is checked between epochs)", min=1)
    vocab_samples: int = opt(5000, "training records read to build the vocabulary", min=1)
    n_expansions: int = opt(64, "expansion budget per identity, the same for HTPS and best-first", min=1)
    n_samples: int = opt(32, "tactics per expanded goal: drawn by the floor, sampled by the model without "
                             "score_enumerated (the paper's Equations setting)", min=1)
    score_enumerated: bool = opt(True, "the model scores every complete applicable tactic and samples only those "
                                       "that need substitutions (decoding.score_enumerated)")
    n_subst_samples: int = opt(8, "with score_enumerated: tactics the model samples per goal among those that need "
                                  "substitutions (eq; mm samples none: its model ranks the complete tactics)", min=1)
    applicable_only: bool = opt(True, "sample only tactics whose rule matches the goal (decoding.applicable_only)")
    max_attempts: int = opt(1, "attempts per identity (pass@1..k)", min=1)
    n_seeds: int = opt(0, "search seeds per prover (--search.seed 0..N-1): the comparisons pool them, since one "
                          "seed of the floor alone moves by a few theorems (0: eq 3, mm 1)", min=0)
    n_identities: int = opt(0, "prove only the first N theorems of step 3 (0: all: eq 160, mm 200)", min=0)
    timeout_s: float = opt(0.0, "wall-clock limit of one search in seconds (0: none, the budget is n_expansions)",
                           min=0.0)
    device: str = opt("auto", "where to train and prove: auto (cuda when available), cpu or cuda",
                      choices=("auto", "cpu", "cuda"))
    data_workers: int = opt(0, "data-generating processes per training task (0: the spare cores shared by the "
                               f"{len(TASKS)} tasks, at least one each)", min=0)
    parallel_evals: bool = opt(False, "run every evaluation (provers x seeds) at the same time, one process each "
                                      "(worth it on a GPU or with cores to spare; on 2 cores they slow each other)")


def eval_id(name: str, cfg: DemoConfig, seed: int = 0) -> str:
    suffix = (f"_t{cfg.timeout_s:g}" if cfg.timeout_s else "") + (f"_s{seed}" if seed else "")
    if PROVERS[name][1] == "uniform":
        return f"{name}_{cfg.n_expansions}x{cfg.n_samples}{suffix}"
    recipe = RECIPES[cfg.env]
    model = recipe.model
    if cfg.score_enumerated:
        top = f"_top{recipe.max_tactics}" if recipe.max_tactics else ""
        return f"{name}_{model}_{cfg.n_expansions}_scored{subst_samples(cfg)}{top}{suffix}"
    decoding = "_applicable" if cfg.applicable_only else ""
    return f"{name}_{model}_{cfg.n_expansions}x{cfg.n_samples}{decoding}{suffix}"


def subst_samples(cfg: DemoConfig) -> int:
    fixed = RECIPES[cfg.env].subst_samples
    return cfg.n_subst_samples if fixed is None else fixed


def step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def data_workers(cfg: DemoConfig) -> int:
    # the random-graph task generates ~300 examples/s per process: a GPU outruns one worker per task
    return cfg.data_workers or max(1, ((os.cpu_count() or 2) - 1) // len(TASKS))


def run(command: str, argv: list[str]) -> None:
    from hyperprover.cli import main

    print("$ hyperprover " + " ".join([command, *argv]), flush=True)
    check_exit(command, main([command, *argv]))


def check_exit(command: str, code: int) -> None:
    if code != 0:
        raise SystemExit(f"hyperprover demo: `hyperprover {command}` failed with exit code {code}")


def eval_args(name: str, cfg: DemoConfig, root: Path, model: Path, seed: int) -> list[str]:
    prover, expander = PROVERS[name]
    recipe = RECIPES[cfg.env]
    source = ["--reload_model", str(model)] if expander == "model" else []
    n_samples = subst_samples(cfg) if expander == "model" and cfg.score_enumerated else cfg.n_samples
    decoding = [] if expander == "uniform" else [
        "--decoding.fixed_temperature", "1.0", "--decoding.applicable_only", str(cfg.applicable_only).lower(),
        "--decoding.score_enumerated", str(cfg.score_enumerated).lower(),
        "--decoding.max_tactics", str(recipe.max_tactics), *recipe.learned]
    timeout = ["--search.timeout_s", str(cfg.timeout_s)] if cfg.timeout_s else []
    return ["--env", cfg.env, "--split", recipe.split, "--prover", prover, "--expander", expander, *source,
            "--dump_path", str(root), "--exp_name", "eval", "--exp_id", eval_id(name, cfg, seed),
            "--search.seed", str(seed),
            "--max_attempts", str(cfg.max_attempts), "--n_theorems", str(cfg.n_identities),
            "--search.n_expansions", str(cfg.n_expansions), "--search.early_stop", "true",
            "--decoding.n_samples", str(n_samples), "--n_simultaneous_proofs", str(SIMULTANEOUS[prover]),
            "--device", cfg.device, *timeout, *decoding]


def run_parallel(commands: list[list[str]]) -> None:
    """Each command in its own process (`python -m hyperprover.cli`); fails if any fails, after all end."""
    procs = []
    for argv in commands:
        print("$ hyperprover " + " ".join(argv), flush=True)
        procs.append(subprocess.Popen([sys.executable, "-m", "hyperprover.cli", *argv]))
    try:
        codes = [p.wait() for p in procs]
    finally:  # interrupted: stop the children too (their results so far are on disk, a re-run resumes them)
        for p in procs:
            if p.poll() is None:
                p.terminate()
    for argv, code in zip(commands, codes):
        check_exit(argv[0], code)


def prepare_data(cfg: DemoConfig, root: Path) -> None:
    if cfg.env == "mm":
        from hyperprover.envs.metamath.config import SET_MM

        step("1/4 data: every proof of set.mm re-checked by the project's verifier (training reads its steps)")
        run("check", ["--env", "mm", SET_MM])
        return
    step("1/4 data: random-walk theorems with proofs, each re-checked from scratch")
    data = root / "data" / "eq_rwalk.jsonl"
    if not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        run("data", ["--env", "eq", "--gen", "rwalk", "--n", str(cfg.n_theorems), "--seed", "0", "--out", str(data)])
    run("check", ["--env", "eq", str(data)])


def c_checked(folder: Path) -> str:
    """The C metamath program's verdict on every proof of an eval folder, as `accepted/proved`."""
    from hyperprover.envs.metamath.c_check import check_results
    from hyperprover.envs.metamath.env import make_env

    verdicts = check_results(make_env(), folder / "eval_results.jsonl", folder / "c_check")
    bad = [v for v in verdicts if not v.accepted]
    for v in bad:
        print(f"  rejected by the C program: {v.theorem}: {v.detail[:200]}")
    return f"{len(verdicts) - len(bad)}/{len(verdicts)}"


def main(argv: Sequence[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(help_text(DemoConfig, "demo", __doc__ or ""))
        return 0
    cfg = load_config(DemoConfig, argv)
    recipe = RECIPES[cfg.env]
    n_seeds = cfg.n_seeds or recipe.n_seeds
    minutes = cfg.train_minutes or recipe.train_minutes
    root = Path(cfg.dump_path) / recipe.folder
    start = time.time()

    prepare_data(cfg, root)
    step(f"2/4 train: a small transformer on {cfg.env} goal -> tactic data for {minutes:g} minutes")
    # folders are named after what produced them, so a re-run resumes only the same recipe and budget
    vocab = ["--vocab_samples", str(cfg.vocab_samples)]
    workers = ["--num_workers", str(data_workers(cfg) if cfg.env == "eq" else 1)]
    run("train", [*recipe.train_args, "--dump_path", str(root), "--exp_name", "supervised", "--exp_id", recipe.model,
                  "--max_time_min", str(minutes), "--max_epoch", "100000",
                  "--epoch_size", str(cfg.epoch_size), *vocab, *workers, "--device", cfg.device])
    model = root / "supervised" / recipe.model / "checkpoint.pth"

    runs = [(name, seed) for seed in range(n_seeds) for name in PROVERS]
    evals = {(name, seed): eval_args(name, cfg, root, model, seed) for name, seed in runs}
    where = f"the {recipe.split} theorems"
    if cfg.parallel_evals:
        step(f"3-4/4 eval: the floor, HTPS and best-first at once on {where}, {cfg.n_expansions} expansions")
        run_parallel([["eval", *evals[r]] for r in runs])
    else:
        for i, (name, seed) in enumerate(runs):
            prover, expander = PROVERS[name]
            step(f"3.{i + 1}/4 eval: {prover} with the {expander} expander on {where}, seed {seed}, "
                 f"{cfg.n_expansions} expansions per theorem")
            run("eval", evals[name, seed])
    folders = {name: [root / "eval" / eval_id(name, cfg, seed) for seed in range(n_seeds)] for name in PROVERS}
    summaries = {name: [json.loads((f / "summary.json").read_text()) for f in fs] for name, fs in folders.items()}
    checked: dict[Path, str] = {}
    if recipe.c_check:
        step("3.c/4 check: the C metamath program re-checks every proof found")
        checked = {f: c_checked(f) for fs in folders.values() for f in fs}

    run("plot", [str(root), "--out", str(root / "plots")])
    step(f"4/4 results: the same budget for all three, seeds 0..{n_seeds - 1}; the floor has no model")
    k = cfg.max_attempts
    # wall seconds of the whole eval per theorem (searches run side by side, so their own times overlap)
    print(f"{'prover':<8} {'search':<6} {'expander':<8} {'seed':>4} {'proved':>8} {'pass@' + str(k):>8} "
          f"{'wall s/thm':>10} {'critic AUC':>10}" + (f" {'C accepts':>9}" if checked else ""))
    for name, ss in summaries.items():
        for seed, s in enumerate(ss):
            auc = "-" if s.get("critic_auc") is None else f"{s['critic_auc']:.3f}"
            c = f" {checked[folders[name][seed]]:>9}" if checked else ""
            print(f"{name:<8} {PROVERS[name][0]:<6} {PROVERS[name][1]:<8} {seed:>4} "
                  f"{s['proved']:>4}/{s['n_theorems']:<3} "
                  f"{100 * s[f'pass@{k}']:>7.1f}% {s['wall_time_s'] / max(1, s['n_theorems']):>10.2f} {auc:>10}{c}")
    from hyperprover.analysis.compare import compare, format_comparison

    for a, b in (("htps", "floor"), ("bfs", "floor"), ("htps", "bfs")):
        print(f"\n$ hyperprover compare {' '.join(map(str, folders[a]))} --vs {' '.join(map(str, folders[b]))} "
              f"--names {a},{b}")
        print(format_comparison(compare([str(f) for f in folders[a]], [str(f) for f in folders[b]], names=(a, b))))
    data = "data/             generated theorems with proofs (JSON lines)\n  " if cfg.env == "eq" else ""
    check = "; c_check/: the C program's files" if checked else ""
    print(f"\ndone in {(time.time() - start) / 60:.1f} min. Everything is under {root}/:\n"
          f"  {data}supervised/{recipe.model}/  train.log, params.json, checkpoints, tensorboard/\n"
          f"  eval/<prover>_..._<budget>/  eval.log, eval_results.jsonl (one line per attempt), summary.json{check}\n"
          f"  plots/index.html  figures of the metrics\n"
          f"TensorBoard: .venv/bin/tensorboard --logdir {root}", file=sys.stdout)
    return 0
