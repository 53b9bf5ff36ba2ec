import json
import re

from hyperprover.config import load_config
from hyperprover.experiment import (
    LOG_PREFIX,
    RunConfig,
    create_logger,
    dump_dir,
    parse_log_lines,
    setup_experiment,
)

LINE = re.compile(r"^(INFO|WARNING|ERROR|DEBUG) - \d\d/\d\d/\d\d \d\d:\d\d:\d\d - \d+:\d\d:\d\d - .+$")


def test_dump_folder_layout(tmp_path):
    cfg = load_config(RunConfig, ["--dump_path", str(tmp_path), "--exp_name", "exp", "--exp_id", "r1"])
    assert dump_dir(cfg) == tmp_path / "exp" / "r1"
    cfg = load_config(RunConfig, ["--dump_path", str(tmp_path), "--debug.debug", "1"])
    path = dump_dir(cfg)
    assert path.parent == tmp_path / "debug" and re.fullmatch(r"[a-z0-9]{10}", cfg.exp_id)


def test_logger_format(tmp_path):
    logger = create_logger(tmp_path / "train.log", name="t_format", stderr=False)
    logger.info("hello")
    logger.warning("two\nlines")
    for h in logger.handlers:
        h.flush()
    lines = (tmp_path / "train.log").read_text().splitlines()
    assert LINE.match(lines[0]) and lines[0].endswith(" - hello")
    assert LINE.match(lines[1]) and lines[1].startswith("WARNING - ")
    # continuation lines are indented under the message, not starting a new record
    assert lines[2].strip() == "lines" and lines[2].startswith(" ")


def test_metrics_lines_are_json_and_tensorboard(tmp_path):
    cfg = load_config(RunConfig, ["--dump_path", str(tmp_path), "--exp_id", "m"])
    exp = setup_experiment(cfg, "test")
    exp.metrics.log({"epoch": 0, "valid-x-tok-ppl": 3.5, "valid-x-tok-acc": 71.0, "nan": float("nan")}, step=0)
    exp.metrics.log({"epoch": 1, "valid-x-tok-ppl": 2.5}, step=1)
    exp.close()
    logs = parse_log_lines(exp.path / "train.log")
    assert [entry["epoch"] for entry in logs] == [0, 1]
    assert logs[0]["valid-x-tok-ppl"] == 3.5 and logs[0]["nan"] == "nan"
    raw = [ln for ln in (exp.path / "train.log").read_text().splitlines() if LOG_PREFIX in ln]
    assert all(LINE.match(ln) for ln in raw)
    json.loads(raw[1].split(LOG_PREFIX, 1)[1])
    events = list((exp.path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    params = json.loads((exp.path / "params.json").read_text())
    assert params["exp_id"] == "m" and params["debug"]["debug"] is False


def test_resume_existing_dump_folder(tmp_path):
    argv = ["--dump_path", str(tmp_path), "--exp_name", "e", "--exp_id", "same"]
    first = setup_experiment(load_config(RunConfig, argv), "test")
    assert not first.resumed
    first.logger.info("first run")
    first.checkpoint_path.write_bytes(b"x")
    first.close()
    second = setup_experiment(load_config(RunConfig, argv), "test")
    assert second.resumed and second.path == first.path
    second.logger.info("second run")
    second.close()
    text = (first.path / "train.log").read_text()
    assert "first run" in text and "second run" in text and "resuming" in text
