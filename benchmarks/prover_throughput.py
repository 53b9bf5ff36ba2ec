"""Prover throughput: the learned prover's expansions per CPU-second, the reference path against the fast one.

Runs the learned prover of `--env` (its usual search and decoding settings, below) on a fixed set of theorems
of a split in this process with `--decoding.fast false` (the reference path: the old one) and true, both in
float (exact: they prove the same theorems), then on the default path where it differs (fast, `--decoding.precision
auto`: bfloat16 on a CPU that computes it, and the recipe's cap on the tactics applied per goal; with
`--new_checkpoint`, another model), then the model-free floor on the same theorems. Prints, per run: model calls,
goals per call, expansions per CPU-second and per wall-second, and where the time went (encoder, tactic
scoring/decoding, the critic, the env, the search), and whether the exact paths proved the same theorems. Its
last line is `ratio <default/reference expansions per CPU-second>`.

    python benchmarks/prover_throughput.py --env eq --checkpoint MODEL.pth
    python benchmarks/prover_throughput.py --env mm --random_init
    python benchmarks/prover_throughput.py --env coq --checkpoint MODEL.pth --n_theorems 8

`--random_init` proves with an untrained model of the local sweeps' size over the env's whole vocabulary (mm, coq,
sr; eq reads its words from the theorems): the costs of scoring are those of a trained model, the proofs and
the sampled tactics are not. One torch thread (a Ray prover's setting); on a GPU (`--device cuda`) the same
script runs unchanged. Run it alone on the machine and note the load (`uptime`). On Coq the env's work happens
in `coqtop` processes, which this process's CPU time does not count: read the wall-second figures there.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from hyperprover.demo import RECIPES
from hyperprover.envs.base import BackwardEnv, Theorem, make_env, split_theorems
from hyperprover.model.expander import TransformerExpander, load_expander, resolve_precision
from hyperprover.search.config import ProverConfig, SearchConfig
from hyperprover.search.expander import DecodingConfig, Expander
from hyperprover.search.prover import Prover
from hyperprover.search.uniform import UniformExpander


@dataclass(frozen=True)
class Setting:
    """The learned prover of an env as its recipes run it (demo, sweeps/eval_*_local.json)."""

    split: str
    n_theorems: int
    prover: str
    n_expansions: int
    decoding: DecodingConfig
    floor_samples: int
    simultaneous: int
    default_cap: int = 0  # the recipe's --decoding.max_tactics (the default path's; the reference applied all)


SETTINGS = {
    "eq": Setting("identities", 40, "htps", 64, DecodingConfig(
        n_samples=8, score_enumerated=True, applicable_only=True), 32, 8, default_cap=RECIPES["eq"].max_tactics),
    "mm": Setting("valid", 16, "bfs", 32, DecodingConfig(
        n_samples=0, score_enumerated=True, renormalize_scores=True, applicable_only=True), 32, 8),
    "coq": Setting("valid", 8, "bfs", 24, DecodingConfig(n_samples=8, score_enumerated=True), 64, 8),
}


@dataclass(frozen=True)
class Run:
    name: str
    proved: frozenset[str]
    expansions: float
    cpu_s: float
    wall_s: float
    calls: float
    goals: float
    parts: dict[str, float]  # seconds by part


def prove(name: str, env: BackwardEnv, expander: Expander, st: Setting, decoding: DecodingConfig,
          theorems: list[Theorem]) -> Run:
    search = SearchConfig(n_expansions=st.n_expansions, early_stop=True)
    timed = isinstance(expander, TransformerExpander)
    if timed:
        expander.timings.clear()
    collecting = [0.0, 0.0]  # seconds in the garbage collector, start of the current collection

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collecting[1] = time.perf_counter()
        else:
            collecting[0] += time.perf_counter() - collecting[1]

    with Prover(env, expander, search, decoding, ProverConfig(prover=st.prover,
                                                              n_simultaneous_proofs=st.simultaneous)) as prover:
        gc.callbacks.append(on_gc)
        c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        records = list(prover.prove(theorems))
        wall = time.perf_counter() - t0
        c1 = resource.getrusage(resource.RUSAGE_SELF)
        gc.callbacks.remove(on_gc)
        tot = prover.totals
    model = dict(expander.timings) if timed else {}
    parts = {**{k: v for k, v in model.items()}, "model other": tot["model_s"] - sum(model.values()),
             "env": tot["env_s"], "search": tot["search_s"], "of which gc": collecting[0]}
    cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    return Run(name, frozenset(r.label for r in records if r.proved),
               sum(r.stats.get("n_expansions", 0.0) for r in records), cpu, wall, tot["steps"], tot["goals"], parts)


def show(run: Run) -> None:
    total = sum(v for k, v in run.parts.items() if k != "of which gc") or 1.0
    shares = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in run.parts.items() if v > 0.005 * total)
    print(f"{run.name:<10} proved {len(run.proved):>3}  expansions {run.expansions:>6.0f}  calls {run.calls:>5.0f}  "
          f"goals/call {run.goals / max(run.calls, 1):>5.1f}  exp/CPU-s {run.expansions / run.cpu_s:>7.2f}  "
          f"exp/wall-s {run.expansions / run.wall_s:>7.2f}  CPU {run.cpu_s:>6.1f} s")
    print(f"{'':<10} time: {shares}")


def random_init_checkpoint(env: BackwardEnv, env_name: str, theorems: list[Theorem], folder: str,
                           shape: tuple[int, int, int] = (128, 3, 2)) -> str:
    """An untrained model over the env's vocabulary: width, encoder and decoder layers (default: the local
    sweeps' size, sweeps/supervised_*_local.json)."""
    from hyperprover.model.checkpoint import save_checkpoint
    from hyperprover.model.config import ModelConfig, resolve
    from hyperprover.model.dictionary import Dictionary
    from hyperprover.model.transformer import Seq2SeqTransformer

    if env_name == "mm":
        from hyperprover.envs.metamath.data import vocabulary as mm_vocabulary
        words = mm_vocabulary(env)  # type: ignore[arg-type]
    elif env_name == "coq":
        from hyperprover.envs.coq.data import vocabulary as coq_vocabulary
        words = coq_vocabulary(env.cfg)  # type: ignore[attr-defined]
    else:  # the words of the theorems and of the tactics that apply to them
        seen: dict[str, None] = {}
        for th in theorems:
            seen.update(dict.fromkeys(env.goal_tokens(th.goal)))
            for prefix, _ in env.tactic_prefixes(th.goal):  # type: ignore[attr-defined]
                seen.update(dict.fromkeys(prefix))
        words = list(seen)
    dico = Dictionary.build(dict.fromkeys(words, 1))
    width, enc, dec = shape
    dims = resolve(ModelConfig(emb_dim=width, enc_n_layers=enc, dec_n_layers=dec, n_heads=4), len(dico), dico.pad)
    torch.manual_seed(0)
    path = str(Path(folder) / "random_init.pth")
    save_checkpoint(path, Seq2SeqTransformer(dims).eval(), dico, dims)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="eq", choices=tuple(SETTINGS))
    ap.add_argument("--checkpoint", default="")
    ap.add_argument("--random_init", action="store_true", help="an untrained model of the local sweeps' size")
    ap.add_argument("--shape", default="128,3,2", help="with --random_init: WIDTH,ENCODER_LAYERS,DECODER_LAYERS "
                    "(what the model's shape costs a prover, before training one)")
    ap.add_argument("--split", default="", help="default: eq identities, mm valid, coq valid")
    ap.add_argument("--n_theorems", type=int, default=0, help="default: eq 40, mm 16, coq 8 (a fixed sample)")
    ap.add_argument("--n_expansions", type=int, default=0, help="budget per theorem (default: eq 64, mm 32, coq 24)")
    ap.add_argument("--max_tactics", type=int, default=-1, help="--decoding.max_tactics of every learned run "
                    "(default: all tactics on the reference and fast paths, the recipe's cap on the default path: "
                    "eq 32; 0 = all)")
    ap.add_argument("--seed", type=int, default=0, help="which theorems of the split (eq: the first ones)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip_reference", action="store_true", help="time the fast path alone (no ratio)")
    ap.add_argument("--precisions", default="", help="also the fast path with each of these comma-separated "
                    "--decoding.precision values, e.g. int8,bfloat16 (approximate: their proofs may differ)")
    ap.add_argument("--new_checkpoint", default="", help="the default path's model, e.g. a smaller one trained on "
                    "the same data (default: --checkpoint's). The default path is approximate (another model, "
                    "bfloat16, a cap): compare its proofs on a larger set with hyperprover compare")
    ap.add_argument("--prune_margin", type=float, default=0.0, help="also the fast path with "
                    "--decoding.prune_margin M (scored enumeration drops tactics whose first distinct word is far "
                    "below the best: approximate)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    st = SETTINGS[args.env]
    st = replace(st, split=args.split or st.split, n_theorems=args.n_theorems or st.n_theorems,
                 n_expansions=args.n_expansions or st.n_expansions)
    if args.max_tactics >= 0:
        st = replace(st, decoding=replace(st.decoding, max_tactics=args.max_tactics))
    env = make_env(args.env)
    theorems = split_theorems(env, st.split)
    theorems = (theorems[: st.n_theorems] if args.env == "eq" and not args.seed
                else random.Random(args.seed).sample(theorems, min(st.n_theorems, len(theorems))))
    if not args.checkpoint and not args.random_init:
        raise SystemExit("give --checkpoint MODEL.pth, or --random_init to time an untrained model of the local "
                         "sweeps' size")
    tmp = tempfile.TemporaryDirectory()
    try:
        width, enc, dec = (int(x) for x in args.shape.split(","))
    except ValueError:
        raise SystemExit(f"--shape {args.shape!r}: give WIDTH,ENCODER_LAYERS,DECODER_LAYERS, e.g. 96,3,1") from None
    ckpt = args.checkpoint or random_init_checkpoint(env, args.env, theorems, tmp.name, (width, enc, dec))
    expander = load_expander(ckpt, env, args.device)
    precision = "bfloat16" if args.device.startswith("cuda") else "float"
    fast = replace(st.decoding, fast=True, precision=precision)
    cap = f", best {st.decoding.max_tactics} tactics per goal" if st.decoding.max_tactics else ""
    print(f"{args.env}:{st.split}, {len(theorems)} theorems, {st.prover}, {st.n_expansions} expansions{cap}, "
          f"{st.simultaneous} searches at once, {args.threads} torch thread(s), {args.device}")
    runs = [] if args.skip_reference else [
        prove("reference", env, expander, st, replace(fast, fast=False), theorems)]
    runs.append(prove("fast", env, expander, st, fast, theorems))
    for precision in filter(None, args.precisions.split(",")):
        runs.append(prove(f"fast {precision}", env, expander, st, replace(fast, precision=precision), theorems))
    if args.prune_margin > 0:
        runs.append(prove(f"fast pruned {args.prune_margin:g}", env, expander, st,
                          replace(fast, prune_margin=args.prune_margin), theorems))
    # the default path: what eval, prove, online and the demo run now
    default = replace(fast, precision=resolve_precision("auto", torch.device(args.device)),
                      max_tactics=fast.max_tactics if args.max_tactics >= 0 else st.default_cap)
    if args.new_checkpoint or default != fast:
        model = load_expander(args.new_checkpoint, env, args.device) if args.new_checkpoint else expander
        top = f" top{default.max_tactics}" if default.max_tactics else ""
        runs.append(prove(f"default {default.precision}{top}" + (" (new model)" if args.new_checkpoint else ""),
                          env, model, st, default, theorems))
    floor = prove("floor", env, UniformExpander(env), st, DecodingConfig(n_samples=st.floor_samples), theorems)
    for run in (*runs, floor):
        show(run)
    if args.skip_reference:
        return
    ref, new = runs[:2]
    same = "the same theorems" if ref.proved == new.proved else (
        f"different theorems: only reference {sorted(ref.proved - new.proved)}, "
        f"only fast {sorted(new.proved - ref.proved)}")
    speed = lambda r: r.expansions / r.cpu_s  # noqa: E731
    print(f"both paths proved {same}; a learned expansion costs {speed(floor) / speed(ref):.1f} floor expansions "
          f"on the reference path, {speed(floor) / speed(new):.1f} on the fast one")
    for other in runs[2:]:
        print(f"{other.name}: {speed(other) / speed(ref):.2f}x the reference, proved {len(other.proved)} "
              f"(fast: {len(new.proved)}; only {other.name} {len(other.proved - new.proved)}, "
              f"only fast {len(new.proved - other.proved)})")
    print(f"ratio {speed(runs[-1]) / speed(ref):.2f}")


if __name__ == "__main__":
    main()
