import json
import re
from pathlib import Path

import pytest

from hyperprover.analysis.plot import find_runs, group_of, main
from hyperprover.config import load_config
from hyperprover.experiment import RunConfig, setup_experiment

SPLIT = "identities%4!=3"  # split names as the online runs log them
EVAL_SPLIT = "identities%4=3"


def make_run(tmp_path, exp_id, ppl0):
    exp = setup_experiment(load_config(RunConfig, ["--dump_path", str(tmp_path), "--exp_id", exp_id]), "train")
    for epoch in range(4):
        exp.metrics.log({"epoch": epoch, "valid-eq_bwd_rwalk_seq2seq-tok-ppl": ppl0 / (epoch + 1),
                         "valid-eq_bwd_rwalk_seq2seq-tok-acc": 50.0 + 10 * epoch}, step=epoch)
    exp.close()
    return exp.path


def log_line(elapsed_s, entry):
    """A line as the logger writes it (experiment.LogFormatter), with its elapsed time."""
    h, m, s = elapsed_s // 3600, elapsed_s % 3600 // 60, elapsed_s % 60
    return f"INFO - 11/29/26 02:19:06 - {h}:{m:02d}:{s:02d} - __log__:" + json.dumps(entry, sort_keys=True)


def make_online_run(root, exp_id, solved, with_eval=True):
    """An online run folder as `hyperprover online` leaves it: controller.log (statistics every minute, async
    evaluations as they finish) and mcts_results.jsonl. The controller's clock runs 5 s behind the logger's."""
    path = root / exp_id
    path.mkdir(parents=True)
    lines = ["INFO - 11/29/26 02:18:01 - 0:00:00 - hyperprover online in " + str(path)]
    for i, share in enumerate(solved):
        t = 60 * (i + 1)
        lines.append(log_line(t + 5, {
            "time_s": t, f"launcher_stats/solved_labels_acc_{SPLIT}": share,
            f"launcher_stats/proved_rate_{SPLIT}": share / 2 + 0.01 * (i % 2),
            f"launcher_stats/proved_rate_{EVAL_SPLIT}": 0.1 * (i % 3),
            "launcher_stats/n_provers_alive": 1, "launcher_stats/n_prover_deaths": 0,
            "mcts_stats/n_nodes": 50.0 + i, "trainer/running": True}))
        if with_eval and i in (1, 3):
            lines.append(log_line(t + 5 + 30, {f"async_eval/{EVAL_SPLIT}/proved_rate": 0.1 * i, "epoch": 5 * i}))
    (path / "controller.log").write_text("\n".join(lines) + "\n")
    (path / "mcts_results.jsonl").write_text(json.dumps({"label": "identities:1", "split": SPLIT, "proved": True})
                                             + "\n")
    return path


@pytest.fixture
def figures(monkeypatch):
    """What each saved figure shows: file name -> title, axis labels, legend, lines' x values, bars."""
    from matplotlib.figure import Figure

    seen = {}
    save = Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        ax = self.axes[0]
        legend = ax.get_legend()
        seen[Path(fname).name] = {
            "title": ax.get_title(), "xlabel": ax.get_xlabel(),
            "legend": [t.get_text() for t in legend.get_texts()] if legend else [],
            "lines": {line.get_label(): list(line.get_xdata()) for line in ax.get_lines()},
            "bars": [p.get_width() for p in ax.patches], "yticks": [t.get_text() for t in ax.get_yticklabels()]}
        return save(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return seen


def test_plot_overlays_runs(tmp_path, capsys):
    make_run(tmp_path, "a", 8.0)
    make_run(tmp_path, "b", 6.0)
    ev = tmp_path / "default" / "ev"
    ev.mkdir()
    (ev / "summary.json").write_text(json.dumps({"n_theorems": 10, "pass@1": 0.2, "pass@2": 0.3}))
    runs = find_runs([tmp_path])
    assert sorted(len(r.logs) for r in runs) == [0, 4, 4]
    out = tmp_path / "plots"
    assert main([str(tmp_path), "--out", str(out)]) == 0
    assert "3 run(s) plotted" in capsys.readouterr().out
    pngs = {p.name for p in out.glob("*.png")}
    assert {"valid-eq_bwd_rwalk_seq2seq-tok-ppl.png", "valid-eq_bwd_rwalk_seq2seq-tok-acc.png",
            "pass_at_k.png"} <= pngs
    assert all((out / p).stat().st_size > 5000 for p in pngs)  # real images, not empty files
    index = (out / "index.html").read_text()
    assert "Supervised (seq2seq)" in index and "pass_at_k.png" in index


def test_constant_metrics_are_listed_not_drawn(tmp_path, figures):
    """Settings logged with every line (n_theorems, n_expansions) and the repeated lines of an eval.log are no
    curves: their values go to a table of the index."""
    exp = setup_experiment(load_config(RunConfig, ["--dump_path", str(tmp_path), "--exp_id", "t"]), "train")
    for epoch in range(3):
        exp.metrics.log({"epoch": epoch, "train-loss": 3.0 - epoch, "n_theorems": 40, "n_expansions": 64}, epoch)
    exp.close()
    ev = tmp_path / "default" / "ev"
    ev.mkdir()
    summary = {"n_theorems": 160, "proved": 10, "pass@1": 0.0625, "n_expansions": 64, "prover": "htps"}
    (ev / "eval.log").write_text("\n".join(log_line(26 * i, {**summary, "wall_time_s": 26.7 + i}) for i in range(3)))
    (ev / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "plots"
    assert main([str(tmp_path / "default"), "--out", str(out)]) == 0
    pngs = {p.name for p in out.glob("*.png")}
    assert "train-loss.png" in pngs and "pass_at_k.png" in pngs
    assert not {"n_theorems.png", "n_expansions.png", "wall_time_s.png", "proved.png"} & pngs, pngs
    assert set(figures) == pngs
    index = (out / "index.html").read_text()
    table = index[index.index("Values that never change"):]
    assert re.search(r"<td>n_theorems</td>\s*<td>40</td>", table) and "<td>n_expansions</td>" in table
    # the evaluation's settings are in its summary table, next to its pass@k bars
    assert re.search(r"<td>default/ev</td>.*<td>htps</td>.*<td>64</td>.*<td>160</td>", index)
    # training curves come first
    assert index.index("train-loss.png") < index.index("pass_at_k.png") < index.index("Values that never change")


def test_online_runs_overlaid_in_one_figure(tmp_path, figures, capsys):
    """An online run and its no-trainer control, given on the command line: one figure per proved-share metric
    with both runs, named by their folders, against time; the control's flat line is drawn too."""
    root = tmp_path / "dumped" / "online_x"
    a = make_online_run(root, "ID1", [0.02, 0.05, 0.08, 0.1])
    b = make_online_run(root, "ID2", [0.0, 0.0, 0.0, 0.0], with_eval=False)
    (a / "trainer").mkdir()
    (a / "trainer" / "train.log").write_text("\n".join(log_line(10 * e, {"epoch": e, "train-eq_mcts_tactic-loss":
                                                                         2.0 / (e + 1)}) for e in range(1, 5)))
    out = tmp_path / "plots"
    assert main([str(a), str(b), "--out", str(out)]) == 0
    assert "3 run(s) plotted" in capsys.readouterr().out
    solved = [f for f in figures if "solved_labels_acc" in f]
    assert len(solved) == 1  # one figure, the runs overlaid
    fig = figures[solved[0]]
    assert fig["legend"] == ["ID1", "ID2"] and fig["xlabel"] == "time (s)"
    assert fig["lines"]["ID1"] == [60.0, 120.0, 180.0, 240.0]
    assert fig["title"] == f"launcher_stats/solved_labels_acc_{SPLIT}"
    # async evaluations log an epoch, not time_s: placed on the controller's clock by the logger's elapsed time
    (async_fig,) = [v for v in figures.values() if v["title"] == f"async_eval/{EVAL_SPLIT}/proved_rate"]
    assert async_fig["lines"] == {"ID1": [150.0, 270.0]} and async_fig["xlabel"] == "time (s)"
    index = (out / "index.html").read_text()
    share = index.index("share of theorems proved over time")
    assert index.index("train-eq_mcts_tactic-loss") < share < index.index("mcts_stats__n_nodes.png")
    assert index.index(solved[0]) < index.index("async_eval")
    assert "launcher_stats/n_provers_alive" in index and not any("n_provers_alive" in f for f in figures)

    figures.clear()
    assert main([str(a), str(b), "--out", str(out), "--names", "online,no trainer"]) == 0
    (fig,) = [v for k, v in figures.items() if "solved_labels_acc" in k]
    assert fig["legend"] == ["online", "no trainer"]
    assert main([str(a), str(b), "--names", "just_one"]) == 2
    assert "one name per folder" in capsys.readouterr().err


def test_split_names_give_safe_distinct_file_names(tmp_path, figures):
    """`%`, `!`, `=` in split names: file names usable in the index's links, one per metric (the splits
    `identities%4!=3` and `identities%4=3` do not overwrite each other's figure)."""
    a = make_online_run(tmp_path, "ID1", [0.02, 0.05, 0.08, 0.1])
    out = tmp_path / "plots"
    assert main([str(a), "--out", str(out)]) == 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+\.png", p) for p in pngs), pngs
    rates = [f for f in pngs if "proved_rate_identities" in f]
    assert len(rates) == 2 and {figures[f]["title"] for f in rates} == {
        f"launcher_stats/proved_rate_{SPLIT}", f"launcher_stats/proved_rate_{EVAL_SPLIT}"}
    index = (out / "index.html").read_text()
    assert all(f"src='{p}'" in index for p in pngs)


def test_pass_at_k_bars(tmp_path, figures):
    """pass@k: bars, one group per evaluation folder (a bar per k), and a curve over k when several k."""
    for name, rates in (("htps", (0.1, 0.2, 0.25)), ("bfs", (0.05, 0.1, 0.2))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(
            {"n_theorems": 20, "pass@1": rates[0], "pass@4": rates[1], "pass@16": rates[2]}))
    out = tmp_path / "plots"
    assert main([str(tmp_path / "htps"), str(tmp_path / "bfs"), "--out", str(out)]) == 0
    bars = figures["pass_at_k.png"]
    assert sorted(bars["bars"]) == sorted([0.1, 0.2, 0.25, 0.05, 0.1, 0.2])
    assert bars["yticks"] == ["htps", "bfs"] and bars["legend"] == ["pass@1", "pass@4", "pass@16"]
    assert figures["pass_at_k_curve.png"]["lines"] == {"htps": [1, 4, 16], "bfs": [1, 4, 16]}

    figures.clear()
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "summary.json").write_text(json.dumps({"n_theorems": 160, "proved": 10, "pass@1": 0.0625}))
    assert main([str(tmp_path / "one"), "--out", str(tmp_path / "plots1")]) == 0
    assert set(figures) == {"pass_at_k.png"}  # a single k: bars only, no one-point curve
    assert figures["pass_at_k.png"]["bars"] == [0.0625] and figures["pass_at_k.png"]["title"] == "pass@1"


def test_log_stamps_of_the_real_logger(tmp_path):
    from hyperprover.analysis.plot import read_log

    exp = setup_experiment(load_config(RunConfig, ["--dump_path", str(tmp_path), "--exp_id", "o"]), "online",
                           log_name="controller.log")
    exp.metrics.log({"time_s": 1.0, f"launcher_stats/solved_labels_acc_{SPLIT}": 0.5}, 0)
    exp.close()
    entries = read_log(exp.path / "controller.log")
    assert [e for _, e in entries] == [{"time_s": 1.0, f"launcher_stats/solved_labels_acc_{SPLIT}": 0.5}]
    assert entries[0][0] is not None and entries[0][0] < 60


def test_groups():
    assert group_of("valid-latex_mass-tok-ppl") == "Pretraining (MASS)"
    assert group_of("valid-eq-greedy-proved") == "Proving during training"
    assert group_of("launcher_stats/solved_labels_acc_identities") == "Proving during training"
    assert group_of("mcts_stats/n_nodes") == "Online HTPS"


def test_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([str(tmp_path)]) == 2
