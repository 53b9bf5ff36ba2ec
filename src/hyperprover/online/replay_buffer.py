"""Replay buffer of search samples for one MCTS task: FIFO of `max_len`, uniform draws with replacement
that wait until `min_len` samples have arrived and, with `max_reuse`, while the samples received have already
been drawn that many times each on average (docs/guide-online.md). Thread-safe: provers add samples through
actor calls while the training loop draws.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from hyperprover.config import opt

T = TypeVar("T")


@dataclass
class ReplayBufferConfig:
    min_len: int = opt(1000, "samples needed before the first draw (draws wait until then)", min=1)
    max_len: int = opt(100000, "FIFO capacity: the oldest samples are dropped", min=1)
    max_reuse: float = opt(0.0, "draws per received sample, on average, after which draws wait for new samples "
                                "(0: no cap); the trainer then waits too, leaving the CPU to the provers",
                           min=0.0)


class ReplayBuffer(Generic[T]):
    def __init__(self, min_len: int, max_len: int, seed: int = 0, max_reuse: float = 0.0) -> None:
        if min_len > max_len:
            raise ValueError(f"replay buffer min_len {min_len} > max_len {max_len}")
        self.min_len, self.max_reuse = min_len, max_reuse
        self.items: deque[T] = deque(maxlen=max_len)
        self.ingress = 0  # samples received in total
        self.n_drawn = 0
        self._rng = random.Random(seed)
        self._ready = threading.Condition()

    def __len__(self) -> int:
        return len(self.items)

    def add(self, items: list[T]) -> None:
        with self._ready:
            self.items.extend(items)
            self.ingress += len(items)
            self._ready.notify_all()

    @property
    def ready(self) -> bool:
        return len(self.items) >= self.min_len

    def _can_draw(self, n: int) -> bool:
        # on 2 cores a few dozen Coq proofs an hour arrive while the trainer could draw each thousands of times
        # (3,187 on average after 50 min, session 25): it fits them again and again, on a core the provers lack
        return self.ready and (not self.max_reuse or self.n_drawn + n <= self.max_reuse * self.ingress)

    def draw(self, n: int, timeout: float | None = None) -> list[T]:
        """n samples uniformly with replacement; waits for min_len samples, and with max_reuse for new ones once
        those received were drawn max_reuse times each on average (TimeoutError after `timeout` s)."""
        with self._ready:
            if not self._ready.wait_for(lambda: self._can_draw(n), timeout=timeout):
                raise TimeoutError(f"replay buffer has {len(self.items)}/{self.min_len} samples, drawn "
                                   f"{self.n_drawn} times of {self.max_reuse:g} x {self.ingress} received")
            self.n_drawn += n
            return [self.items[self._rng.randrange(len(self.items))] for _ in range(n)]

    def stats(self) -> dict[str, float]:
        return {"ingress": self.ingress, "rb_stored": len(self.items),
                "rb_avg_n_sampled": self.n_drawn / self.ingress if self.ingress else 0.0}
