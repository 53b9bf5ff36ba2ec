"""Replay buffer of search samples for one MCTS task: FIFO of `max_len`, uniform draws with replacement
that wait until `min_len` samples have arrived (docs/guide-online.md). Thread-safe: provers add samples
through actor calls while the training loop draws.
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


class ReplayBuffer(Generic[T]):
    def __init__(self, min_len: int, max_len: int, seed: int = 0) -> None:
        if min_len > max_len:
            raise ValueError(f"replay buffer min_len {min_len} > max_len {max_len}")
        self.min_len = min_len
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
            if len(self.items) >= self.min_len:
                self._ready.notify_all()

    @property
    def ready(self) -> bool:
        return len(self.items) >= self.min_len

    def draw(self, n: int, timeout: float | None = None) -> list[T]:
        """n samples uniformly with replacement; waits for min_len samples (TimeoutError after `timeout` s)."""
        with self._ready:
            if not self._ready.wait_for(lambda: len(self.items) >= self.min_len, timeout=timeout):
                raise TimeoutError(f"replay buffer has {len(self.items)}/{self.min_len} samples")
            self.n_drawn += n
            return [self.items[self._rng.randrange(len(self.items))] for _ in range(n)]

    def stats(self) -> dict[str, float]:
        return {"ingress": self.ingress, "rb_stored": len(self.items),
                "rb_avg_n_sampled": self.n_drawn / self.ingress if self.ingress else 0.0}
