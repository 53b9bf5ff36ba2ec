"""Which theorem the controller hands out next (docs/guide-online.md).

A split is drawn by its weight in `--data_src_props` ("train:1,identities:1"), then a label in it:
uniformly, or with the prioritized label sampler (after a warm-up in which every label is handed out
once: P = (1 - rho) * P_priority + rho * P_staleness, P_priority ~ score^(1/beta)).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hyperprover.config import ConfigError, opt

PRIORITY_KINDS = ("pos_value_loss", "prop_not_proved", "first_time_proved", "minproof_size", "uniform")


@dataclass
class LabelSamplerConfig:
    use_prioritized_label_sampler: bool = opt(False, "prioritized level replay over labels (else uniform)")
    priority_kind: str = opt("pos_value_loss", "what makes a label worth attempting", choices=PRIORITY_KINDS)
    beta: float = opt(0.5, "priority temperature: P ~ score^(1/beta)", min=1e-6)
    rho: float = opt(0.1, "share of the staleness distribution", min=0.0, max=1.0)
    ema_alpha: float = opt(0.1, "EMA weight of a new pos_value_loss observation", min=0.0, max=1.0)
    use_uniform_as_staleness: bool = opt(False, "uniform instead of staleness-proportional")
    uniform_probs_for_non_solved: bool = opt(False, "never-solved labels get 1/n each; solved share the rest")


def parse_split_props(text: str) -> dict[str, float]:
    """ "train:1,identities:2" -> {"train": 1/3, "identities": 2/3}. A comma before a digit belongs to a pick
    ("train@3,9-12:1,valid:1" is two splits)."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in re.split(r",(?!\d)", text))):
        name, _, weight = part.partition(":")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            raise ConfigError(f"--data_src_props: bad weight in {part!r} (write split:weight)") from None
        if w < 0 or not name:
            raise ConfigError(f"--data_src_props: bad entry {part!r} (write split:weight, weight >= 0)")
        out[name] = w
    total = sum(out.values())
    if not out or total <= 0:
        raise ConfigError(f"--data_src_props {text!r}: give at least one split with a positive weight")
    return {k: v / total for k, v in out.items()}


@dataclass
class LabelStats:
    attempts: int = 0
    proved: int = 0
    first_proved_at: float | None = None
    minproof_size: int | None = None
    pos_value_loss: float = 0.0
    last_sampled: int = -1


@dataclass(frozen=True)
class AttemptOutcome:
    """What the sampler learns from one finished attempt."""

    label: str
    proved: bool
    minproof_size: int | None = None
    solved_critics: tuple[float, ...] = ()  # critic values of the nodes found solved
    at: float | None = None  # when it ended (time.time()); None: now


class LabelSampler:
    def __init__(self, labels: Sequence[str], cfg: LabelSamplerConfig, seed: int = 0) -> None:
        if not labels:
            raise ConfigError("the label sampler needs at least one theorem")
        self.cfg = cfg
        self.labels = list(labels)
        self.rng = random.Random(seed)
        self.stats = {label: LabelStats() for label in self.labels}
        self.warmup = self.labels[:]
        self.rng.shuffle(self.warmup)
        self.n_sampled = 0

    def sample(self) -> str:
        if not self.cfg.use_prioritized_label_sampler:
            label = self.rng.choice(self.labels)
        elif self.warmup:
            label = self.warmup.pop()
        else:
            label = self.rng.choices(self.labels, weights=self.probabilities())[0]
        self._handed_out(label)
        return label

    def _handed_out(self, label: str) -> None:
        self.stats[label].last_sampled = self.n_sampled
        self.n_sampled += 1

    def replay(self, outcome: AttemptOutcome) -> None:
        """An attempt an earlier piece of the run handed out and recorded: a resumed run replays its records so
        that its warm-up skips the labels already attempted, its priorities go on from theirs, and its draws go on
        where theirs stopped (each is made again and thrown away; until session 33 a resumed uniform run handed
        out the first piece's labels again, in the same order)."""
        if outcome.label not in self.stats:
            return
        if not self.cfg.use_prioritized_label_sampler:
            self.rng.choice(self.labels)  # the draw `sample` made for it
        elif outcome.label not in self.warmup:
            self.rng.random()  # the one draw `rng.choices` made for it once the warm-up was over
        if outcome.label in self.warmup:
            self.warmup.remove(outcome.label)
        self._handed_out(outcome.label)
        self.update(outcome)

    def _score(self, s: LabelStats, now: float) -> float:
        kind = self.cfg.priority_kind
        if kind == "prop_not_proved":
            return 1.0 - s.proved / s.attempts if s.attempts else 1.0
        if kind == "first_time_proved":
            return s.first_proved_at if s.first_proved_at is not None else now
        if kind == "minproof_size":
            sizes = [t.minproof_size for t in self.stats.values() if t.minproof_size is not None]
            return float(s.minproof_size if s.minproof_size is not None else max(sizes, default=1))
        if kind == "uniform":
            return 1.0
        return max(0.0, s.pos_value_loss)

    def probabilities(self) -> list[float]:
        now = time.time()
        scores = [self._score(self.stats[label], now) for label in self.labels]
        if not any(scores):
            scores = [1.0] * len(scores)
        prio = [sc ** (1.0 / self.cfg.beta) for sc in scores]
        if self.cfg.uniform_probs_for_non_solved:
            n = len(self.labels)
            solved = [self.stats[label].proved > 0 for label in self.labels]
            mass_solved = 1.0 - sum(not s for s in solved) / n
            total = sum(p for p, s in zip(prio, solved) if s) or 1.0
            prio = [p / total * mass_solved if s else 1.0 / n for p, s in zip(prio, solved)]
        z = sum(prio)
        p_prio = [p / z for p in prio]
        if self.cfg.use_uniform_as_staleness:
            stale = [1.0] * len(self.labels)
        else:
            stale = [float(self.n_sampled - self.stats[label].last_sampled) for label in self.labels]
        zs = sum(stale) or 1.0
        rho = self.cfg.rho
        return [(1 - rho) * a + rho * b / zs for a, b in zip(p_prio, stale)]

    def update(self, outcome: AttemptOutcome) -> None:
        s = self.stats.get(outcome.label)
        if s is None:
            return
        s.attempts += 1
        if outcome.proved:
            s.proved += 1
            if s.first_proved_at is None:
                s.first_proved_at = time.time() if outcome.at is None else outcome.at
            if outcome.minproof_size is not None:
                size = outcome.minproof_size
                s.minproof_size = size if s.minproof_size is None else min(s.minproof_size, size)
        if outcome.solved_critics:
            loss = sum(1.0 - c for c in outcome.solved_critics) / len(outcome.solved_critics)
            a = self.cfg.ema_alpha
            s.pos_value_loss = (1 - a) * s.pos_value_loss + a * loss


class SplitSampler:
    """Draws a split by weight, then a label from that split's sampler."""

    def __init__(self, labels_by_split: dict[str, list[str]], props: dict[str, float],
                 cfg: LabelSamplerConfig, seed: int = 0) -> None:
        missing = [s for s in props if not labels_by_split.get(s)]
        if missing:
            raise ConfigError(f"--data_src_props: split(s) {', '.join(missing)} have no theorems")
        self.rng = random.Random(seed)
        self.props = props
        self.samplers = {s: LabelSampler(labels_by_split[s], cfg, seed + i) for i, s in enumerate(props)}

    def _split(self) -> str:
        return self.rng.choices(list(self.props), weights=list(self.props.values()))[0]

    def sample(self) -> tuple[str, str]:
        split = self._split()
        return split, self.samplers[split].sample()

    def update(self, split: str, outcome: AttemptOutcome) -> None:
        if split in self.samplers:
            self.samplers[split].update(outcome)

    def replay(self, split: str, outcome: AttemptOutcome) -> None:
        if split in self.samplers:
            self._split()  # the earlier piece drew this split: the resumed run goes on from the next draw
            self.samplers[split].replay(outcome)
