import json
import sys

import pytest

from hyperprover.config import ConfigError
from hyperprover.sweep import SweepConfig, expand_grid, launch_local, launch_submitit, load_sweep, main


def test_grid_size():
    jobs = expand_grid({"a": [1, 2, 3], "b": ["x", "y"], "c": [True]})
    assert len(jobs) == 6
    assert {(j["a"], j["b"]) for j in jobs} == {(a, b) for a in (1, 2, 3) for b in "xy"}


def test_documented_subsweep_example():
    spec = {"b": [1, 2, 3], "c": [4, 5, 6],
            "SUBSWEEP": {"s1": {"optimizer": ["adam"], "lr": [1, 10, 100]},
                         "s2": {"optimizer": ["madgrad"], "lr": [2, 3, 4]}}}
    jobs = expand_grid(spec)
    assert len(jobs) == 54
    assert {j["optimizer"] for j in jobs if j["lr"] == 10} == {"adam"}


def test_several_subsweeps_multiply():
    spec = {"a": [1, 2], "SUBSWEEP_X": {"p": {"x": [1]}, "q": {"x": [2], "y": [0, 1]}},
            "SUBSWEEP_Y": {"u": {"z": [1, 2, 3]}, "v": {"w": [0]}}}
    assert len(expand_grid(spec)) == 2 * (1 + 2) * (3 + 1)


def test_empty_subsweep_block_is_neutral():
    assert len(expand_grid({"a": [1, 2], "SUBSWEEP_PARTITIONS": {}})) == 2


def test_empty_list_disables_alternative():
    spec = {"a": [1, 2], "SUBSWEEP": {"on": {"x": [1, 2]}, "off": {"x": [3], "drop": []}}}
    jobs = expand_grid(spec)
    assert len(jobs) == 4 and all(j["x"] in (1, 2) for j in jobs)
    assert expand_grid({"a": [1], "b": []}) == []


def test_non_list_value_is_an_error():
    with pytest.raises(ConfigError, match="'a' must be a list"):
        expand_grid({"a": 3})


def write(tmp_path, spec, name="s.json"):
    p = tmp_path / name
    p.write_text(json.dumps(spec))
    return p


def test_command_required(tmp_path):
    with pytest.raises(ConfigError, match='needs "command"'):
        load_sweep(write(tmp_path, {"a": [1]}))
    with pytest.raises(ConfigError, match="unknown command"):
        load_sweep(write(tmp_path, {"command": ["fly"], "a": [1]}))


def test_dry_run_lists_jobs(tmp_path, capsys):
    p = write(tmp_path, {"command": ["train"], "model.enc_n_layers": [1, 2], "debug.debug": [True],
                         "SUBSWEEP_OPT": {"a": {"optimizer": ["adam,lr=0.001"]}, "b": {"optimizer": ["sgd"]}}})
    assert main([str(p), "--dry_run", "1", "--dump_path", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "4 jobs" and len(lines) == 5
    assert all(ln.startswith("hyperprover train --model.enc_n_layers") for ln in lines[:-1])
    assert "--debug.debug true" in lines[0] and "--exp_name s" in lines[0]
    assert len({ln.split("--exp_id ")[1] for ln in lines[:-1]}) == 4  # one folder per job


def test_local_launcher_continues_after_failure(capsys):
    # the first job fails (missing sweep file), the second succeeds: both run, the failure is reported
    code = launch_local([["sweep", "/nonexistent.json"], ["--version"]])
    out = capsys.readouterr().out
    assert code == 1
    assert "[1/2] FAILED" in out and "[2/2] ok" in out and "1/2 jobs succeeded; failed: 1" in out


def test_local_launcher_runs_jobs_side_by_side(monkeypatch, capsys):
    """--parallel 2 runs two jobs at once (an online run and its control): each job waits at a barrier that
    only opens when the other has started too, so one after another would fail here."""
    import threading

    import hyperprover.sweep as sweep

    barrier = threading.Barrier(2, timeout=20)

    def job(argv):
        barrier.wait()  # raises BrokenBarrierError if the other job is not running
        return 0 if argv == ["a"] else 3

    monkeypatch.setattr(sweep, "run_job", job)
    assert launch_local([["a"], ["b"]], parallel=2) == 1
    assert "1/2 jobs succeeded; failed: 2" in capsys.readouterr().out


@pytest.mark.skipif(sys.platform != "linux", reason="submitit's local executor needs Linux")
def test_submitit_local_executor(tmp_path, capsys):
    pytest.importorskip("submitit")
    cfg = SweepConfig(launcher="submitit_local", dump_path=str(tmp_path))
    code = launch_submitit([["--version"], ["sweep", "/nonexistent.json"]], cfg, tmp_path / "sub", wait=True)
    out = capsys.readouterr().out
    assert code == 1 and "1/2 jobs succeeded; failed: 2" in out
    assert list((tmp_path / "sub").glob("*_log.out"))  # submitit kept each job's log


def test_jobs_picks_from_the_listing(tmp_path, capsys):
    p = write(tmp_path, {"command": ["train"], "model.enc_n_layers": [1, 2, 3]})
    assert main([str(p), "--dry_run", "1", "--dump_path", str(tmp_path)]) == 0
    listed = capsys.readouterr().out.strip().splitlines()[:-1]
    assert main([str(p), "--dry_run", "1", "--dump_path", str(tmp_path), "--jobs", "3,1"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == [listed[2], listed[0], "2 jobs"]
    with pytest.raises(ConfigError, match="between 1 and 3"):
        main([str(p), "--dry_run", "1", "--dump_path", str(tmp_path), "--jobs", "4"])


def test_set_gives_an_option_one_value_in_every_job(tmp_path, capsys):
    p = write(tmp_path, {"command": ["train"], "exp_id": ["fixed"], "max_time_min": [120],
                         "SUBSWEEP": {"a": {"model.enc_n_layers": [1]}, "b": {"model.enc_n_layers": [2]}}})
    assert main([str(p), "--dry_run", "1", "--dump_path", str(tmp_path),
                 "--set", '{"max_time_min": 40, "debug.debug": true}']) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "2 jobs"
    for line in lines[:-1]:
        assert "--max_time_min 40" in line and "--max_time_min 120" not in line and "--debug.debug true" in line
        assert "--exp_id fixed" in line  # the recipe's folder, so that its readers find the shorter run
    assert {ln.split("--model.enc_n_layers ")[1].split()[0] for ln in lines[:-1]} == {"1", "2"}


@pytest.mark.parametrize("text, message", [("max_time_min=40", "not valid JSON"), ("[40]", "JSON object"),
                                           ('{"command": "eval"}', "JSON object"),
                                           ('{"max_time_mn": 40}', "max_time_mn")])
def test_a_bad_set_is_refused_before_any_job_runs(tmp_path, text, message):
    p = write(tmp_path, {"command": ["train"], "max_time_min": [120]})
    with pytest.raises(ConfigError, match=message):
        main([str(p), "--dry_run", "1", "--dump_path", str(tmp_path), "--set", text])
