import json
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperprover.config import ConfigError
from hyperprover.online.hyperopt import SearchParamsSampler, parse_param_str
from hyperprover.online.label_sampler import (
    AttemptOutcome,
    LabelSampler,
    LabelSamplerConfig,
    SplitSampler,
    parse_split_props,
)
from hyperprover.online.replay_buffer import ReplayBuffer
from hyperprover.provers.draws import apply_draw
from hyperprover.search.config import SearchConfig
from hyperprover.search.expander import DecodingConfig

PAPER = ("{'n_expansions':[1000,10000],'n_samples':[8,16,32,48],'temperature':[0.8,2.0],"
         "'exploration':[0.01,100],'depth_penalty':[0.8,0.9,0.95,1],'length_penalty':[0,1.2]}")


def test_split_props():
    assert parse_split_props("train:1,identities:3") == {"train": 0.25, "identities": 0.75}
    assert parse_split_props("identities") == {"identities": 1.0}
    assert parse_split_props("train@3,9-12%2=0:1,valid@0,1:3") == {"train@3,9-12%2=0": 0.25, "valid@0,1": 0.75}
    with pytest.raises(ConfigError, match="bad weight"):
        parse_split_props("train:x")
    with pytest.raises(ConfigError, match="positive weight"):
        parse_split_props("train:0")


def test_paper_hyperopt_draws_in_range():
    sampler = SearchParamsSampler("random", PAPER, seed=1)
    for _ in range(200):
        d = sampler.draw()
        assert 1000 <= d["n_expansions"] <= 10000 and isinstance(d["n_expansions"], int)
        assert d["n_samples"] in (8, 16, 32, 48) and 0.8 <= d["temperature"] <= 2.0
        assert 0.01 <= d["exploration"] <= 100 and d["depth_penalty"] in (0.8, 0.9, 0.95, 1)
        search, dec = apply_draw(SearchConfig(), DecodingConfig(), d)
        assert search.n_expansions == d["n_expansions"] and dec.fixed_temperature == d["temperature"]
        assert dec.n_samples == d["n_samples"] and search.exploration == d["exploration"]
    # exploration is log-uniform: about half the draws below 1 = sqrt(0.01 * 100)
    below = sum(sampler.draw()["exploration"] < 1 for _ in range(2000))
    assert 850 < below < 1150


def test_fixed_hyperopt_draws_nothing():
    assert SearchParamsSampler("fixed", PAPER).draw() == {}


def test_hyperopt_errors():
    with pytest.raises(ConfigError, match="unknown parameter 'tempreature'"):
        parse_param_str("{'tempreature': [1, 2]}")
    with pytest.raises(ConfigError, match="range"):
        parse_param_str("{'temperature': [1, 2, 3]}")
    with pytest.raises(ConfigError, match="dict literal"):
        parse_param_str("__import__('os')")


def test_solve_rates_per_bucket():
    sampler = SearchParamsSampler("random", "{'temperature': [0.0, 1.0], 'policy': ['alpha_zero', 'other']}")
    sampler.record({"temperature": 0.05, "policy": "other"}, True)
    sampler.record({"temperature": 0.07, "policy": "other"}, False)
    sampler.record({"temperature": 0.95, "policy": "alpha_zero"}, True)
    rates = sampler.solve_rates()
    assert rates["prop_solved__temperature__0-0.1"] == 0.5
    assert rates["prop_solved__temperature__0.9-1"] == 1.0
    assert rates["prop_solved__policy__other"] == 0.5


def test_tactic_fill_forces_length_penalty_zero():
    search, dec = apply_draw(SearchConfig(), DecodingConfig(length_penalty=1.0), {"tactic_fill": "all"})
    assert search.add_tactic_fill and not search.add_tactic_errors and dec.length_penalty == 0.0


def test_prioritized_sampler_warmup_then_priority():
    labels = [f"l{i}" for i in range(5)]
    s = LabelSampler(labels, LabelSamplerConfig(use_prioritized_label_sampler=True,
                                                priority_kind="prop_not_proved", rho=0.0), seed=0)
    assert sorted(s.sample() for _ in range(5)) == labels  # warm-up hands each label out once
    for label in labels[:4]:
        s.update(AttemptOutcome(label, proved=True))
    s.update(AttemptOutcome("l4", proved=False))
    p = s.probabilities()
    assert p[4] == pytest.approx(1.0) and sum(p) == pytest.approx(1.0)
    assert all(s.sample() == "l4" for _ in range(20))


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1)), max_size=20),
       st.sampled_from(["pos_value_loss", "prop_not_proved", "first_time_proved", "minproof_size", "uniform"]))
def test_a_resumed_sampler_replaying_the_records_goes_on_as_the_sampler_that_made_them(outcomes, kind) -> None:
    """A resumed run replays mcts_results.jsonl through a fresh sampler: the same labels left in the warm-up, the
    same statistics, the same probabilities (pos_value_loss from the recorded mean of the solved critics,
    first_time_proved from the records' times)."""
    cfg = LabelSamplerConfig(use_prioritized_label_sampler=True, priority_kind=kind)
    labels = [f"l{i}" for i in range(6)]
    live = LabelSampler(labels, cfg, seed=3)
    records = []
    for i, (proved, critic) in enumerate(outcomes):
        label = live.sample()
        out = AttemptOutcome(label, proved, 3 if proved else None, solved_critics=(critic, critic), at=1000.0 + i)
        live.update(out)
        records.append(AttemptOutcome(label, proved, out.minproof_size, (critic,), out.at))
    resumed = LabelSampler(labels, cfg, seed=3)
    for r in records:
        resumed.replay(r)
    assert sorted(resumed.warmup) == sorted(live.warmup) and resumed.n_sampled == live.n_sampled
    assert resumed.stats == live.stats
    assert resumed.probabilities() == pytest.approx(live.probabilities())
    assert [resumed.sample() for _ in range(8)] == [live.sample() for _ in range(8)]


@given(st.integers(0, 40), st.booleans())
def test_a_resumed_split_sampler_hands_out_what_an_unbroken_run_would_have_next(n_before, prioritized) -> None:
    """Replaying the n records of the earlier pieces leaves the random draws where the unbroken run has them: a
    resumed uniform run does not hand out the first piece's labels again in the same order (it did until session
    33: the second piece of a Metamath run continued to 3.5 hours attempted no theorem the first had not)."""
    cfg = LabelSamplerConfig(use_prioritized_label_sampler=prioritized, priority_kind="prop_not_proved")
    pool = {"train": [f"t{i}" for i in range(30)], "valid": [f"v{i}" for i in range(20)]}
    live = SplitSampler(pool, {"train": 1.0, "valid": 1.0}, cfg, seed=5)
    records = []
    for i in range(n_before):
        split, label = live.sample()
        out = AttemptOutcome(label, proved=i % 3 == 0, at=float(i))
        live.update(split, out)
        records.append((split, out))
    resumed = SplitSampler(pool, {"train": 1.0, "valid": 1.0}, cfg, seed=5)
    for split, out in records:
        resumed.replay(split, out)
    assert [resumed.sample() for _ in range(10)] == [live.sample() for _ in range(10)]


@given(st.lists(st.tuples(st.integers(0, 5), st.booleans(), st.floats(0, 1)), max_size=30),
       st.sampled_from(["pos_value_loss", "prop_not_proved", "first_time_proved", "minproof_size", "uniform"]),
       st.booleans(), st.booleans())
def test_probabilities_are_a_distribution(updates, kind, uniform_stale, uniform_non_solved):
    cfg = LabelSamplerConfig(use_prioritized_label_sampler=True, priority_kind=kind,
                             use_uniform_as_staleness=uniform_stale, uniform_probs_for_non_solved=uniform_non_solved)
    s = LabelSampler([f"l{i}" for i in range(6)], cfg, seed=3)
    for i, proved, critic in updates:
        s.sample()
        s.update(AttemptOutcome(f"l{i}", proved, minproof_size=3 if proved else None, solved_critics=(critic,)))
    p = s.probabilities()
    assert all(x >= 0 for x in p) and sum(p) == pytest.approx(1.0)


def test_split_sampler_weights():
    ss = SplitSampler({"a": ["a1"], "b": ["b1", "b2"]}, {"a": 0.8, "b": 0.2}, LabelSamplerConfig(), seed=0)
    draws = [ss.sample()[0] for _ in range(2000)]
    assert 1500 < draws.count("a") < 1700
    with pytest.raises(ConfigError, match="no theorems"):
        SplitSampler({"a": []}, {"a": 1.0}, LabelSamplerConfig())


def test_replay_buffer_fifo_and_blocking():
    rb: ReplayBuffer[int] = ReplayBuffer(min_len=3, max_len=5, seed=0)
    with pytest.raises(TimeoutError):
        rb.draw(1, timeout=0.05)
    got: list[int] = []
    t = threading.Thread(target=lambda: got.extend(rb.draw(4, timeout=5)))
    t.start()
    time.sleep(0.05)
    rb.add([1, 2])
    time.sleep(0.05)
    assert not got  # still waiting: 2 < min_len
    rb.add([3, 4, 5, 6, 7])
    t.join(timeout=5)
    assert len(got) == 4 and list(rb.items) == [3, 4, 5, 6, 7]  # FIFO dropped 1 and 2
    assert set(rb.draw(200)) == {3, 4, 5, 6, 7}  # uniform with replacement covers everything
    assert rb.stats()["ingress"] == 7


def test_a_capped_buffer_waits_for_new_samples_once_its_samples_were_drawn_max_reuse_times() -> None:
    """With --rb.max_reuse the trainer's replay task stops drawing (and the trainer with it) once each sample
    received was drawn that many times on average, and goes on when a prover sends new ones."""
    from hyperprover.online.trainer_actor import replay_task
    from hyperprover.search.samples import CriticSample

    def sample(goal: str) -> CriticSample:
        return CriticSample("t", goal, (goal,), 0.5, False, False, 0.5, 1)

    rb: ReplayBuffer[CriticSample] = ReplayBuffer(min_len=2, max_len=100, seed=0, max_reuse=3)
    rb.add([sample("a"), sample("b")])
    records = replay_task("coq_mcts_critic", rb, "coq").train(0)
    assert {next(records).x for _ in range(6)} == {("a",), ("b",)}  # 3 x 2 draws
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(next(records)), daemon=True)
    t.start()
    t.join(timeout=0.2)
    assert t.is_alive() and not got  # waiting: 6 draws of 2 samples is the cap
    with pytest.raises(TimeoutError, match="drawn 6 times of 3 x 2 received"):
        rb.draw(1, timeout=0.05)
    rb.add([sample("c")])
    t.join(timeout=5)
    assert len(got) == 1 and rb.stats()["rb_avg_n_sampled"] == 7 / 3
    assert len(rb.draw(2)) == 2  # 9 = 3 x 3
    uncapped: ReplayBuffer[int] = ReplayBuffer(min_len=1, max_len=10)
    uncapped.add([1])
    assert len(uncapped.draw(1000)) == 1000


def test_a_replay_file_gives_back_its_samples_and_drops_only_a_last_line_cut_short(tmp_path) -> None:
    from hyperprover.online.trainer_actor import read_replay
    from hyperprover.search.samples import CriticSample, TacticSample, write_jsonl

    tactic = TacticSample("t", "g", ("g",), ("intro", "auto"), (("intro",), ("auto",)), (0.25, 0.75), 2, 3)
    critic = CriticSample("t", "g", ("g",), 1.0, True, False, 0.4, 3)
    path = tmp_path / "replay.jsonl"
    write_jsonl(path, [tactic, critic])
    write_jsonl(path, [critic])
    assert read_replay(path) == ([tactic], [critic, critic], None)
    whole = path.read_text()
    path.write_text(whole + whole.splitlines()[0][:40])  # a run killed while it wrote a batch
    got_tactic, got_critic, torn = read_replay(path)
    assert (got_tactic, got_critic) == ([tactic], [critic, critic]) and torn and "torn last line" in torn
    write_jsonl(path, [tactic])  # the resumed run appends: its first line must not be glued onto the torn one
    assert read_replay(path) == ([tactic, tactic], [critic, critic], None)
    path.write_text("{not json\n" + whole)
    with pytest.raises(ValueError, match="replay.jsonl:1: not a training sample .*delete the file"):
        read_replay(path)


def test_a_resume_cuts_the_replay_file_to_what_the_buffers_keep_and_still_counts_what_was_received(tmp_path):
    from hyperprover.online.trainer_actor import load_earlier_pieces, write_counts
    from hyperprover.search.samples import CriticSample, TacticSample, read_jsonl, write_jsonl

    def tactic(i: int) -> TacticSample:
        return TacticSample(f"t{i}", "g", ("g",), ("auto",), (("auto",),), (1.0,), 2, i)

    def critic(i: int) -> CriticSample:
        return CriticSample(f"c{i}", "g", ("g",), 0.5, False, False, 0.4, i)

    replay, counts = tmp_path / "replay.jsonl", tmp_path / "replay_drawn.json"
    assert load_earlier_pieces(replay, counts, 2).tactic == []  # a first piece: nothing to take back
    write_jsonl(replay, [tactic(0), critic(0), tactic(1), tactic(2), critic(1), tactic(3), critic(2), tactic(4)])
    counts.write_text(json.dumps({"eq_mcts_tactic": 7, "eq_mcts_critic": 5}))  # session 28's format: draws alone
    earlier = load_earlier_pieces(replay, counts, 3)
    assert [s.label for s in earlier.tactic] == ["t2", "t3", "t4"] and len(earlier.critic) == 3
    assert earlier.drawn == {"eq_mcts_tactic": 7, "eq_mcts_critic": 5}
    assert earlier.dropped == {"tactic": 2, "critic": 0} and any("cut to the last 3" in n for n in earlier.notes)
    assert [s.label for s in read_jsonl(replay)] == ["t2", "t3", "t4", "c0", "c1", "c2"]
    assert json.loads(counts.read_text()) == {"drawn": earlier.drawn, "dropped": earlier.dropped}
    again = load_earlier_pieces(replay, counts, 3)  # nothing more to cut: the file and the counts stay
    assert (again.tactic, again.critic, again.dropped, again.notes) == (earlier.tactic, earlier.critic,
                                                                        earlier.dropped, [])
    write_counts(counts, {"eq_mcts_tactic": 40, "eq_mcts_critic": 9}, again.dropped)  # the next piece's epochs
    write_jsonl(replay, [critic(3), tactic(5)])
    third = load_earlier_pieces(replay, counts, 3)
    assert [s.label for s in third.tactic] == ["t3", "t4", "t5"] and [s.label for s in third.critic] == [
        "c1", "c2", "c3"]
    assert third.dropped == {"tactic": 3, "critic": 1} and third.drawn["eq_mcts_tactic"] == 40
    # received in all = kept + cut, for --rb.max_reuse and the statistics
    assert len(third.tactic) + third.dropped["tactic"] == 6 and len(third.critic) + third.dropped["critic"] == 4


def test_unsolved_theorems_get_a_growing_budget():
    from hyperprover.online.main import grown_budget
    from hyperprover.provers.draws import apply_draw
    from hyperprover.search.config import SearchConfig
    from hyperprover.search.expander import DecodingConfig

    budgets = [grown_budget(64, failures, 2.0, 512) for failures in range(6)]
    assert budgets == [64, 128, 256, 512, 512, 512]
    assert grown_budget(64, 3, 1.0, 512) == 64 and grown_budget(64, 1, 1.5, 512) == 96
    search, _ = apply_draw(SearchConfig(), DecodingConfig(), {"n_expansions": budgets[2]})
    assert search.n_expansions == 256


def test_critic_switch_needs_what_it_switches() -> None:
    from hyperprover.config import load_config
    from hyperprover.online.config import OnlineConfig, check_online_config

    base = ["--reload_model", "m.pth", "--critic_from_auc", "0.7"]
    for extra in ([], ["--search.no_critic", "true", "--async_bwd_eval_freq", "0"],
                  ["--search.no_critic", "true", "--no_trainer", "true"]):
        with pytest.raises(ConfigError, match="--critic_from_auc switches the critic on"):
            check_online_config(load_config(OnlineConfig, [*base, *extra]))
    check_online_config(load_config(OnlineConfig, [*base, "--search.no_critic", "true"]))
    search, _ = apply_draw(SearchConfig(no_critic=True), DecodingConfig(), {"no_critic": False})
    assert search.no_critic is False
