"""Bad input gets a one-line error (or is reported per record), never a traceback or a silent pass.

Deep expressions (a 332-term sum, 247 nested parentheses), binary files where text is expected, a
read-only --dump_path, labels of splits an env lacks, inconsistent or non-finite checkpoints, option
combinations the model cannot build, empty proof files and sweep files with unknown options.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import pickle
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
import torch

from hyperprover.cli import main
from hyperprover.config import ConfigError, load_config
from hyperprover.envs.base import ProofError, ProofNode, TacticResult
from hyperprover.envs.equations.env import EquationsEnv, goal_from_text, goal_from_tokens
from hyperprover.envs.equations.expr import (
    MAX_DEPTH,
    ExprParseError,
    evaluate,
    fold_constants,
    fraction,
    invalid_reason,
    is_valid,
    ops,
    parse_infix,
    parse_prefix,
    substitute,
    to_infix,
    to_pretty,
    variables,
)
from hyperprover.envs.equations.expr import Int as IntNode
from hyperprover.envs.sr.env import SREnv
from hyperprover.evaluation.by_hand import run_by_hand
from hyperprover.model.checkpoint import CheckpointError, load_checkpoint, load_model
from online_model import rigged_checkpoint

SUM_332 = " + ".join(["x0"] * 332)  # ~1,000 characters, a tree 332 levels deep
PARENS_247 = "(" * 247 + "x0" + ")" * 247
EVAL_FAST = ["--expander", "uniform", "--n_theorems", "1", "--search.n_expansions", "2"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    """The only message on stderr (progress bars, redrawn with '\\r', left out)."""
    lines = [x for x in err.replace("\r", "\n").splitlines() if x.strip() and "/s]" not in x]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def eq_records(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    path = tmp_path_factory.mktemp("eq") / "good.jsonl"
    assert main(["data", "--env", "eq", "--n", "2", "--out", str(path)]) == 0
    return path.read_text().splitlines()


@pytest.fixture(scope="module")
def sr_records(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    path = tmp_path_factory.mktemp("sr") / "good.jsonl"
    assert main(["data", "--env", "sr", "--n", "2", "--out", str(path)]) == 0
    return path.read_text().splitlines()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rigged_checkpoint(tmp_path_factory.mktemp("ckpt") / "rigged.pth")


# ---------------------------------------------------------------- 1. deep expressions


@pytest.mark.parametrize("env", ["eq", "sr"])
@pytest.mark.parametrize("goal", [SUM_332, PARENS_247], ids=["sum332", "parens247"])
def test_deep_theorem_is_a_one_line_error(env: str, goal: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    tactics = tmp_path / "tactics.txt"
    tactics.write_text("")
    text = f"{goal} = {goal}" if env == "eq" else goal
    code, _, err = run(["prove", "--env", env, "--theorem", text, "--tactics", str(tactics)], capsys)
    line = one_line(err)
    assert code == 2 and "too deep" in line and (f"> {MAX_DEPTH}" in line or f"more than {MAX_DEPTH}" in line)


def test_eval_theorems_file_with_a_deep_goal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    goals = tmp_path / "goals.txt"
    goals.write_text(f"x0 + 0 == x0\n{SUM_332} == x0\n")
    code, _, err = run(["eval", "--theorems_file", str(goals), *EVAL_FAST, "--dump_path", str(tmp_path)], capsys)
    line = one_line(err)
    assert code == 2 and "line 2" in line and "too deep" in line


def _deep_eq_records(good: str) -> list[str]:
    rec = json.loads(good)
    deep_prefix = "< " + "add " * 300 + "x0 " * 301 + "x0"
    node = json.dumps({"goal": rec["proof"]["goal"], "tactic": "t", "children": []})
    for _ in range(600):  # a proof nested deeper than JSON and Python recurse
        node = json.dumps({"goal": rec["proof"]["goal"], "tactic": "t", "children": ["@"]}).replace('"@"', node)
    chain = json.dumps({**rec, "label": "deep_proof", "proof": "@"}).replace('"@"', node)
    return [
        json.dumps({"label": "deep_sum", "goal": {"conclusion": f"{SUM_332} = x0"}, "proof": rec["proof"]}),
        json.dumps({"label": "deep_parens", "goal": {"conclusion": f"{PARENS_247} = x0"}, "proof": rec["proof"]}),
        json.dumps({"label": "deep_prefix", "goal": {"prefix": f"<GOAL> {deep_prefix} </GOAL>"},
                    "proof": rec["proof"]}),
        chain,
        json.dumps({**rec, "label": "list_dataset", "dataset": ["not", "a", "name"]}),
        "[" * 3000 + "]" * 3000,
    ]


def test_check_eq_reports_each_bad_record_and_checks_the_others(eq_records: list[str], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    bad = _deep_eq_records(eq_records[0])
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([eq_records[0], *bad, eq_records[1]]) + "\n")
    with default_recursion_limit():  # the reasons below are those of Python's default limit
        code, out, _ = run(["check", "--env", "eq", str(path), "--show", "10"], capsys)
    assert code == 1 and f"2/{2 + len(bad)} proofs check" in out
    failed = [x for x in out.splitlines() if x.startswith("FAILED")]
    assert [x.split(":")[1].split()[0] for x in failed] == [str(i) for i in range(2, 2 + len(bad))]
    assert sum("expression too deep" in x for x in failed) == 3 and "unknown dataset" in failed[4]
    assert "nested too deeply" in failed[3] and "nested too deeply" in failed[5]


def test_check_sr_reports_each_bad_record_and_checks_the_others(sr_records: list[str], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    rec = json.loads(sr_records[0])
    steps = [dict(s) for s in rec["proof"]]
    steps[-1]["expr"] = "neg " * 300 + "x0"
    bad = [json.dumps({**rec, "label": "deep_target", "target": "add " * 400 + "x0 " * 401}),
           json.dumps({**rec, "label": "deep_step", "proof": steps}),
           "[" * 3000 + "]" * 3000]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([sr_records[0], *bad, sr_records[1]]) + "\n")
    with default_recursion_limit():
        code, out, _ = run(["check", "--env", "sr", str(path), "--show", "10"], capsys)
    assert code == 1 and "2/5 proofs check" in out
    assert [x.split()[1] for x in out.splitlines() if x.startswith("  line")] == ["2", "3", "4"]
    assert out.count("expression too deep") == 2 and "nested too deeply" in out


def _frames() -> int:
    f, n = sys._getframe(), 0
    while f is not None:
        n, f = n + 1, f.f_back
    return n


@contextlib.contextmanager
def default_recursion_limit() -> Iterator[None]:
    """Python's default limit: importing the Metamath proof exporter raises it for the whole process."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@contextlib.contextmanager
def frames_left(n: int) -> Iterator[None]:
    """Let the body recurse only `n` frames deeper: proof that callers keep 1000 - n of Python's default."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_frames() + n)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


K = MAX_DEPTH - 2
# one side of a goal, MAX_DEPTH - 1 levels deep (the comparison adds the last level), in every shape
# whose walk recurses the most: sums (tree depth, no parser recursion), constant towers (exact and
# float evaluation), calls, signs, powers, |..| and divisions (parser recursion)
AT_LIMIT = {
    "sum": " + ".join(["x0"] * (MAX_DEPTH - 1)),
    "cos_const": "cos(" * K + "1" + ")" * K,
    "neg": "-" * K + "x0",
    "pow2": "(" * K + "x0" + ")^2" * K,
    "abs": "|" * K + "x0" + "|" * K,
    "div_const": "1 / (" * K + "2" + ")" * K,
    "exp": "exp(" * K + "x0" + ")" * K,
}


@pytest.mark.parametrize("shape", list(AT_LIMIT))
def test_goals_at_the_limit_work_everywhere_with_frames_to_spare(shape: str) -> None:
    env = EquationsEnv()
    with frames_left(700):
        goal = goal_from_text(f"{AT_LIMIT[shape]} = x0")
    assert goal.conclusion.height == MAX_DEPTH
    walks = [to_pretty, to_infix, variables, ops, is_valid, invalid_reason, fraction, fold_constants,
             lambda n: evaluate(n.children[0], {"x0": 0.5}), lambda n: substitute(n, {"x0": IntNode(3)}),
             lambda n: n == parse_prefix(n.prefix()), lambda n: pickle.loads(pickle.dumps(n)),
             lambda n: goal_from_tokens(goal.with_conclusion(n).tokens()), lambda n: goal.with_conclusion(n).text()]
    for walk in walks:
        fresh = parse_prefix(goal.conclusion.prefix())  # nothing memoised by an earlier walk
        with frames_left(700):
            walk(fresh)
    tactics = [" ".join(toks) for toks, complete in env.tactic_prefixes(goal) if complete]
    assert tactics
    for tactic in tactics[:: max(1, len(tactics) // 40)]:
        fresh_goal = goal_from_tokens(goal.tokens())
        with frames_left(700):
            res = env.apply(fresh_goal, tactic)
        assert isinstance(res, TacticResult)
        assert all(c.conclusion.height <= MAX_DEPTH for c in res.children)  # type: ignore[attr-defined]


def test_prefix_tokens_one_level_past_the_limit_are_refused() -> None:
    at = ["neg"] * (MAX_DEPTH - 1) + ["x0"]
    assert parse_prefix(at).height == MAX_DEPTH
    with pytest.raises(ExprParseError, match="too deep"):
        parse_prefix(["neg", *at])
    with pytest.raises(ExprParseError, match=f"{MAX_DEPTH + 1} nested levels"):
        parse_infix(" + ".join(["x0"] * (MAX_DEPTH + 1)))


def test_a_tactic_may_not_grow_a_goal_past_the_limit() -> None:
    env = EquationsEnv()
    goal = goal_from_text(f"{AT_LIMIT['sum']} = x0")
    res = env.apply(goal, "<TRANFORM_RULE> T||(A_*_1)|A <RULE_BACKWARD> <PREFIX_1>")  # A -> A * 1
    assert res.error is not None and res.error.kind == "invalid_child" and f"> {MAX_DEPTH}" in res.error.message
    sr = SREnv()
    sr_goal = sr.parse_goal(json.dumps({"target": "x0", "expr": AT_LIMIT["sum"] + " + x0"}))
    assert sr_goal.expr.height == MAX_DEPTH
    res = sr.apply(sr_goal, "T||A|sin(A) <PREFIX_0>")
    assert res.error is not None and res.error.kind == "invalid_child" and "levels" in res.error.message


@dataclass(frozen=True)
class _Count:
    n: int

    @property
    def key(self) -> str:
        return str(self.n)


class _CountingEnv:
    """Goals are numbers; tactic `next` turns n into n + 1 and closes 2000: a 2000-step proof by hand."""

    name = "count"

    def apply(self, goal: _Count, tactic: str) -> TacticResult:
        return TacticResult(tactic, children=() if goal.n >= 2000 else (_Count(goal.n + 1),))

    def goal_text(self, goal: _Count) -> str:
        return f"n = {goal.n}"

    def check_proof(self, proof: ProofNode) -> None:
        pass


def test_a_long_proof_by_hand_is_assembled_and_printed() -> None:
    out = StringIO()
    assert run_by_hand(_CountingEnv(), _Count(0), ["next"] * 2001, out)  # type: ignore[arg-type]
    assert "proved (2001 steps, depth 2001)" in out.getvalue() and out.getvalue().rstrip().endswith("by next")


def test_a_cycle_of_tactics_by_hand_is_still_refused() -> None:
    class Loop(_CountingEnv):
        def apply(self, goal: _Count, tactic: str) -> TacticResult:
            return TacticResult(tactic, children=(_Count((goal.n + 1) % 3),))

    with pytest.raises(ProofError, match="cycle"):
        run_by_hand(Loop(), _Count(0), ["next"] * 3, StringIO())  # type: ignore[arg-type]


# ---------------------------------------------------------------- 2. binary files, permissions, labels


@pytest.fixture
def binaries(tmp_path: Path) -> dict[str, Path]:
    rand = tmp_path / "random.json"
    rand.write_bytes(random.Random(0).randbytes(3000))
    gz = tmp_path / "packed.json"
    gz.write_bytes(gzip.compress(b'{"a": 1}\n'))
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("search: {seed: 1}  # caf\xe9\n".encode("latin-1"))
    return {"random": rand, "gzip": gz, "latin1": latin}


@pytest.mark.parametrize("kind", ["random", "gzip", "latin1"])
def test_binary_config_file(kind: str, binaries: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["prove", "--config", str(binaries[kind]), "--theorem", "x0 = x0"], capsys)
    line = one_line(err)
    assert code == 2 and f"--config {binaries[kind]}" in line
    assert ("gunzip" in line) == (kind == "gzip")


@pytest.mark.parametrize("kind", ["random", "gzip"])
def test_binary_tactics_and_theorems_files(kind: str, binaries: dict[str, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    f = str(binaries[kind])
    code, _, err = run(["prove", "--theorem", "x0 = x0", "--tactics", f], capsys)
    assert code == 2 and f"--tactics {f}" in one_line(err)
    code, _, err = run(["eval", "--theorems_file", f, *EVAL_FAST, "--dump_path", str(tmp_path / "d")], capsys)
    assert code == 2 and f"--theorems_file {f}" in one_line(err)  # the file is named


@pytest.mark.parametrize("env", ["eq", "sr"])
@pytest.mark.parametrize("kind", ["random", "gzip"])
def test_binary_file_to_check(env: str, kind: str, binaries: dict[str, Path],
                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["check", "--env", env, str(binaries[kind])], capsys)
    assert code == 2 and str(binaries[kind]) in one_line(err)


@pytest.mark.parametrize("env", ["eq", "sr"])
def test_binary_data_out_is_refused_and_left_alone(env: str, binaries: dict[str, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = binaries["random"]
    before = out.read_bytes()
    code, _, err = run(["data", "--env", env, "--n", "1", "--out", str(out)], capsys)
    assert code == 2 and f"--out {out}" in one_line(err)
    assert out.read_bytes() == before


def test_read_only_dump_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    ro = tmp_path / "read_only"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: refuse as the kernel would for another user
        real_mkdir = os.mkdir

        def mkdir(path: str | Path, mode: int = 0o777, *args: object, **kw: object) -> None:
            if Path(path).parent == ro:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            real_mkdir(path, mode, *args, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "mkdir", mkdir)
    code, _, err = run(["eval", *EVAL_FAST, "--dump_path", str(ro)], capsys)
    line = one_line(err)
    assert code == 2 and f"the folder {ro} is not writable" in line


@pytest.mark.parametrize("env,label", [("sr", "identities:9999"), ("eq", "train:3")])
def test_label_of_a_split_the_env_lacks(env: str, label: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["prove", "--env", env, "--theorem", label, "--tactics", "-"], capsys)
    line = one_line(err)
    assert code == 2 and f"--theorem {label}" in line and label.split(":")[0] in line


def _edited(checkpoint: Path, tmp_path: Path, edit: str) -> Path:
    state = torch.load(checkpoint, weights_only=True)
    if edit == "n_heads":
        state["model_dims"] = {**state["model_dims"], "n_heads": 3}  # 32 wide: 3 heads cannot split it
    elif edit == "n_heads_text":
        state["model_dims"] = {**state["model_dims"], "n_heads": "2"}
    else:
        weights = dict(state["model"])
        name = sorted(weights)[5]
        t = weights[name].clone()
        t.view(-1)[7] = float(edit)
        weights[name] = t
        state["model"] = weights
    path = tmp_path / f"{edit}.pth"
    torch.save(state, path)
    return path


@pytest.mark.parametrize("edit", ["n_heads", "n_heads_text", "nan", "inf"])
def test_edited_or_diverged_checkpoint_is_refused(edit: str, checkpoint: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = _edited(checkpoint, tmp_path, edit)
    with pytest.raises(CheckpointError) as e:
        load_model(path)
    if edit == "n_heads":
        assert "inconsistent" in str(e.value) and "n_heads 3" in str(e.value)
    elif edit in ("nan", "inf"):
        first = sorted(torch.load(checkpoint, weights_only=True)["model"])[5]
        assert f"non-finite weights, first in {first} (1 of" in str(e.value)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)  # what the Ray eval driver checks before its provers start
    code, _, err = run(["prove", "--theorem", "x0 + 0 = x0", "--reload_model", str(path), "--device", "cpu"], capsys)
    assert code == 2 and str(path) in one_line(err)


def test_model_heads_that_do_not_divide_the_width_fail_with_the_options(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from hyperprover.train.config import TrainConfig

    with pytest.raises(ConfigError, match="--model.emb_dim 512 is not divisible by --model.n_heads 7"):
        load_config(TrainConfig, ["--model.n_heads", "7"])
    with pytest.raises(ConfigError, match="--model.dec_emb_dim 36"):
        load_config(TrainConfig, ["--model.emb_dim", "64", "--model.dec_emb_dim", "36"])
    code, _, err = run(["train", "--model.n_heads", "7", "--dump_path", str(tmp_path / "runs")], capsys)
    assert code == 2 and "n_heads 7" in one_line(err)
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- 3. silently accepted


@pytest.mark.parametrize("env", ["eq", "sr"])
@pytest.mark.parametrize("content", ["", "\n  \n"], ids=["empty", "blank"])
def test_check_of_a_file_without_proofs_is_an_error(env: str, content: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "none.jsonl"
    path.write_text(content)
    code, out, err = run(["check", "--env", env, str(path)], capsys)
    assert code == 2 and "holds no proof" in one_line(err) and "0/0" not in out


def test_sweep_dry_run_checks_every_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = tmp_path / "s.json"
    sweep.write_text(json.dumps({"command": ["train"], "SUBSWEEP_HEADS": {
        "ok": {"model.n_heads": [8]}, "typo": {"model.n_hedas": [4]}}}))
    code, out, err = run(["sweep", str(sweep), "--dry_run", "true"], capsys)
    line = one_line(err)
    assert code == 2 and "job 2 of 2" in line and "--model.n_hedas; did you mean --model.n_heads?" in line
    assert out == ""
    sweep.write_text(json.dumps({"command": ["train"], "model.n_heads": [8, 7]}))
    code, _, err = run(["sweep", str(sweep), "--dry_run", "true"], capsys)
    assert code == 2 and "job 2 of 2" in one_line(err) and "n_heads 7" in err
    sweep.write_text(json.dumps({"command": ["prove"], "theorem": ["x0 = x0"]}))  # prove has no run folder
    code, out, _ = run(["sweep", str(sweep), "--dry_run", "true"], capsys)
    assert code == 0 and out.splitlines() == ["hyperprover prove --theorem x0 = x0", "1 jobs"]


@pytest.mark.parametrize("path", sorted(Path(__file__).parents[1].glob("sweeps/*.json")), ids=lambda p: p.name)
def test_the_shipped_sweeps_pass_the_dry_run_checks(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", str(path), "--dry_run", "true"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("command", ["eval", "online"])
@pytest.mark.parametrize("option,value,message", [
    ("--ray.address", "127.0.0.1:{port}", "nothing answers there"),
    ("--ray.prover_resources", "{provers: 1}", "expected a JSON object of positive amounts"),
    ("--ray.prover_resources", '{"provers": 0}', "expected a JSON object of positive amounts"),
    ("--ray.prover_resources", '{"GPU": 1}', "CPU and GPU are not custom resources"),
])
def test_ray_options_fail_before_ray_starts(command: str, option: str, value: str, message: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        argv = [command, "--env", "eq", "--expander", "uniform", "--dump_path", str(tmp_path),
                option, value.replace("{port}", str(s.getsockname()[1]))]
        argv += ["--n_provers", "1"] if command == "eval" else ["--no_trainer", "true"]
        code, _, err = run(argv, capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir()), "a run folder was made before the options were checked"
