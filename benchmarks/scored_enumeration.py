"""Scored enumeration against sampling: model time per goal and what each proposes, same process.

For one checkpoint and the root goals of a split, expands every goal three ways: the model sampling
`--n_samples` tactics (constrained to applicable starts, as the demo does), the model scoring every complete
applicable tactic plus `--n_subst` samples for the starts that need substitutions (score_enumerated), and
the model-free floor (uniform). Prints model seconds per goal, tactics per goal, distinct tactics the env
accepts per goal, the share of goals with a tactic that closes them, and the time ratio sampling/scored.

    python benchmarks/scored_enumeration.py --checkpoint MODEL.pth [--split identities] [--batch 32]
    python benchmarks/scored_enumeration.py --env mm --split valid --random_init --n_goals 32

A fourth row scores with `renormalize_scores` (only the logits of the tokens the env allows at constrained
steps: with Metamath's ~42k-word vocabulary the output projection is most of the scoring cost).
`--random_init` times an untrained model of the supervised_mm_local size over the env's whole vocabulary
(Metamath), for when no trained checkpoint is at hand: the costs are those of a trained one, the
proposals are not. Goals are a fixed random sample of the split (`--seed`).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from hyperprover.envs.base import BackwardEnv, Goal, make_env
from hyperprover.model.expander import load_expander
from hyperprover.search.expander import DecodingConfig, Expander
from hyperprover.search.uniform import UniformExpander


@dataclass(frozen=True)
class Row:
    model_s_per_goal: float
    tactics_per_goal: float
    valid_per_goal: float
    goals_closed: float  # share of goals with a proposed tactic that closes them
    env_s_per_goal: float


def measure(env: BackwardEnv, expander: Expander, goals: list[Goal], params: DecodingConfig, batch: int) -> Row:
    t0 = time.perf_counter()
    expansions = []
    for i in range(0, len(goals), batch):
        chunk = goals[i: i + batch]
        expansions += expander.expand(chunk, params, list(range(i, i + len(chunk))))
    model_s = time.perf_counter() - t0
    n_tactics = valid = closed = 0
    t1 = time.perf_counter()
    for e in expansions:
        results = [env.apply(e.goal, t) for t in e.tactics]
        n_tactics += len(e.tactics)
        valid += sum(r.ok for r in results)
        closed += any(r.closes for r in results)
    env_s = time.perf_counter() - t1
    n = max(1, len(goals))
    return Row(model_s / n, n_tactics / n, valid / n, closed / n, env_s / n)


def random_init_checkpoint(env: BackwardEnv, folder: str) -> str:
    from hyperprover.envs.metamath.data import vocabulary
    from hyperprover.envs.metamath.env import MetamathEnv
    from hyperprover.model.checkpoint import save_checkpoint
    from hyperprover.model.config import ModelConfig, resolve
    from hyperprover.model.dictionary import Dictionary
    from hyperprover.model.transformer import Seq2SeqTransformer

    if not isinstance(env, MetamathEnv):
        raise SystemExit("--random_init needs --env mm (the env whose whole vocabulary is known up front)")
    dico = Dictionary.build(dict.fromkeys(vocabulary(env), 1))
    dims = resolve(ModelConfig(emb_dim=128, enc_n_layers=3, dec_n_layers=2, n_heads=4), len(dico), dico.pad)
    path = str(Path(folder) / "random_init.pth")
    save_checkpoint(path, Seq2SeqTransformer(dims).eval(), dico, dims)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="")
    ap.add_argument("--random_init", action="store_true", help="an untrained mm model instead of --checkpoint")
    ap.add_argument("--seed", type=int, default=0, help="which goals of the split (a fixed random sample)")
    ap.add_argument("--env", default="eq")
    ap.add_argument("--split", default="identities")
    ap.add_argument("--n_goals", type=int, default=160)
    ap.add_argument("--n_samples", type=int, default=32, help="samples per goal of plain sampling")
    ap.add_argument("--n_subst", type=int, default=8, help="samples per goal for tactics that need substitutions")
    ap.add_argument("--floor_samples", type=int, default=32, help="tactics per goal of the uniform floor")
    ap.add_argument("--batch", type=int, default=32, help="goals per expander call (a Prover step)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max_gen_len", type=int, default=64, help="longest sampled tactic (an untrained model never "
                                                               "stops early: keep it short with --random_init)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = make_env(args.env)
    theorems = env.theorems(args.split)
    goals = [t.goal for t in random.Random(args.seed).sample(theorems, min(args.n_goals, len(theorems)))]
    if not args.checkpoint and not args.random_init:
        raise SystemExit("give --checkpoint MODEL.pth, or --random_init (mm) to time an untrained model")
    tmp = tempfile.TemporaryDirectory()
    model = load_expander(random_init_checkpoint(env, tmp.name) if args.random_init else args.checkpoint, env, "cpu")
    rows = {
        f"sampling x{args.n_samples}": measure(env, model, goals, DecodingConfig(
            n_samples=args.n_samples, applicable_only=True, max_gen_len=args.max_gen_len), args.batch),
        f"scored + x{args.n_subst}": measure(env, model, goals, DecodingConfig(
            n_samples=args.n_subst, score_enumerated=True, max_gen_len=args.max_gen_len), args.batch),
        f"renormalized + x{args.n_subst}": measure(env, model, goals, DecodingConfig(
            n_samples=args.n_subst, score_enumerated=True, renormalize_scores=True,
            max_gen_len=args.max_gen_len), args.batch),
        f"uniform x{args.floor_samples}": measure(env, UniformExpander(env), goals, DecodingConfig(
            n_samples=args.floor_samples), args.batch),
    }
    print(f"{args.env}:{args.split}, {len(goals)} root goals, {args.batch} goals per call, "
          f"{args.threads} torch thread(s)")
    print(f"{'':<20} {'model s/goal':>12} {'tactics/goal':>12} {'valid/goal':>10} {'closed':>7} {'env s/goal':>10}")
    for name, r in rows.items():
        print(f"{name:<20} {r.model_s_per_goal:>12.4f} {r.tactics_per_goal:>12.1f} {r.valid_per_goal:>10.1f} "
              f"{100 * r.goals_closed:>6.1f}% {r.env_s_per_goal:>10.4f}")
    sampled, scored, renorm = list(rows.values())[:3]
    print(f"model time per goal, sampling / scored enumeration: "
          f"{sampled.model_s_per_goal / max(scored.model_s_per_goal, 1e-9):.2f}x; "
          f"scored / renormalized: {scored.model_s_per_goal / max(renorm.model_s_per_goal, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
