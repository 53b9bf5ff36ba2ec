"""Resuming into an existing folder or file keeps what is there intact: runs with other settings or of another
command are refused, torn last lines are repaired before appending, the eval's wall time adds up over resumes,
and run names cannot leave --dump_path."""

from __future__ import annotations

import itertools
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from hyperprover.cli import main
from hyperprover.config import ConfigError, load_config, to_dict
from hyperprover.experiment import RunConfig, dump_dir, setup_experiment
from hyperprover.jsonl import repair_torn_line
from hyperprover.results import ResultsFile, part_times
from hyperprover.train.config import TrainConfig
from hyperprover.train.tasks import Record, Seq2SeqRecord, Task, known_tasks, register_task
from hyperprover.train.trainer import Trainer

GOALS = "x0 + 0 == x0\nx1 * 1 == x1\nx1 + x0 == x0 + x1\nexp(x0 - x0) == exp(0)\n"
# the model-free floor: no checkpoint to load, a few expansions per goal
EVAL = ["--env", "eq", "--expander", "uniform", "--device", "cpu", "--search.n_expansions", "4",
        "--search.early_stop", "true", "--decoding.n_samples", "4"]


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err, err
    return err


def eval_run(tmp: Path, exp_id: str, *extra: str) -> int:
    goals = tmp / "goals.txt"
    goals.write_text(GOALS)
    return main(["eval", *EVAL, "--theorems_file", str(goals), "--dump_path", str(tmp), "--exp_id", exp_id,
                 *extra])


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "eval_results.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------- eval: same settings or another folder


def test_eval_resume_with_other_settings_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert eval_run(tmp_path, "x", "--n_theorems", "2") == 0
    folder = tmp_path / "eval" / "x"
    results, params = (folder / "eval_results.jsonl").read_text(), (folder / "params.json").read_text()
    capsys.readouterr()
    assert eval_run(tmp_path, "x", "--n_theorems", "2", "--prover", "bfs", "--search.n_expansions", "8") == 2
    err = one_line_error(capsys)
    assert f"{folder} was run with --prover htps, --search.n_expansions 4; this run has --prover bfs, " \
           "--search.n_expansions 8: use another --exp_id" in err
    # nothing of the folder changed: no attempt added, no params.json rewritten
    assert (folder / "eval_results.jsonl").read_text() == results and (folder / "params.json").read_text() == params
    assert json.loads(params)["command"] == "eval"


def test_an_eval_resumed_with_other_env_options_is_refused(tmp_path: Path) -> None:
    """The env's options define a prover too (Coq's tactic time limits): another limit into the same folder would
    mix two provers in one results file. Where coqtop's data lives, or when a hung one is given up, does not."""
    from hyperprover.evaluation.main import EVAL_IGNORED, EvalConfig, eval_defining
    from hyperprover.experiment import check_same_run

    def cfg(*extra: str) -> EvalConfig:
        return load_config(EvalConfig, ["--env", "coq", "--coq.automation", "true", *extra])

    (tmp_path / "params.json").write_text(json.dumps({"command": "eval", **to_dict(cfg())}))
    for same in (cfg(), cfg("--coq.data_dir", "/elsewhere", "--coq.answer_timeout_s", "90")):
        check_same_run(tmp_path, same, "eval", eval_defining(same), EVAL_IGNORED)
    other = cfg("--coq.automation_timeout_s", "2")
    differ = r"--coq.automation_timeout_s 10.0; this run has --coq.automation_timeout_s 2"
    with pytest.raises(ConfigError, match=differ):
        check_same_run(tmp_path, other, "eval", eval_defining(other), EVAL_IGNORED)


def test_eval_resume_extends_to_more_theorems_elsewhere(tmp_path: Path) -> None:
    """What does not define the results may change: more theorems, another device or parallelism."""
    assert eval_run(tmp_path, "x", "--n_theorems", "2") == 0
    assert eval_run(tmp_path, "x", "--n_theorems", "3", "--n_simultaneous_proofs", "3",
                    "--decoding.tokens_per_batch", "2000") == 0
    folder = tmp_path / "eval" / "x"
    assert [r["label"] for r in records(folder)][2:] == ["goals:3"]  # only the new theorem was attempted
    assert json.loads((folder / "summary.json").read_text())["n_theorems"] == 3


def test_eval_refuses_a_training_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = load_config(TrainConfig, ["--dump_path", str(tmp_path), "--exp_name", "t", "--exp_id", "r",
                                    "--tasks", "toy_copy_seq2seq"])
    exp = setup_experiment(cfg, "train")
    exp.close()
    folder = exp.path
    params = (folder / "params.json").read_text()
    capsys.readouterr()
    assert eval_run(tmp_path, "r", "--exp_name", "t") == 2
    assert f"{folder} was written by hyperprover train, not hyperprover eval" in one_line_error(capsys)
    assert (folder / "params.json").read_text() == params
    # a params.json from before the command was recorded: train's options give it away
    legacy = json.loads(params)
    del legacy["command"]
    (folder / "params.json").write_text(json.dumps(legacy))
    assert eval_run(tmp_path, "r", "--exp_name", "t") == 2
    assert "was written by another command, not hyperprover eval" in one_line_error(capsys)
    assert not (folder / "eval_results.jsonl").exists()


# ---------------------------------------------------------------- train: same model or another folder

WORDS = [str(i) for i in range(10)]


def _copy_task(name: str, cfg: object) -> Task:
    def train(seed: int) -> Iterator[Record]:
        rng = random.Random(seed)
        while True:
            x = tuple(rng.choice(WORDS) for _ in range(rng.randint(2, 5)))
            yield Seq2SeqRecord(x, x)

    def split(split: str, n: int) -> list[Record]:
        return list(itertools.islice(train(len(split)), n))

    return Task(name, "seq2seq", train, split, vocabulary=lambda: WORDS)


if "toy_copy_seq2seq" not in known_tasks():
    register_task(r"toy_copy_seq2seq", _copy_task, "toy_copy_seq2seq")

TRAIN = ["train", "--exp_name", "t", "--exp_id", "r", "--tasks", "toy_copy_seq2seq", "--model.emb_dim", "16",
         "--model.n_layers", "1", "--model.n_heads", "2", "--num_workers", "0", "--epoch_size", "32",
         "--eval_size", "16", "--eval_splits", "valid", "--cpu_threads", "1", "--vocab_samples", "50"]


def test_train_resume_with_another_model_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*TRAIN, "--dump_path", str(tmp_path)]
    assert main([*argv, "--max_epoch", "1"]) == 0
    folder = tmp_path / "t" / "r"
    params = (folder / "params.json").read_text()
    capsys.readouterr()
    assert main([*argv, "--max_epoch", "2", "--model.emb_dim", "32", "--model.n_heads", "4"]) == 2
    assert f"{folder} was run with --model.emb_dim 16, --model.n_heads 2; this run has --model.emb_dim 32, " \
           "--model.n_heads 4: use another --exp_id" in one_line_error(capsys)
    assert (folder / "params.json").read_text() == params
    # when to stop is not part of the run: extending it resumes as before
    assert main([*argv, "--max_epoch", "2", "--max_time_min", "5", "--num_workers", "1"]) == 0
    assert torch.load(folder / "checkpoint.pth", weights_only=True)["counters"]["epoch"] == 2
    assert json.loads((folder / "params.json").read_text())["max_epoch"] == 2


def test_trainer_refuses_to_resume_a_checkpoint_of_another_shape(tmp_path: Path) -> None:
    """The Trainer itself (online training builds one without the CLI) does not train the old shape under
    new --model flags."""
    assert main([*TRAIN, "--dump_path", str(tmp_path), "--max_epoch", "1"]) == 0
    cfg = load_config(TrainConfig, [*TRAIN[1:], "--dump_path", str(tmp_path), "--model.n_layers", "2"])
    exp = setup_experiment(cfg, "train")
    assert exp.resumed
    with pytest.raises(ConfigError, match="--model.n_layers 1; this run has --model.n_layers 2"):
        Trainer(cfg, exp, {"toy_copy_seq2seq": _copy_task("toy_copy_seq2seq", cfg)}, torch.device("cpu"))
    exp.close()


# ---------------------------------------------------------------- names that leave --dump_path


@pytest.mark.parametrize("option,value", [("exp_id", "../../x"), ("exp_id", "a/b"), ("exp_id", "ABS"),
                                          ("exp_id", ".."), ("exp_name", ""), ("exp_name", ".."),
                                          ("exp_name", "ABS")])
def test_run_names_stay_under_dump_path(tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str,
                                        value: str) -> None:
    root = tmp_path / "d" / "e"
    root.mkdir(parents=True)
    value = str(tmp_path / "abs") if value == "ABS" else value  # absolute, yet where a failure can write
    before = sorted(tmp_path.rglob("*"))
    for argv in (["eval", *EVAL, "--theorems_file", "none.txt"], [*TRAIN]):
        argv = [a for a in argv if a not in ("--exp_id", "r", "--exp_name", "t")]
        assert main([*argv, "--dump_path", str(root), f"--{option}", value]) == 2
        err = one_line_error(capsys)
        assert f"--{option} {value!r} is not a plain folder name" in err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere


def test_dump_dir_refuses_escaping_names(tmp_path: Path) -> None:
    cfg = load_config(RunConfig, ["--dump_path", str(tmp_path), "--exp_id", "../x"])
    with pytest.raises(ConfigError, match="--exp_id '../x' is not a plain folder name"):
        dump_dir(cfg)


# ---------------------------------------------------------------- torn last lines


def test_data_resume_after_a_torn_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eq.jsonl"
    assert main(["data", "--env", "eq", "--n", "4", "--seed", "0", "--out", str(out)]) == 0
    whole = out.read_text()
    out.write_text(whole + whole.splitlines()[0][:30])  # killed while writing the 5th theorem
    capsys.readouterr()
    assert main(["data", "--env", "eq", "--n", "8", "--seed", "0", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert main(["check", "--env", "eq", str(out)]) == 0
    assert "8/8 proofs check" in capsys.readouterr().out
    assert len(out.read_text().splitlines()) == 8
    assert "hyperprover data: warning:" in err and "dropped its torn last line" in err


def test_sr_and_mm_data_repair_the_torn_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sr.jsonl"
    out.write_text('{"label": "sr_da')
    assert main(["data", "--env", "sr", "--n", "2", "--seed", "1", "--out", str(out)]) == 0
    assert [json.loads(line)["label"] for line in out.read_text().splitlines()] == ["sr_data:1:0", "sr_data:1:1"]
    assert "dropped its torn last line" in capsys.readouterr().err
    out = tmp_path / "mm.jsonl"
    out.write_text('{"theorem": "mm:x", "goal": "|- ph", "tactic": "ax-1"}\n{"theorem": "m')
    good = os.path.join(os.path.dirname(__file__), "data", "mm", "good.mm")
    assert main(["data", "--env", "mm", "--database", good, "--split", "train", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) > 1 and all(json.loads(line) for line in lines)
    assert "dropped its torn last line" in capsys.readouterr().err


def test_repair_keeps_a_whole_last_line_without_newline(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    assert repair_torn_line(f) is None  # no file: nothing to do
    f.write_text('{"a": 1}\n{"b": 2}')
    assert "ended it with one" in (repair_torn_line(f) or "")
    assert f.read_text() == '{"a": 1}\n{"b": 2}\n'
    assert repair_torn_line(f) is None
    f.write_text("x" * 200_000)  # one long torn line, longer than a read block
    assert "200000 bytes" in (repair_torn_line(f) or "") and f.read_text() == ""


def test_eval_cuts_a_torn_results_line_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert eval_run(tmp_path, "x", "--n_theorems", "2") == 0
    folder = tmp_path / "eval" / "x"
    with open(folder / "eval_results.jsonl", "a") as f:
        f.write('{"label": "goals:3", "atte')  # killed mid-write
    capsys.readouterr()
    assert eval_run(tmp_path, "x", "--n_theorems", "3") == 0
    assert "dropped its torn last line" in capsys.readouterr().err
    assert "dropped its torn last line" in (folder / "eval.log").read_text()
    assert [r["label"] for r in records(folder)] == ["goals:1", "goals:2", "goals:3"]  # every line whole


# ---------------------------------------------------------------- wall time over resumes


def test_eval_wall_time_adds_up_over_resumes(tmp_path: Path) -> None:
    assert eval_run(tmp_path, "x", "--n_theorems", "2") == 0
    folder = tmp_path / "eval" / "x"
    # make the first part look long: as if its searches had taken 100 s
    done = records(folder)
    assert {r["part"] for r in done} == {1}
    (folder / "eval_results.jsonl").write_text("".join(json.dumps({**r, "part_wall_s": 100.0}) + "\n" for r in done))
    assert eval_run(tmp_path, "x", "--n_theorems", "3") == 0
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["wall_time_parts_s"][0] == 100.0 and len(summary["wall_time_parts_s"]) == 2
    assert 100.0 < summary["wall_time_s"] == pytest.approx(sum(summary["wall_time_parts_s"]), abs=0.01)
    assert [r["part"] for r in records(folder)] == [1, 1, 2]


def test_results_parts_are_numbered_per_run(tmp_path: Path) -> None:
    from hyperprover.results import AttemptRecord

    f = ResultsFile(tmp_path / "r.jsonl")
    f.append(AttemptRecord("a", 1, False))  # no part begun: recorded as unknown
    assert f.begin_part() == 1
    f.append(AttemptRecord("b", 1, False))
    g = ResultsFile(tmp_path / "r.jsonl")
    assert g.begin_part() == 2
    g.append(AttemptRecord("c", 1, True))
    got = f.read()
    assert [r.part for r in got] == [0, 1, 2] and set(part_times(got)) == {1, 2}


def test_online_controller_repairs_a_torn_results_line(tmp_path: Path) -> None:
    """A killed online run's last mcts_results.jsonl line must not swallow the first record of the resume."""
    from hyperprover.jsonl import read_jsonl, repair_torn_line

    path = tmp_path / "mcts_results.jsonl"
    path.write_text('{"job_id": 1, "label": "a", "split": "s", "proved": true}\n{"job_id": 2, "lab')
    assert "dropped its torn last line" in (repair_torn_line(path) or "")
    with open(path, "a") as f:
        f.write('{"job_id": 3, "label": "c", "split": "s", "proved": false}\n')
    assert [r["job_id"] for r in read_jsonl(path)] == [1, 3]


def test_a_checkpoint_path_matches_written_relative_or_absolute(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray runs give their actors absolute paths: a folder recorded with the relative path is the same run."""
    from hyperprover.evaluation.main import EvalConfig
    from hyperprover.experiment import absolute_paths, check_same_run

    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    rel = EvalConfig(reload_model="models/m.pth", dump_path="dumped")
    (tmp_path / "run" / "params.json").write_text(json.dumps({**json.loads(json.dumps(to_dict(rel))),
                                                              "command": "eval"}))
    absolute_paths(rel)
    assert rel.reload_model == str(tmp_path / "models" / "m.pth") and rel.dump_path == str(tmp_path / "dumped")
    check_same_run(tmp_path / "run", rel, "eval", defining=("reload_model",))
    other = EvalConfig(reload_model="models/other.pth")
    with pytest.raises(ConfigError, match="reload_model"):
        check_same_run(tmp_path / "run", other, "eval", defining=("reload_model",))
