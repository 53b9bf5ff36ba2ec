import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperprover.analysis.compare import bootstrap_interval, compare, mcnemar_exact
from hyperprover.cli import main
from hyperprover.config import ConfigError
from hyperprover.results import AttemptRecord, ResultsFile


def write_eval(folder, outcomes, attempts=None):
    """outcomes: label -> proved at attempt 1 (a False gets `attempts[label]` failed attempts)."""
    f = ResultsFile(folder / "eval_results.jsonl")
    for label, proved in outcomes.items():
        for a in range(1, (attempts or {}).get(label, 1) + 1):
            f.append(AttemptRecord(label=label, attempt=a, proved=proved and a == (attempts or {}).get(label, 1)))
    return str(folder)


def table(both, only_a, only_b, neither):
    a, b = {}, {}
    i = 0
    for n, pa, pb in ((both, True, True), (only_a, True, False), (only_b, False, True), (neither, False, False)):
        for _ in range(n):
            a[f"t:{i}"], b[f"t:{i}"] = pa, pb
            i += 1
    return a, b


@pytest.mark.parametrize(("only_a", "only_b", "p"), [
    (10, 1, 2 * 12 / 2**11),  # 2 * (C(11,0) + C(11,1)) / 2^11 = 0.01171875
    (5, 0, 2 / 2**5),  # 0.0625: five to none is not significant at 0.05
    (6, 0, 2 / 2**6),  # 0.03125: six to none is
    (3, 3, 1.0),
    (0, 0, 1.0),
    (1, 9, 2 * 11 / 2**10),  # symmetric in the two sides
])
def test_mcnemar_known_values(only_a, only_b, p):
    assert math.isclose(mcnemar_exact(only_a, only_b), p, rel_tol=1e-12)


@given(st.integers(0, 60), st.integers(0, 60))
def test_mcnemar_is_a_probability_and_symmetric(x, y):
    p = mcnemar_exact(x, y)
    assert 0.0 < p <= 1.0 and p == mcnemar_exact(y, x)
    if x != y:  # one more discordant unit on the leading side never makes the difference less significant
        lead, trail = max(x, y), min(x, y)
        assert mcnemar_exact(lead + 1, trail) <= p


def test_compare_hand_written_folders(tmp_path):
    a, b = table(both=7, only_a=10, only_b=1, neither=22)
    c = compare([write_eval(tmp_path / "a", a)], [write_eval(tmp_path / "b", b)], names=("htps", "uniform"))
    assert (c.both, c.only_a, c.only_b, c.neither) == (7, 10, 1, 22)
    assert (c.a.proved, c.b.proved, c.a.units) == (17, 8, 40)
    assert math.isclose(c.p_value, 0.01171875)
    assert math.isclose(c.diff, 9 / 40)
    assert 0 < c.ci_low < c.diff < c.ci_high
    assert c.verdict().startswith("htps proves more")


def test_compare_pools_seeds_pairwise(tmp_path):
    a1, b1 = table(2, 3, 0, 5)
    a2, b2 = table(2, 3, 1, 4)
    c = compare([write_eval(tmp_path / "a1", a1), write_eval(tmp_path / "a2", a2)],
                [write_eval(tmp_path / "b1", b1), write_eval(tmp_path / "b2", b2)])
    assert (c.n_runs, c.n_theorems, c.a.units) == (2, 10, 20)
    assert (c.only_a, c.only_b, c.both) == (6, 1, 4)
    assert math.isclose(c.p_value, mcnemar_exact(6, 1))
    # theorems 2-4 are A's in both seeds, 5 is B's in seed 2 only: 3 theorems for A, 1 for B
    assert (c.a_more, c.b_more) == (3, 1) and math.isclose(c.p_theorems, mcnemar_exact(3, 1))
    assert c.verdict().startswith("within noise")


def test_verdict_does_not_count_a_theorem_once_per_seed(tmp_path):
    """Six theorems that A proves in all three seeds and B never: 18 discordant units (McNemar p ~ 8e-6),
    but only six independent theorems (sign test p = 1/32)."""
    a, b = table(both=2, only_a=6, only_b=0, neither=12)
    fa = [write_eval(tmp_path / f"a{s}", a) for s in range(3)]
    fb = [write_eval(tmp_path / f"b{s}", b) for s in range(3)]
    c = compare(fa, fb)
    assert c.only_a == 18 and math.isclose(c.p_value, 2 / 2**18)
    assert (c.a_more, c.b_more) == (6, 0) and math.isclose(c.p_theorems, 2 / 2**6)
    assert f"p = {c.p_theorems:.3g}" in c.verdict()


def test_compare_counts_any_attempt_or_the_first_k(tmp_path):
    a = write_eval(tmp_path / "a", {"x": True, "y": True}, attempts={"x": 1, "y": 3})  # y proved at attempt 3
    b = write_eval(tmp_path / "b", {"x": True, "y": False})
    assert compare([a], [b]).only_a == 1
    assert compare([a], [b], attempts=1).only_a == 0


def test_compare_refuses_different_theorems(tmp_path):
    a = write_eval(tmp_path / "a", {"x": True, "y": False})
    b = write_eval(tmp_path / "b", {"x": True})
    with pytest.raises(ConfigError, match="not the same theorems.*missing y"):
        compare([a], [b])
    with pytest.raises(ConfigError, match="one folder per seed"):
        compare([a, a], [b])
    with pytest.raises(ConfigError, match="no eval_results.jsonl or mcts_results.jsonl"):
        compare([str(tmp_path / "nowhere")], [b])


def test_bootstrap_interval_contains_the_difference_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small = rng.random((40, 1)) < 0.5, rng.random((40, 1)) < 0.3
    large = rng.random((4000, 1)) < 0.5, rng.random((4000, 1)) < 0.3
    lo_s, hi_s = bootstrap_interval(small[0].astype(float), small[1].astype(float), 2000, 0)
    lo_l, hi_l = bootstrap_interval(large[0].astype(float), large[1].astype(float), 2000, 0)
    assert hi_l - lo_l < (hi_s - lo_s) / 3
    assert lo_l < 0.2 < hi_l


def test_cli_text_and_json(tmp_path, capsys):
    a, b = table(1, 6, 0, 3)
    fa, fb = write_eval(tmp_path / "a", a), write_eval(tmp_path / "b", b)
    assert main(["compare", fa, "--vs", fb, "--names", "model,floor"]) == 0
    out = capsys.readouterr().out
    assert "only model 6, only floor 0" in out and "p = 0.03125" in out and "model proves more" in out
    assert main(["compare", fa, "--vs", fb, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["only_a"] == 6 and math.isclose(d["p_value"], 0.03125)
    assert main(["compare", fa, "--vs", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no eval_results.jsonl" in err


def test_compare_on_a_fold_of_the_split(tmp_path):
    """`only` keeps the held-out labels: A wins 4-0 on all eight theorems but only 1-0 on the odd ones."""
    a = {f"identities:{i}": i < 4 for i in range(8)}
    b = dict.fromkeys(a, False)
    fa, fb = write_eval(tmp_path / "a", a), write_eval(tmp_path / "b", b)
    assert (compare([fa], [fb]).only_a, compare([fa], [fb]).n_theorems) == (4, 8)
    c = compare([fa], [fb], only=[f"identities:{i}" for i in (1, 3, 5, 7)])
    assert (c.n_theorems, c.only_a, c.only_b, c.a.proved) == (4, 2, 0, 2)
    with pytest.raises(ConfigError, match="no attempt at identities:9"):
        compare([fa], [fb], only=["identities:9"])


def test_compare_cli_takes_an_env_fold(tmp_path, capsys):
    a = {f"identities:{i}": i % 4 == 3 for i in range(160)}  # A proves exactly the held-out quarter
    b = dict.fromkeys(a, False)
    fa, fb = write_eval(tmp_path / "a", a), write_eval(tmp_path / "b", b)
    assert main(["compare", fa, "--vs", fb, "--env", "eq", "--split", "identities%4=3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["n_theorems"], out["only_a"], out["both"]) == (40, 40, 0)
    assert main(["compare", fa, "--vs", fb, "--env", "eq", "--split", "identities%4!=3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["only_a"] == 0
    assert main(["compare", fa, "--vs", fb, "--split", "identities%4=3"]) == 2
    assert "--env and --split go together" in capsys.readouterr().err
    assert main(["compare", fa, "--vs", fb, "--env", "eq", "--split", "identities%0=3"]) == 2
    assert "bad fold" in capsys.readouterr().err
    assert main(["compare", fa, "--vs", fb, "--env", "nope", "--split", "identities%4=3"]) == 2
    assert "--env nope: unknown env 'nope'" in capsys.readouterr().err


def test_compare_cli_takes_a_pick_of_the_split(tmp_path, capsys):
    """A folder of the whole split against one of a pick: `--split identities@...` compares on the pick."""
    a = {f"identities:{i}": i in (0, 7, 57) for i in range(160)}
    b = {f"identities:{i}": i == 7 for i in (0, 7, 57, 102)}
    fa, fb = write_eval(tmp_path / "a", a), write_eval(tmp_path / "b", b)
    assert main(["compare", fa, "--vs", fb, "--env", "eq", "--split", "identities@0,7,57,102", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["n_theorems"], out["only_a"], out["both"], out["only_b"]) == (4, 2, 1, 0)
    assert main(["compare", fa, "--vs", fb]) == 2
    assert "covers 4 theorems" in capsys.readouterr().err  # without the pick, the folders differ


def test_online_runs_compare_on_what_either_attempted(tmp_path, capsys):
    """Online folders (mcts_results.jsonl) attempt different theorems: with `--unattempted_fail` a theorem a run
    never reached counts as not proved by it, over the union of both runs' theorems or over a whole split."""
    online, control = tmp_path / "online", tmp_path / "control"
    write_eval(online, {"identities:0": True, "identities:1": True, "identities:2": False, "identities:3": True})
    write_eval(control, {"identities:0": True, "identities:2": True, "identities:5": False})
    for folder in (online, control):  # an online run's provers write mcts_results.jsonl
        (folder / "eval_results.jsonl").rename(folder / "mcts_results.jsonl")
    with pytest.raises(ConfigError, match="not the same theorems.*--unattempted_fail"):
        compare([str(online)], [str(control)])
    c = compare([str(online)], [str(control)], unattempted_fail=True)
    assert (c.n_theorems, c.both, c.only_a, c.only_b, c.neither) == (5, 1, 2, 1, 1)
    assert main(["compare", str(online), "--vs", str(control), "--unattempted_fail", "--env", "eq",
                 "--split", "identities%4=3", "--json"]) == 0  # 40 identities, of which the runs reached :3 alone
    out = json.loads(capsys.readouterr().out)
    assert (out["n_theorems"], out["only_a"], out["neither"]) == (40, 1, 39)
