"""Training samples from a finished search (docs/htps.md, section 5), as JSON-lines records.

A record carries the goal's canonical key (for people and de-duplication) and the model tokens of
the goal and tactics, from `env.goal_tokens` / `env.tactic_tokens`: the trainer consumes them
without the env and without re-tokenising, so samples can come from a file, a replay buffer or Ray.
Each JSON line has a "type" field: tactic, critic or proof.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from hyperprover.envs.base import Goal
from hyperprover.search.config import SearchConfig
from hyperprover.search.graph import Hypergraph, Node
from hyperprover.search.policy import node_policy, node_value


class Tokenizer(Protocol):
    """What the samples need from an env (every BackwardEnv has both methods)."""

    def goal_tokens(self, goal: Goal) -> list[str]: ...

    def tactic_tokens(self, tactic: str) -> list[str]: ...


class WhitespaceTokenizer:
    """Fallback when no env is at hand: the goal key and tactic text split on spaces."""

    def goal_tokens(self, goal: Goal) -> list[str]:
        return goal.key.split()

    def tactic_tokens(self, tactic: str) -> list[str]:
        return tactic.split()


@dataclass(frozen=True)
class TacticSample:
    """A goal and the tactics to learn for it; the trainer draws one tactic per use from target_pi."""

    label: str
    goal: str
    goal_tokens: tuple[str, ...]
    tactics: tuple[str, ...]
    tactic_tokens: tuple[tuple[str, ...], ...]
    target_pi: tuple[float, ...]
    inproof: int  # 0, 1 = in some proof of the root, 2 = in a minimal proof (informational)
    visit_count: int

    def to_dict(self) -> dict[str, Any]:
        return {"type": "tactic", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TacticSample:
        return cls(d["label"], d["goal"], tuple(d["goal_tokens"]), tuple(d["tactics"]),
                   tuple(tuple(t) for t in d["tactic_tokens"]), tuple(float(p) for p in d["target_pi"]),
                   int(d["inproof"]), int(d["visit_count"]))


@dataclass(frozen=True)
class CriticSample:
    """A goal and its value target: 1 solved, 0 dead, else the mean value of its best tactic."""

    label: str
    goal: str
    goal_tokens: tuple[str, ...]
    q_estimate: float
    solved: bool
    bad: bool
    critic: float  # the model's critic at expansion time
    visit_count: int

    def to_dict(self) -> dict[str, Any]:
        return {"type": "critic", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CriticSample:
        return cls(d["label"], d["goal"], tuple(d["goal_tokens"]), float(d["q_estimate"]), bool(d["solved"]),
                   bool(d["bad"]), float(d["critic"]), int(d["visit_count"]))


@dataclass(frozen=True)
class ProofSample:
    """The minimal proof of a proved root, as the tactic samples of its nodes."""

    label: str
    size: float
    stype: str
    samples: tuple[TacticSample, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "proof", "label": self.label, "size": self.size, "stype": self.stype,
                "samples": [asdict(s) for s in self.samples]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProofSample:
        return cls(d["label"], float(d["size"]), d["stype"], tuple(TacticSample.from_dict(s) for s in d["samples"]))


Sample = TacticSample | CriticSample | ProofSample
_TYPES: dict[str, Any] = {"tactic": TacticSample, "critic": CriticSample, "proof": ProofSample}


def to_json(sample: Sample) -> str:
    return json.dumps(sample.to_dict(), separators=(",", ":"))


def from_json(line: str) -> Sample:
    d = json.loads(line)
    kind = d.get("type")
    if kind not in _TYPES:
        raise ValueError(f"sample line has type {kind!r}; expected one of {', '.join(_TYPES)}")
    out: Sample = _TYPES[kind].from_dict(d)
    return out


def write_jsonl(path: str | Path, samples: Iterable[Sample]) -> int:
    """Append samples to a JSON-lines file (flushed); returns how many were written."""
    n = 0
    with open(path, "a") as f:
        for s in samples:
            f.write(to_json(s) + "\n")
            n += 1
        f.flush()
    return n


def read_jsonl(path: str | Path) -> Iterator[Sample]:
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield from_json(line)
                except (ValueError, KeyError, TypeError) as e:
                    raise ValueError(f"{path}:{i}: not a training sample ({e})") from None


@dataclass(frozen=True)
class Samples:
    tactic: tuple[TacticSample, ...] = ()
    critic: tuple[CriticSample, ...] = ()
    proof: ProofSample | None = None

    def all(self) -> list[Sample]:
        return [*self.tactic, *self.critic, *([self.proof] if self.proof else [])]


def _eligible(n: Node, cfg: SearchConfig) -> bool:
    if n.error is not None:
        return False
    return n.visits >= cfg.count_threshold or (n.solved and not cfg.use_count_threshold_for_solved)


class _Extractor:
    def __init__(self, graph: Hypergraph, cfg: SearchConfig, label: str, tok: Tokenizer) -> None:
        self.g, self.cfg, self.label, self.tok = graph, cfg, label, tok
        self.best = graph.minproofs(cfg.proof_stype)[1] if graph.proved else {}
        self.in_proof = graph.in_proof()
        self.in_minproof = graph.in_minproof(cfg.proof_stype)

    def tactic_sample(self, n: Node, best_only: bool) -> TacticSample | None:
        if n.n_live == 0:
            return None
        if n.solved:
            chosen = self.best.get(n.key, []) if best_only else []
            if not chosen:  # nodes off the root's proof have no minimal-proof table entry
                chosen = [t for t, s in enumerate(n.solving) if s]
            target = [1.0 / len(chosen)] * len(chosen)
        else:
            pi, allowed = node_policy(n, self.cfg, selection=False)
            chosen = [t for t in range(len(pi)) if allowed[t] and not n.fake[t]
                      and pi[t] >= self.cfg.tactic_p_threshold]
            target = [pi[t] for t in chosen]
        if not chosen:
            return None
        inproof = 2 if n.key in self.in_minproof else 1 if n.key in self.in_proof else 0
        return TacticSample(self.label, n.key, tuple(self.tok.goal_tokens(n.goal)),
                            tuple(n.tactics[t] for t in chosen),
                            tuple(tuple(self.tok.tactic_tokens(n.tactics[t])) for t in chosen),
                            tuple(target), inproof, n.visits)

    def critic_sample(self, n: Node) -> CriticSample:
        q = node_value(n, self.cfg)
        if self.cfg.hard_critic_estimates and q < 1.0:
            q = 0.0
        return CriticSample(self.label, n.key, tuple(self.tok.goal_tokens(n.goal)), q, n.solved, n.is_bad,
                            n.old_critic, n.visits)


def extract_samples(graph: Hypergraph, cfg: SearchConfig, label: str, tokenizer: Tokenizer | None = None,
                    rng: random.Random | None = None) -> Samples:
    """Tactic, critic and proof samples of a finished search (virtual counts must be back to 0)."""
    tok = tokenizer or WhitespaceTokenizer()
    rng = rng or random.Random(0)
    ex = _Extractor(graph, cfg, label, tok)
    mask = cfg.only_learn_tactics_from
    if mask == "minproof-solving":
        mask = "minproof" if graph.proved else "solving"
    best_only = cfg.only_learn_best_tactics or mask == "minproof"
    nodes = [n for n in graph.nodes.values() if _eligible(n, cfg)]
    if cfg.balance_critic_data:
        rng.shuffle(nodes)
    tactic: list[TacticSample] = []
    critic: list[CriticSample] = []
    for n in nodes:
        if cfg.critic_subsampling >= 1.0 or rng.random() < cfg.critic_subsampling:
            critic.append(ex.critic_sample(n))
        if (mask in ("all", "") or (mask == "solving" and n.solved) or (mask == "proof" and n.key in ex.in_proof)
             or (mask == "minproof" and n.key in ex.in_minproof)):
            s = ex.tactic_sample(n, best_only)
            if s is not None:
                tactic.append(s)
        if 0 <= cfg.max_nodes_for_train <= len(tactic):
            break
    if cfg.balance_critic_data:
        solved = [c for c in critic if c.solved]
        unsolved = [c for c in critic if not c.solved]
        k = min(len(solved), len(unsolved))
        critic = solved[:k] + unsolved[:k]
    proof = None
    if graph.proved:
        size = graph.minproofs(cfg.proof_stype)[0][graph.root]
        steps = [ex.tactic_sample(graph.nodes[k], True) for k in graph.nodes if k in ex.in_minproof]
        proof = ProofSample(label, size, cfg.proof_stype, tuple(s for s in steps if s is not None))
    return Samples(tuple(tactic), tuple(critic), proof)


def with_finisher_proof(samples: Samples, label: str, goal: Goal, tactic: str, tokenizer: Tokenizer,
                        stype: str) -> Samples:
    """The samples of a search whose theorem the finisher (search.finish_with) proved after it: the root's tactic
    sample becomes the finisher's tactic (as the env names it: Coq's hammer gives its reconstruction) and its
    critic sample says solved, so that the trainer learns the proof the search missed."""
    words = tuple(tokenizer.goal_tokens(goal))
    step = TacticSample(label, goal.key, words, (tactic,), (tuple(tokenizer.tactic_tokens(tactic)),), (1.0,), 2, 1)
    root = next((c for c in samples.critic if c.goal == goal.key), None)
    solved = CriticSample(label, goal.key, words, 1.0, True, False, root.critic if root else 0.5,
                          root.visit_count if root else 1)
    others = tuple(t for t in samples.tactic if t.goal != goal.key)
    return Samples((*others, step), (*(c for c in samples.critic if c.goal != goal.key), solved),
                   ProofSample(label, 1.0, stype, (step,)))


__all__ = ["CriticSample", "ProofSample", "Sample", "Samples", "TacticSample", "Tokenizer", "WhitespaceTokenizer",
           "extract_samples", "from_json", "read_jsonl", "to_json", "with_finisher_proof", "write_jsonl"]
