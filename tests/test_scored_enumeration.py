"""Scored enumeration (`--decoding.score_enumerated`): the model ranks every complete applicable tactic."""

import dataclasses

import pytest
import torch

from hyperprover.envs.base import make_env
from hyperprover.model.config import ModelConfig, resolve
from hyperprover.model.dictionary import Dictionary
from hyperprover.model.expander import TransformerExpander, load_expander
from hyperprover.model.transformer import Seq2SeqTransformer
from hyperprover.search.expander import DecodingConfig, complete_tactics
from online_model import rigged_checkpoint

GOALS = ["x0 + 0 == x0", "(x1 * 1) + x0 == x0 + x1", "exp(x0 - x0) == exp(0)", "x0 == x1"]


@pytest.fixture(scope="module")
def expander(tmp_path_factory):
    env = make_env("eq")
    return load_expander(rigged_checkpoint(tmp_path_factory.mktemp("ckpt") / "rigged.pth"), env, "cpu")


def test_every_known_complete_tactic_is_scored(expander):
    env = expander.env
    goals = [env.parse_goal(g) for g in GOALS]
    params = DecodingConfig(n_samples=4, score_enumerated=True)
    for goal, e in zip(goals, expander.expand(goals, params, [1, 2, 3, 4])):
        known = [t for t in complete_tactics(env, goal) if all(w in expander.dico.word2id for w in t.split())]
        assert known, goal.key
        assert set(known) <= set(e.tactics), goal.key  # never fewer than the floor proposes
        assert list(e.log_priors) == sorted(e.log_priors, reverse=True) and max(e.log_priors) <= 0
        assert 0.0 <= e.critic <= 1.0


def test_scores_are_the_models_sampling_log_probs(expander):
    """A complete tactic that plain sampling draws gets the same score from enumeration."""
    env = expander.env
    goal = env.parse_goal("(x1 * 1) + x0 == x0 + x1")
    (sampled,) = expander.expand([goal], DecodingConfig(n_samples=64), [9])
    (scored,) = expander.expand([goal], DecodingConfig(n_samples=4, score_enumerated=True), [9])
    scores = dict(zip(scored.tactics, scored.log_priors))
    common = [(t, s) for t, s in zip(sampled.tactics, sampled.log_priors) if t in scores]
    assert len(common) >= 3
    for t, s in common:
        assert scores[t] == pytest.approx(s, abs=1e-4), t


def test_needs_an_env_that_enumerates(tmp_path):
    sr = make_env("sr")
    exp = load_expander(rigged_checkpoint(tmp_path / "rigged.pth"), sr, "cpu")
    with pytest.raises(ValueError, match="--decoding.score_enumerated"):
        exp.expand([], DecodingConfig(score_enumerated=True))


def test_renormalized_scores_are_the_constrained_sampling_log_probs(expander):
    """With renormalize_scores, a tactic's score is what sampling constrained to the applicable starts gives it
    (only the allowed tokens' logits computed), and never below the unconstrained score."""
    env = expander.env
    goal = env.parse_goal("(x1 * 1) + x0 == x0 + x1")
    (sampled,) = expander.expand([goal], DecodingConfig(n_samples=64, applicable_only=True), [9])
    (renorm,) = expander.expand([goal], DecodingConfig(n_samples=4, score_enumerated=True,
                                                        renormalize_scores=True), [9])
    (plain,) = expander.expand([goal], DecodingConfig(n_samples=4, score_enumerated=True), [9])
    scores, plain_scores = dict(zip(renorm.tactics, renorm.log_priors)), dict(zip(plain.tactics, plain.log_priors))
    common = [(t, s) for t, s in zip(sampled.tactics, sampled.log_priors) if t in scores]
    assert len(common) >= 3
    for t, s in common:
        assert scores[t] == pytest.approx(s, abs=1e-4), t
    assert all(scores[t] >= plain_scores[t] - 1e-5 for t in scores if t in plain_scores)
    assert any(scores[t] > plain_scores[t] + 1e-3 for t in scores if t in plain_scores)


def test_no_samples_scores_exactly_the_known_complete_tactics(expander):
    env = expander.env
    goals = [env.parse_goal(g) for g in GOALS]
    with_samples = expander.expand(goals, DecodingConfig(n_samples=8, score_enumerated=True), [1, 2, 3, 4])
    alone = expander.expand(goals, DecodingConfig(n_samples=0, score_enumerated=True), [1, 2, 3, 4])
    for goal, s, a in zip(goals, with_samples, alone):
        known = {t for t in complete_tactics(env, goal) if all(w in expander.dico.word2id for w in t.split())}
        assert set(a.tactics) == known, goal.key
        scores = dict(zip(s.tactics, s.log_priors))
        for t, p in zip(a.tactics, a.log_priors):  # the same distribution, whatever else was sampled
            assert p == pytest.approx(scores[t], abs=1e-4), t
    assert any(len(s.tactics) > len(a.tactics) for s, a in zip(with_samples, alone))


def test_no_samples_without_scoring_is_a_clear_error(expander):
    with pytest.raises(ValueError, match="n_samples 0 .*score_enumerated"):
        expander.expand([expander.env.parse_goal(GOALS[0])], DecodingConfig(n_samples=0))


@pytest.mark.parametrize("renormalize", [False, True])
def test_fast_path_gives_the_reference_expansions(expander, renormalize):
    """The fast path (radix-tree scoring) proposes the reference path's tactics with the same priors (float
    rounding apart), and a batch of goals gets what each goal gets alone."""
    env = expander.env
    goals = [env.parse_goal(g) for g in GOALS]
    seeds = [5, 6, 7, 8]
    params = DecodingConfig(n_samples=6, score_enumerated=True, renormalize_scores=renormalize)
    fast = expander.expand(goals, params, seeds)
    reference = expander.expand(goals, dataclasses.replace(params, fast=False), seeds)
    alone = [expander.expand([g], params, [s])[0] for g, s in zip(goals, seeds)]
    for f, r, a in zip(fast, reference, alone):
        assert len(f.tactics) > 3
        for other in (r, a):
            assert set(f.tactics) == set(other.tactics)
            priors = dict(zip(other.tactics, other.log_priors))
            assert [priors[t] for t in f.tactics] == pytest.approx(list(f.log_priors), abs=1e-4)
            assert f.critic == pytest.approx(other.critic, abs=1e-5)


@pytest.mark.parametrize("precision", ["int8", "bfloat16"])
def test_low_precision_scores_are_close_and_new_weights_drop_the_copy(expander, precision):
    """`--decoding.precision int8|bfloat16` on CPU proposes the float path's tactics with nearby priors (they are
    approximate), and new weights (online training) replace the low-precision copy instead of leaving it on the
    old ones."""
    env, dico = expander.env, expander.dico
    torch.manual_seed(0)  # a model whose decoder reads the goal (the rigged one's decoder layers are zero)
    model = Seq2SeqTransformer(resolve(ModelConfig(emb_dim=64, n_layers=2, n_heads=4), len(dico), dico.pad))
    expander = TransformerExpander(model, dico, env)
    goals = [env.parse_goal(g) for g in GOALS]
    params = DecodingConfig(n_samples=0, score_enumerated=True)
    low = dataclasses.replace(params, precision=precision)
    exact = expander.expand(goals, params, [1, 2, 3, 4])
    approx = expander.expand(goals, low, [1, 2, 3, 4])
    for e, q in zip(exact, approx):
        assert set(e.tactics) == set(q.tactics)
        priors = dict(zip(q.tactics, q.log_priors))
        diffs = [abs(priors[t] - p) for t, p in zip(e.tactics, e.log_priors)]
        assert max(diffs) < 0.5 and any(d > 0 for d in diffs), diffs  # close, and not the float model itself
    state = {k: v.clone() for k, v in expander.model.state_dict().items()}
    try:
        expander.set_weights({k: v * 0.5 if v.is_floating_point() else v for k, v in state.items()})
        halved = expander.expand(goals, low, [1, 2, 3, 4])
        assert any(abs(a - b) > 1e-3 for h, q in zip(halved, approx) for a, b in zip(h.log_priors, q.log_priors))
    finally:
        expander.set_weights(state)
    assert expander.expand(goals, params, [1, 2, 3, 4]) == exact
    assert next(expander.model.parameters()).dtype == torch.float32  # the copy, not the model, is cast


@pytest.fixture(scope="module")
def reader():
    """An expander whose random-weight model reads the goal (the rigged model's priors ignore it)."""
    env = make_env("eq")
    goals = [env.parse_goal(g) for g in GOALS]
    words = {w: 1 for g in goals for w in env.goal_tokens(g)}
    for g in goals:
        words.update((w, 1) for prefix, _ in env.tactic_prefixes(g) for w in prefix)
    words.update((w, 1) for w in ("<SUBST>", "EQ_VAR_A", "EQ_VAR_B", "EQ_VAR_C", "<SUBST_NAME>", "</SUBST>"))
    dico = Dictionary.build(words)
    torch.manual_seed(1)
    model = Seq2SeqTransformer(resolve(ModelConfig(emb_dim=64, n_layers=2, n_heads=4), len(dico), dico.pad))
    return TransformerExpander(model, dico, env)


def test_sampled_tactics_keep_their_reference_scores_on_the_fast_path(reader):
    """The fast path takes a sampled tactic's score from the sampling's own logits instead of feeding it through
    the decoder again: with a model whose decoder reads the goal, the priors are the reference path's."""
    expander, env = reader, reader.env
    goals = [env.parse_goal(g) for g in GOALS]
    params = DecodingConfig(n_samples=6, score_enumerated=True, max_gen_len=12)
    seeds = [3, 4, 5, 6]
    fast = expander.expand(goals, params, seeds)
    reference = expander.expand(goals, dataclasses.replace(params, fast=False), seeds)
    n_sampled = 0
    for goal, f, r in zip(goals, fast, reference):
        assert set(f.tactics) == set(r.tactics)
        priors = dict(zip(r.tactics, r.log_priors))
        assert [priors[t] for t in f.tactics] == pytest.approx(list(f.log_priors), abs=1e-4)
        n_sampled += len(set(f.tactics) - set(complete_tactics(env, goal)))
    assert n_sampled >= 8  # most priors above came from samples, not from the enumerated complete tactics


def test_a_goal_ranked_again_comes_from_the_cache_until_new_weights(expander):
    """Ranking the complete tactics is deterministic: a goal seen again (an online run attempts a theorem many
    times) costs no model call, until new weights arrive; sampled expansions are never reused."""
    env = expander.env
    goals = [env.parse_goal(g) for g in GOALS]
    params = DecodingConfig(n_samples=0, score_enumerated=True)
    expander.set_weights(expander.model.state_dict())  # an empty cache
    expander.cache_counts.update(hits=0, misses=0)
    first = expander.expand(goals, params)
    spent = dict(expander.timings)
    again = expander.expand(goals[::-1], params)
    assert [(e.goal, e.tactics, e.log_priors) for e in again] == [(e.goal, e.tactics, e.log_priors)
                                                                   for e in first[::-1]]
    assert expander.timings == spent and expander.cache_counts == {"hits": 4, "misses": 4}
    expander.expand(goals, DecodingConfig(n_samples=2, score_enumerated=True), [1, 2, 3, 4])
    assert expander.cache_counts == {"hits": 4, "misses": 4}
    expander.set_weights(expander.model.state_dict())
    expander.expand(goals, params)
    assert expander.cache_counts == {"hits": 4, "misses": 8}


@pytest.mark.parametrize("margin", [0.5, 1.0])
def test_pruning_drops_only_tactics_far_below_the_best(reader, margin):
    """--decoding.prune_margin with renormalised scores: the kept tactics keep their scores, and every dropped one
    scores (fully) below the goal's best by more than the margin; some are dropped."""
    import copy

    model = copy.deepcopy(reader.model)
    with torch.no_grad():  # sharper: a random model's word distributions are nearly flat
        model.decoder.proj.weight.mul_(20.0)
    env = reader.env
    expander = TransformerExpander(model, reader.dico, env)
    goals = [env.parse_goal(g) for g in GOALS]
    full = DecodingConfig(n_samples=0, score_enumerated=True, renormalize_scores=True)
    n_dropped = 0
    for whole, pruned in zip(expander.expand(goals, full), expander.expand(goals, dataclasses.replace(
            full, prune_margin=margin))):
        scores = dict(zip(whole.tactics, whole.log_priors))
        kept = dict(zip(pruned.tactics, pruned.log_priors))
        assert set(kept) <= set(scores) and max(kept.values()) == pytest.approx(max(scores.values()), abs=1e-4)
        for t, s in kept.items():  # the same radix tree minus the dropped branches: float rounding only
            assert s == pytest.approx(scores[t], abs=1e-4), t
        dropped = set(scores) - set(kept)
        assert all(scores[t] < max(scores.values()) - margin for t in dropped)
        n_dropped += len(dropped)
    assert n_dropped > 0


@pytest.mark.parametrize("flags,expected", [("fpu avx512f avx512_bf16 sse", "bfloat16"),
                                            ("fpu amx_tile amx_bf16", "bfloat16"),
                                            ("fpu avx2 avx512f", "float"), ("", "float")])
def test_auto_precision_is_bfloat16_only_where_the_cpu_computes_it(expander, monkeypatch, flags, expected):
    """`--decoding.precision auto` proves with the bfloat16 copy on a CPU with AVX-512 BF16 or AMX and with the
    float model elsewhere (emulated bfloat16 is slower than float): its expansions are those of the precision
    it resolves to."""
    from hyperprover.model import expander as module

    monkeypatch.setattr(module, "_cpu_flags", lambda: frozenset(flags.split()))
    cpu = torch.device("cpu")
    assert module.resolve_precision("auto", cpu) == expected
    assert module.resolve_precision("int8", cpu) == "int8"  # an explicit choice is kept
    env, dico = expander.env, expander.dico
    torch.manual_seed(0)
    model = Seq2SeqTransformer(resolve(ModelConfig(emb_dim=64, n_layers=2, n_heads=4), len(dico), dico.pad))
    fresh = TransformerExpander(model, dico, env)
    goals = [env.parse_goal(g) for g in GOALS]
    params = DecodingConfig(n_samples=0, score_enumerated=True)
    auto = fresh.expand(goals, dataclasses.replace(params, precision="auto"))
    assert auto == fresh.expand(goals, dataclasses.replace(params, precision=expected))
    assert list(fresh._copies) == (["bfloat16"] if expected == "bfloat16" else [])


def test_the_cpu_flags_that_auto_reads_can_be_given(monkeypatch):
    """$HYPERPROVER_CPU_FLAGS stands for /proc/cpuinfo's flags (empty: `auto`, the default, proves in float, as on
    a CPU without bfloat16), so a run on one machine can reproduce the proofs of another."""
    from hyperprover.model import expander as module

    assert DecodingConfig().precision == "auto"
    cpu = torch.device("cpu")
    try:
        for given, expected in (("fpu avx512_bf16", "bfloat16"), ("", "float"), ("amx_bf16", "bfloat16")):
            monkeypatch.setenv("HYPERPROVER_CPU_FLAGS", given)
            module._cpu_flags.cache_clear()
            assert module.resolve_precision(DecodingConfig().precision, cpu) == expected
    finally:
        monkeypatch.undo()
        module._cpu_flags.cache_clear()
