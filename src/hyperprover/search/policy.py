"""Per-node policies (docs/htps.md, section 3) as small pure functions over a node's per-tactic arrays.

Values are plain probabilities in [0, 1] (the original kept logs); a masked tactic has Q = -inf and
is left out of every sum. Ties go to the lowest index, i.e. the highest prior, because tactics are
stored sorted by prior.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hyperprover.search.config import SearchConfig
    from hyperprover.search.graph import Node

NEG_INF = float("-inf")
_BISECT_TOL = 1e-3
_BISECT_MAX = 50


def q_values(N: Sequence[int], W: Sequence[float], V: Sequence[int], allowed: Sequence[bool],
             solving: Sequence[bool], fpu: float, q_value_solved: int) -> list[float]:
    """Q per tactic with virtual loss: W/(N+V), FPU/V while only virtually visited, FPU when unseen."""
    q: list[float] = []
    for t in range(len(N)):
        if not allowed[t]:
            q.append(NEG_INF)
            continue
        nt, vt = N[t], V[t]
        n = nt + vt
        if solving[t] and q_value_solved != 6:
            q.append(_q_solved(q_value_solved, nt, vt, fpu))
        elif n == 0:
            q.append(fpu)
        elif nt == 0:
            q.append(fpu / vt)
        else:
            q.append(W[t] / n)
    return q


def _q_solved(option: int, N: int, V: int, fpu: float) -> float:
    n = N + V
    if option == 0:
        return 1.0 / n if n > 0 else fpu
    if option == 1:
        return N / n if n > 0 else fpu
    if option == 2:
        return 1.0
    if option == 3:
        return 1.0 / (1 + V)
    if option == 4:
        return 1.0 / max(1, n)
    if option == 5:
        return max(1, N) / max(1, n)
    raise ValueError(f"q_value_solved must be in 0..6, got {option}")


def alpha_zero(q: Sequence[float], counts: Sequence[int], priors: Sequence[float],
               allowed: Sequence[bool], c: float) -> list[float]:
    """Normalised PUCT scores: pi_t ∝ Q_t + c p_t sqrt(sum n) / (1 + n_t)."""
    sqrt_total = math.sqrt(sum(n for n, a in zip(counts, allowed) if a))
    s = [q[t] + c * priors[t] * sqrt_total / (1 + counts[t]) if allowed[t] else 0.0 for t in range(len(q))]
    return _normalise(s, allowed)


def regularized(q: Sequence[float], counts: Sequence[int], priors: Sequence[float],
                allowed: Sequence[bool], c: float) -> list[float] | None:
    """Grill et al. 2020: pi_t = lam p_t / (alpha - Q_t), with alpha such that sum pi = 1 (to 1e-3).

    alpha lies in [max(Q + lam p), max(Q + lam)]. f(alpha) = sum pi - 1 is convex and decreasing
    there, so Newton steps from the left end never overshoot the root; a step that leaves the bracket
    (rounding) falls back to bisection. Same answer and tolerance as plain bisection, in a few steps
    instead of ~10-50. Returns None on a numerical failure (the caller falls back to alpha_zero).
    """
    k = len(q)
    total = sum(n for n, a in zip(counts, allowed) if a)
    # masked tactics count as n = 0 in the denominator, which runs over ALL tactics
    lam = c * math.sqrt(total) / (k + total)
    live = [t for t in range(k) if allowed[t]]
    if lam == 0:
        return _normalise([q[t] if allowed[t] else 0.0 for t in range(k)], allowed)
    w = [(lam * priors[t], q[t]) for t in live]
    lo = max(a + qq for a, qq in w)
    hi = max(qq for _, qq in w) + lam
    alpha = lo
    for _ in range(_BISECT_MAX):
        s = ds = 0.0
        for a, qq in w:
            d = alpha - qq
            if d <= 0:
                return None
            x = a / d
            s += x
            ds += x / d
        if abs(s - 1) < _BISECT_TOL:
            pi = [0.0] * k
            for t, (a, qq) in zip(live, w):
                pi[t] = a / (alpha - qq) / s
            return pi
        if s > 1:
            lo = alpha
        else:
            hi = alpha
        step = alpha + (s - 1) / ds  # Newton: f' = -ds
        alpha = step if lo < step < hi else (lo + hi) / 2
    return None


def _normalise(s: list[float], allowed: Sequence[bool]) -> list[float]:
    total = sum(s)
    if not total > 0 or math.isinf(total):  # all-zero scores: uniform over what is allowed
        n = sum(1 for a in allowed if a)
        return [1.0 / n if a else 0.0 for a in allowed]
    return [x / total for x in s]


def policy(kind: str, q: Sequence[float], counts: Sequence[int], priors: Sequence[float],
           allowed: Sequence[bool], c: float) -> list[float]:
    """The policy over a node's tactics; one-hot when a single tactic is allowed."""
    live = [t for t, a in enumerate(allowed) if a]
    if not live:
        raise ValueError("policy of a node whose tactics are all masked")
    if len(live) == 1:
        pi = [0.0] * len(q)
        pi[live[0]] = 1.0
        return pi
    if kind == "other":
        out = regularized(q, counts, priors, allowed, c)
        if out is not None:
            return out
    return alpha_zero(q, counts, priors, allowed, c)


def argmax(pi: Sequence[float], allowed: Sequence[bool]) -> int:
    best, best_t = NEG_INF, -1
    for t, p in enumerate(pi):
        if allowed[t] and p > best:
            best, best_t = p, t
    return best_t


def choose(pi: Sequence[float], allowed: Sequence[bool], temperature: float, rng: random.Random) -> int:
    """argmax when temperature is 0, else a draw from pi^(1/T) (T floored at 0.001)."""
    if temperature <= 0:
        return argmax(pi, allowed)
    inv = 1.0 / max(temperature, 1e-3)
    top = max(p for p, a in zip(pi, allowed) if a)
    if top <= 0:
        return argmax(pi, allowed)
    # scale by the top entry first so that large 1/T cannot underflow every weight to 0
    w = [(p / top) ** inv if a and p > 0 else 0.0 for p, a in zip(pi, allowed)]
    return rng.choices(range(len(pi)), weights=w)[0]


def node_policy(n: Node, cfg: SearchConfig, selection: bool) -> tuple[list[float], list[bool]]:
    """The policy of a node and the mask it used.

    At selection time tactics that cannot reach an unexpanded goal are masked as well, unless that
    would mask every live tactic.
    """
    killed = n.killed
    allowed = [not k for k in killed]
    if selection:
        exp = [not k and e for k, e in zip(killed, n.expandable)]
        if any(exp):
            allowed = exp
    if allowed.count(True) == 1:  # one-hot: no need for Q values (a thin graph's common case)
        return [1.0 if a else 0.0 for a in allowed], allowed
    N, V = n.N, n.V
    counts = [N[t] + V[t] if a else 0 for t, a in enumerate(allowed)]
    q = q_values(N, n.W, V, allowed, n.solving, cfg.init_tactic_scores, cfg.q_value_solved)
    return policy(cfg.policy, q, counts, n.priors, allowed, cfg.exploration), allowed


def node_value(n: Node, cfg: SearchConfig) -> float:
    """Value of a goal (docs/htps.md, section 4): 1 solved, 0 dead, the critic if unvisited, else the mean value
    of the policy's argmax tactic (not the argmax of Q)."""
    if n.solved:
        return 1.0
    if n.is_terminal:
        return 0.0
    if n.visits == 0:
        return n.critic
    pi, allowed = node_policy(n, cfg, selection=False)
    a = argmax(pi, allowed)
    return min(1.0, n.W[a] / n.N[a]) if n.N[a] > 0 else n.critic
