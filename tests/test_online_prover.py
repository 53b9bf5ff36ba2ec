"""Per-proof parameters (an online run's hyperopt draws) through the Prover's `per_theorem`, without Ray."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

pytest.importorskip("hyperprover.envs.equations.env")

from hyperprover.envs.base import make_env  # noqa: E402
from hyperprover.model.expander import load_expander  # noqa: E402
from hyperprover.provers.draws import apply_draw  # noqa: E402
from hyperprover.search.config import ProverConfig, SearchConfig  # noqa: E402
from hyperprover.search.expander import DecodingConfig  # noqa: E402
from hyperprover.search.prover import Prover  # noqa: E402
from online_model import rigged_checkpoint  # noqa: E402


class Recorder:
    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls: list[tuple[int, int]] = []  # (n goals, n_samples)

    def expand(self, goals, params, seeds=None):  # type: ignore[no-untyped-def]
        self.calls.append((len(goals), params.n_samples))
        return self.inner.expand(goals, params, seeds)  # type: ignore[attr-defined]


def test_each_proof_is_expanded_with_its_own_drawn_decoding(tmp_path: Path) -> None:
    env = make_env("eq")
    rec = Recorder(load_expander(rigged_checkpoint(tmp_path / "m.pth"), env))
    search, decoding = SearchConfig(n_expansions=6, succ_expansions=2), DecodingConfig(n_samples=4, max_gen_len=8)
    prover = Prover(env, rec, search, decoding, ProverConfig("htps", 4),  # type: ignore[arg-type]
                    per_theorem=lambda th: apply_draw(search, decoding, th.meta["draw"]))
    ths = env.theorems("identities")[:4]
    jobs = [dataclasses.replace(t, meta={"attempt": 1, "draw": {"n_samples": 2 if i % 2 else 6}})
            for i, t in enumerate(ths)]
    records = list(prover.prove(jobs))
    assert sorted(r.label for r in records) == sorted(t.label for t in ths)
    used = {n for _, n in rec.calls}
    assert used == {2, 6}, f"drawn n_samples not applied: {rec.calls}"
    assert 4 not in used  # the configured value is overridden by every draw
    budgets = {r.label: r.stats["n_expansions"] for r in records}
    capped = [dataclasses.replace(t, meta={"attempt": 1, "draw": {"n_expansions": 2}}) for t in ths]
    assert all(r.stats["n_expansions"] <= 2 for r in prover.prove(capped)), budgets  # a drawn search budget too
