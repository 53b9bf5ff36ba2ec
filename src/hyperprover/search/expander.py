"""What the search asks of a model: tactics with prior log-scores and a critic value per goal.

No torch here: the transformer expander (hyperprover.model.expander) implements this protocol, and
tests of the search logic use small scripted expanders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hyperprover.config import opt
from hyperprover.envs.base import Goal


@dataclass
class DecodingConfig:
    """How the expander decodes tactics."""

    n_samples: int = opt(8, "tactics returned per goal (the beam size with beam search); 0: none sampled, "
                            "only with score_enumerated (the complete applicable tactics alone, scored) or "
                            "--expander uniform (every complete applicable tactic)", min=0)
    use_beam: bool = opt(False, "beam search instead of independent samples")
    use_sampling: bool = opt(True, "sample (ancestral, or stochastic beam with use_beam); else greedy")
    fixed_temperature: float = opt(1.0, "softmax temperature for sampling", min=1e-6)
    top_k: int = opt(0, "keep the k most likely tokens at each step (0: off)", min=0)
    top_p: float = opt(1.0, "nucleus sampling mass (1.0: off)", min=0.0, max=1.0)
    length_penalty: float = opt(0.0, "score = sum log p / length**length_penalty")
    max_gen_len: int = opt(64, "longest tactic in tokens; the stop token is forced after it", min=2)
    max_input_len: int = opt(1024, "longer goals are rejected with an error expansion", min=2)
    unknown_words: str = opt("fail", "a goal word the model's vocabulary lacks: fail (the goal gets no tactics, "
                                      "error failed_unk) | unk (the encoder reads <unk> in its place and the "
                                      "model still ranks the tactics: a Coq project's own names, a cross-project "
                                      "test)", choices=("fail", "unk"))
    tokens_per_batch: int = opt(10000, "padded encoder tokens per model call", min=16)
    use_cache: bool = opt(True, "incremental decoding with a KV cache")
    applicable_only: bool = opt(False, "decode only tactics whose rule matches the goal (envs that list them: eq)")
    score_enumerated: bool = opt(False, "the model scores every complete applicable tactic (teacher-forced "
                                        "log-probs, no sampling) and samples only the tactics that need "
                                        "substitutions (envs that list them: eq)")
    renormalize_scores: bool = opt(False, "with score_enumerated: a tactic's score is the model's probability "
                                          "renormalised over the tokens the env allows at each constrained step "
                                          "(its applicable starts); only those logits are computed, which is far "
                                          "cheaper with a large vocabulary (Metamath labels)")
    max_tactics: int = opt(0, "keep only this many of a goal's tactics, the best by prior, before the env applies "
                              "them (0: all). With score_enumerated a goal has every applicable tactic (~90-130 on "
                              "the identities): the cap saves env time and gives HTPS's regularised policy fewer "
                              "actions", min=0)
    prune_margin: float = opt(0.0, "with score_enumerated: before the full scoring, one decoder step gives the "
                                   "log-prob of each tactic's first word, and the tactics whose first word is "
                                   "below max(log p(w) - log n_w) by more than this margin are dropped (n_w: the "
                                   "tactics that start with w). With renormalize_scores a dropped tactic's prior "
                                   "is below the best one's by more than the margin; without, a heuristic. "
                                   "0: score every tactic", min=0.0)
    fast: bool = opt(True, "the fast prover path: scored enumeration decodes its candidates as a radix tree "
                           "(one decoder call per chain of tokens, not per position) and the prover exempts what "
                           "exists when it starts (env, model) from garbage collection; false: the reference "
                           "path, the same scores within float rounding (benchmarks, tests)")
    precision: str = opt("auto", "auto (bfloat16 where the hardware computes it natively: a GPU that supports it, "
                                 "a CPU with AVX-512 BF16 or AMX, read from /proc/cpuinfo or $HYPERPROVER_CPU_FLAGS; "
                                 "float elsewhere, where bfloat16 is emulated and slower) | float (the exact path) | "
                                 "half (GPU only) | bfloat16 (GPU: autocast; CPU: a bfloat16 copy of the model, "
                                 "approximate scores) | int8 (CPU only: the encoder and decoder Linear layers in "
                                 "int8, approximate scores)",
                         choices=("float", "half", "bfloat16", "double", "int8", "auto"))


@dataclass(frozen=True)
class Expansion:
    """The model's proposal for one goal. `error` set means no usable output (unknown token, too long)."""

    goal: Goal
    tactics: tuple[str, ...]
    log_priors: tuple[float, ...]  # same length as tactics, each <= 0, sorted decreasing
    critic: float  # estimated probability in [0, 1] that the goal is provable
    error: str | None = None


def keep_best(expansion: Expansion, n: int) -> Expansion:
    """The expansion with its `n` best tactics (tactics come sorted by decreasing prior); n = 0 keeps all."""
    if n <= 0 or len(expansion.tactics) <= n:
        return expansion
    return dataclasses.replace(expansion, tactics=expansion.tactics[:n], log_priors=expansion.log_priors[:n])


class Expander(Protocol):
    def expand(self, goals: Sequence[Goal], params: DecodingConfig,
               seeds: Sequence[int] | None = None) -> list[Expansion]:
        """One Expansion per goal, in order. `seeds`, one per goal (non-negative, < 2**62), make a goal's
        sampled tactics a function of (goal, seed, params) alone, whatever else is in the batch."""
        ...


@runtime_checkable
class TacticPrefixEnv(Protocol):
    """An env that lists how the tactics that can apply to a goal start (Equations: matching rule, direction
    and position). A `complete` prefix is a whole tactic: nothing is left to substitute."""

    def tactic_prefixes(self, goal: Goal) -> list[tuple[tuple[str, ...], bool]]: ...

    def tactic_from_tokens(self, tokens: Sequence[str]) -> str: ...


def complete_tactics(env: TacticPrefixEnv, goal: Goal) -> list[str]:
    """Every complete applicable tactic of `goal` as text, without repeats, in the env's order."""
    seen: dict[str, None] = {}
    for words, complete in env.tactic_prefixes(goal):
        if complete:
            seen.setdefault(env.tactic_from_tokens(words), None)
    return list(seen)


def enumerable(env: object, what: str, fix: str = "") -> TacticPrefixEnv:
    """`env` as a TacticPrefixEnv, or a one-line error naming `what` needs it (and `fix`, how to do without)."""
    if not isinstance(env, TacticPrefixEnv):
        name = getattr(env, "name", type(env).__name__)
        raise ValueError(f"{what}: env {name!r} cannot list the tactics that apply to a goal "
                         f"(eq, mm and coq can){'; ' + fix if fix else ''}")
    return env
