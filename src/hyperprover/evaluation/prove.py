"""`hyperprover prove`: prove one theorem, given as text or as a label (`identities:12`).

With `--tactics FILE` a person applies tactics by hand and sees the subgoals; otherwise the model of
`--reload_model` drives the search named by `--prover`, and `--trace 1` prints every batch. With `--env coq
--file F.v` it proves the lemmas of a Coq file whose proofs end in `Admitted.` and writes them back.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from hyperprover import atomic
from hyperprover.config import ConfigError, binary_reason, help_text, load_config, opt, read_text_file
from hyperprover.envs.base import BackwardEnv, GoalParseError, ProofError, Theorem
from hyperprover.provers.options import PRESETS, ProvingOptions, build_prover, open_env
from hyperprover.search.prover import BatchTrace, format_proof

SPLITS = ("identities", "valid", "test", "train", "bench")


@dataclass
class ProveConfig(ProvingOptions):
    theorem: str = opt("", "the goal as text, or a label such as identities:12")
    tactics: str = opt("", "file of tactics to apply by hand, one per line ('-': standard input)")
    trace: bool = opt(False, "print every batch: goals, proposed tactics with their scores, env results")
    file: str = opt("", "with --env coq: prove each lemma of this .v file whose proof ends in Admitted. (in its "
                        "context: the file before it, its _CoqProject's load path), write the proofs found into a "
                        "copy and have coqc check it")
    out: str = opt("", "with --file: the copy with the proofs (default: <file>_proved.v beside it)")


def resolve_theorem(env: BackwardEnv, text: str) -> Theorem:
    """A label `split:name` (or `split:index`) from the env's splits, else a goal parsed from text."""
    head, _, tail = text.partition(":")
    if tail and head in SPLITS and "=" not in tail:
        try:
            theorems = env.theorems(head)
        except (KeyError, ValueError) as e:  # a split this env does not have
            raise ConfigError(f"--theorem {text}: {e}") from None
        by_label = {t.label: t for t in theorems}
        if text in by_label:
            return by_label[text]
        if tail.isdigit() and int(tail) < len(theorems):
            return theorems[int(tail)]
        raise ConfigError(f"--theorem {text}: no such label in split {head!r} ({len(theorems)} theorems)")
    return Theorem(label="cli", goal=env.parse_goal(text), split="cli")


def print_trace(env: BackwardEnv, trace: BatchTrace) -> None:
    print(f"--- batch {trace.step}: {len(trace.goals)} goal(s)")
    for goal, exp, results in zip(trace.goals, trace.expansions, trace.results):
        print(f"  goal {env.goal_text(goal)}  (critic {exp.critic:.3f})")
        if exp.error:
            print(f"    model error: {exp.error}")
        for tactic, prior, res in zip(exp.tactics, exp.log_priors, results):
            outcome = (f"error {res.error}" if res.error else
                       "closes" if not res.children else f"{len(res.children)} subgoal(s)")
            print(f"    {prior:8.3f}  {tactic}  ->  {outcome}")


def read_tactics(tactics: str) -> list[str]:
    """The lines of --tactics: a text file, or standard input for '-' (binary input refused either way)."""
    if tactics != "-":
        return read_text_file(tactics, "--tactics").splitlines()
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # stdin replaced by a text stream
        return sys.stdin.read().splitlines()
    data = raw.read()
    reason = binary_reason(data)
    if reason:
        raise ConfigError(f"--tactics - (standard input): {reason}")
    return data.decode("utf-8").splitlines()


def prove_by_hand(env: BackwardEnv, theorem: Theorem, tactics: str) -> int:
    from hyperprover.evaluation.by_hand import run_by_hand

    try:
        return 0 if run_by_hand(env, theorem.goal, read_tactics(tactics), sys.stdout) else 1
    except ProofError as e:
        print(f"hyperprover prove: the proof does not re-check: {e}", file=sys.stderr)
        return 1


def prove_with_model(cfg: ProveConfig, env: BackwardEnv, theorem: Theorem) -> int:
    on_batch = (lambda t: print_trace(env, t)) if cfg.trace else None
    with build_prover(cfg, env, on_batch) as prover:
        record = next(iter(prover.prove([theorem])))
    stats = record.stats
    print(f"{cfg.prover}: {'proved' if record.proved else 'not proved'} {theorem.label} "
          f"({stats.get('n_expansions', 0):.0f} expansions, {stats.get('n_nodes', 0):.0f} nodes, "
          f"{stats.get('time_wall_s', 0.0):.1f}s: model {stats.get('time_model_s', 0.0):.1f}s, "
          f"env {stats.get('time_env_s', 0.0):.1f}s, search {stats.get('time_search_s', 0.0):.1f}s)")
    if record.error:
        print(f"error: {record.error}")
    if record.proof is None:
        return 1
    print("proof (re-checked from scratch):")
    print(format_proof(record.proof, env.goal_text))
    return 0


def prove_file(cfg: ProveConfig) -> int:
    """--file: the Admitted lemmas of a Coq file, proved in their contexts, written back, checked by coqc."""
    from hyperprover.envs.base import proof_to_json
    from hyperprover.envs.coq.admitted import (
        FileError,
        admitted_lemmas,
        coqc_accepts,
        project_load_path,
        with_proofs,
    )

    if cfg.env != "coq":
        raise ConfigError("--file proves the Admitted lemmas of a Coq file: add --env coq")
    file = Path(cfg.file).resolve()
    if file.suffix != ".v":
        raise ConfigError(f"--file {cfg.file}: not a Coq file (.v)")
    coq = getattr(cfg, "coq")  # noqa: B009 - the systems' sections are not known to the type checker
    load_path = coq.load_path or project_load_path(file)
    setattr(cfg, "coq", replace(coq, library_root=str(file.parent), load_path=load_path))  # noqa: B010 - its contexts: the file
    out = Path(cfg.out).resolve() if cfg.out else file.with_name(f"{file.stem}_proved.v")
    try:
        lemmas = admitted_lemmas(file, load_path)
    except FileError as e:
        raise ConfigError(str(e)) from None
    print(f"{file}: {len(lemmas)} lemma(s) end in Admitted.")
    env = open_env(cfg)
    theorems = [Theorem(f"coq:{file.name}#{m.index}:{m.name}", m.goal, "file") for m in lemmas]
    with build_prover(cfg, env) as prover:
        records = {r.label: r for r in prover.prove(theorems)}
    proofs = {}
    for m, th in zip(lemmas, theorems):
        r = records[th.label]
        if r.proof is not None:
            proofs[m.index] = proof_to_json(env, r.proof)
        print(f"  {'proved' if r.proof is not None else 'not proved':<10} {m.name} (line {m.line}), "
              f"{r.stats.get('time_wall_s', 0.0):.1f}s, {r.stats.get('n_expansions', 0):.0f} expansions")
    atomic.write_text(out, with_proofs(file.read_text(encoding="utf-8", errors="replace"), proofs,
                                       {m.index: m.end for m in lemmas}, coq.preloaded()))
    accepted, message = coqc_accepts(out, load_path)
    verdict = "coqc accepts it" if accepted else f"coqc REJECTS it: {message}"
    print(f"proved {len(proofs)} of {len(lemmas)}; the file with the proofs: {out}; {verdict}")
    return 0 if accepted else 1


def main(argv: Sequence[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(help_text(ProveConfig, "prove", __doc__ or "", PRESETS))
        return 0
    cfg = load_config(ProveConfig, argv, PRESETS)
    if cfg.file:
        return prove_file(cfg)
    if not cfg.theorem:
        raise ConfigError("--theorem is required (a goal as text, or a label such as identities:12)")
    env = open_env(cfg)
    try:
        theorem = resolve_theorem(env, cfg.theorem)
    except GoalParseError as e:
        raise ConfigError(f"--theorem: {e}") from None
    if cfg.tactics:
        return prove_by_hand(env, theorem, cfg.tactics)
    return prove_with_model(cfg, env, theorem)
