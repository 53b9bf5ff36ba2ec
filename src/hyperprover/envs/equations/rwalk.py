"""The random-walk generator `eq_bwd_rwalk` (docs/equations.md 4.2).

A walk starts from a random comparison e0 and rewrites it `n_steps` times with randomly drawn
transformation rules (forward or backward, at a random matching position, variables the rule leaves
open filled with random expressions). Side conditions that are not already hypotheses or trivially
true become new hypotheses (with a per-walk probability, up to a per-walk cap), otherwise the step is
rejected. The theorem is the last statement given e0 and the created hypotheses; its proof undoes the
steps from the end: each step reversed (same rule, other direction, same position, because a rewrite
never moves the tokens before it) turns e_i back into e_{i-1}, and its side conditions are hypotheses
or trivially true.

`identity_walk_theorem` is the same walk started from `S == S` for a side S of a benchmark identity
(`gen.idwalk_split`): its theorems are statements a few rewrites away from the identities' own
expressions, under the identity's hypotheses, with proofs that undo the walk until both sides meet.
Trained on alongside the identities, they give the model supervised steps on the expressions it is
searched on, where online training alone learns only from what it already proves.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hyperprover.envs.base import ProofNode
from hyperprover.envs.equations.env import EqGoal, transform_tactic
from hyperprover.envs.equations.gencontext import GenContext, GenerationError, PositionIndex, goal_len, replay
from hyperprover.envs.equations.node import Node
from hyperprover.envs.equations.numeric import is_valid
from hyperprover.envs.equations.rules import Rule
from hyperprover.envs.equations.sampler import SamplerError, random_statement

log = logging.getLogger(__name__)
START_OPS = ("==", "<=", "<")  # a walk never starts from `!=` (docs/equations.md 4.2)
MAX_RULE_DRAWS = 2000  # draws of a (rule, direction) before a step counts as rejected
MAX_WALK_TRIES = 20


@dataclass(frozen=True)
class Step:
    """One accepted rewrite: `rule` applied in direction `forward` at `pos`, all variables bound."""

    rule: Rule
    forward: bool
    pos: int
    binding: tuple[tuple[str, Node], ...]

    def undo_tactic(self) -> str:
        """The backward tactic that turns the statement after this step into the one before it."""
        back = not self.forward
        b = dict(self.binding)
        return transform_tactic(self.rule, back, self.pos, {v: b[v] for v in sorted(self.rule.to_fill(back))})


@dataclass(frozen=True)
class Walk:
    statements: tuple[Node, ...]  # e0 .. en
    steps: tuple[Step, ...]  # steps[i] turns statements[i] into statements[i + 1]
    created_hyps: tuple[Node, ...]


def random_walk(ctx: GenContext, rng: random.Random, start: Node | None = None,
                hyps: tuple[Node, ...] = ()) -> Walk | None:
    """One walk of `rwalk_n_steps` accepted steps from `start` (a random statement if None) with `hyps`
    known, or None when it gets stuck (too many rejections)."""
    g = ctx.gen
    max_init_ops = rng.randint(0, g.rwalk_max_init_ops)
    max_created = rng.randint(0, g.rwalk_max_created_hyps)
    prob_add_hyp = rng.random()
    e0 = random_statement(ctx.sampler, rng, max_init_ops, START_OPS, ctx.eval_assert) if start is None else start
    pairs = [(r, fwd) for r in ctx.t_rules for fwd in (True, False)]
    known: set[Node] = {e0, *hyps}
    created: list[Node] = []
    statements: list[Node] = [e0]
    steps: list[Step] = []
    uses: dict[str, int] = {}
    stmt, index = e0, PositionIndex.of(e0)
    rejected = 0
    while len(steps) < g.rwalk_n_steps:
        if rejected > 50 * g.rwalk_n_steps:
            return None
        step = _try_step(ctx, rng, stmt, index, pairs, uses, known, created, max_created, prob_add_hyp)
        if step is None:
            rejected += 1
            continue
        new, app_step, new_hyps = step
        for h in new_hyps:
            known.add(h)
            created.append(h)
        uses[app_step.rule.name] = uses.get(app_step.rule.name, 0) + 1
        steps.append(app_step)
        statements.append(new)
        stmt, index = new, PositionIndex.of(new)
    return Walk(tuple(statements), tuple(steps), tuple(created))


def _try_step(ctx: GenContext, rng: random.Random, stmt: Node, index: PositionIndex,
              pairs: list[tuple[Rule, bool]], uses: dict[str, int], known: set[Node], created: list[Node],
              max_created: int, prob_add_hyp: float) -> tuple[Node, Step, list[Node]] | None:
    bias = ctx.gen.rwalk_bias_rules
    weights = [1.0 / max(uses.get(r.name, 0), 1) ** bias for r, _ in pairs]
    for _ in range(MAX_RULE_DRAWS):
        rule, fwd = rng.choices(pairs, weights=weights)[0]
        apps = index.matches(rule, fwd)
        if apps:
            break
    else:
        return None
    app = rng.choice(apps)
    fill = ctx.sampler.fill(rng, app.to_fill)
    new, side = app.fill(fill)
    assert new is not None
    if new.size > ctx.gen.max_tokens or not is_valid(new) or ctx.eval_assert(new) is False:
        return None
    new_hyps: list[Node] = []
    for h in side:
        if h in known or h in new_hyps:
            continue
        if not is_valid(h):
            return None
        truth = ctx.eval_assert(h)
        if truth is True:
            continue
        if truth is False or len(created) + len(new_hyps) >= max_created or rng.random() >= prob_add_hyp:
            return None
        new_hyps.append(h)
    binding = tuple(sorted({**app.binding, **fill}.items()))
    return new, Step(rule, fwd, app.pos, binding), new_hyps


def walk_proof(ctx: GenContext, walk: Walk, hyps: tuple[Node, ...] | None = None) -> tuple[EqGoal, ProofNode] | None:
    """The theorem (last statement given `hyps`, by default e0, and the created hypotheses) and its
    backward proof.

    Each goal is undone by the step that first produced its statement, so a walk that came back to an
    earlier statement gives a proof without the loop; the proof also stops where the env closes a goal
    (a hypothesis, or trivially true like `S == S`). Every step is replayed in the env. None when the
    walk ended on its start statement (the theorem is then one of its hypotheses).
    """
    stmts = walk.statements
    first: dict[Node, int] = {}
    for i, s in enumerate(stmts):
        first.setdefault(s, i)
    root = EqGoal(stmts[-1], ((stmts[0],) if hyps is None else hyps) + walk.created_hyps)
    chain: list[tuple[EqGoal, str]] = []
    goal, i = root, len(stmts) - 1
    while True:
        i = first[stmts[i]]
        if i == 0:
            if not chain:
                return None
            break
        tactic = walk.steps[i - 1].undo_tactic()
        kids = replay(ctx.env, goal, tactic)
        chain.append((goal, tactic))
        if not kids:
            break
        if len(kids) != 1 or kids[0].conclusion != stmts[i - 1]:
            raise GenerationError(f"undoing step {i} left {[k.text() for k in kids]}")
        goal, i = kids[0], i - 1
    node: ProofNode | None = None
    for g, t in reversed(chain):
        node = ProofNode(g, t, () if node is None else (node,))
    assert node is not None
    return root, node


def walk_theorem(ctx: GenContext, rng: random.Random) -> tuple[EqGoal, ProofNode] | None:
    """A random-walk theorem with its proof (None if no acceptable walk was found in a few tries)."""
    def attempt() -> tuple[EqGoal, ProofNode] | None:
        walk = random_walk(ctx, rng)
        return None if walk is None else walk_proof(ctx, walk)

    return _first_theorem(ctx, attempt)


def identity_walk_theorem(ctx: GenContext, rng: random.Random,
                          identities: Sequence[EqGoal]) -> tuple[EqGoal, ProofNode] | None:
    """A walk from `S == S`, S a random side of a random one of `identities`, under that identity's
    hypotheses (None if no walk in a few tries ended on a statement the env does not close at once)."""
    def attempt() -> tuple[EqGoal, ProofNode] | None:
        identity = rng.choice(identities)
        side = rng.choice(identity.conclusion.children)
        walk = random_walk(ctx, rng, Node("cmp", "==", (side, side)), identity.hyps)
        if walk is None or ctx.eval_assert(walk.statements[-1]) is True:
            return None
        return walk_proof(ctx, walk, hyps=identity.hyps)

    return _first_theorem(ctx, attempt)


def _first_theorem(ctx: GenContext, attempt: Callable[[], tuple[EqGoal, ProofNode] | None]
                   ) -> tuple[EqGoal, ProofNode] | None:
    for _ in range(MAX_WALK_TRIES):
        try:
            found = attempt()
        except SamplerError:
            continue
        except GenerationError as e:  # a generator bug (or an env limit the walk ignored): say so
            log.warning("random-walk theorem dropped: %s", e)
            continue
        if found is not None and goal_len(found[0]) <= ctx.gen.max_tokens:
            return found
    return None
