
import pytest

from hyperprover.envs.base import proof_to_json
from hyperprover.envs.equations.expr import parse_infix
from hyperprover.envs.sr import generator
from hyperprover.envs.sr.env import SREnv
from hyperprover.envs.sr.numeric import evaluate_points, values_match
from hyperprover.envs.sr.recovery import chain_tactics, dense_match, final_expr, main, recovered
from hyperprover.results import AttemptRecord, ResultsFile

ENV = SREnv()


def test_gold_proofs_recover_an_expression_fitting_the_points():
    probs = generator.fixed_split("valid", 30)
    theorems = [p.theorem("valid") for p in probs]
    records = [AttemptRecord(p.label, 1, True, proof_to_json(ENV, p.proof())) for p in probs]
    records.append(AttemptRecord(probs[0].label, 2, False))  # a failed attempt is ignored
    found = recovered(ENV, theorems, records)
    assert [r.label for r in found] == [p.label for p in probs]
    for p, r in zip(probs, found):
        assert r.n_tactics == len(p.steps)
    # a chain may stop early (its prefix already fits the points), yet most gold chains are the target itself
    assert sum(r.dense_exact for r in found) >= 20


def test_final_expr_replays_and_rejects_wrong_chains():
    p = generator.fixed_split("valid", 1)[0]
    tactics = [t for _, t in p.steps]
    assert chain_tactics(proof_to_json(ENV, p.proof())) == tactics
    root = p.steps[0][0]
    found = final_expr(ENV, root, tactics)
    assert values_match(evaluate_points(found, p.points), p.points.y)
    with pytest.raises(ValueError, match="do not close"):
        final_expr(ENV, root, tactics[:-1])
    with pytest.raises(ValueError, match="fails"):
        final_expr(ENV, root, ["T||A|sin(A) <PREFIX_99>"])


def test_dense_match_tells_points_only_fits_apart():
    x0 = parse_infix("x0")
    # sin(pi*x) vanishes at every integer: it fits 0 at integer sample points but not on a dense grid
    assert not dense_match(parse_infix("sin(PI*x0)"), parse_infix("0*x0"), -10, 10)
    assert dense_match(parse_infix("x0*x0"), parse_infix("pow2(x0)"), -10, 10)
    assert dense_match(x0, x0, -10, 10)
    # removable singularities at 0 are not on the grid; a real difference is
    assert dense_match(parse_infix("x0 * cos(x0) / x0"), parse_infix("cos(x0)"), -10, 10)
    assert not dense_match(parse_infix("sqrt(x0) * sqrt(x0)"), x0, -10, 10)  # undefined for x0 < 0


def test_main_prints_the_share(tmp_path, capsys):
    probs = generator.fixed_split("valid", 3)
    path = tmp_path / "eval_results.jsonl"
    results = ResultsFile(path)
    results.append(AttemptRecord(probs[0].label, 1, True, proof_to_json(ENV, probs[0].proof())))
    results.append(AttemptRecord(probs[1].label, 1, False))
    assert main([str(path), "--split", "valid"]) == 0
    out = capsys.readouterr().out
    assert "recovered (fit at the sample points) 1/2" in out
