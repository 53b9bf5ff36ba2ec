import json

from hyperprover.analysis.plot import find_runs, group_of, main
from hyperprover.config import load_config
from hyperprover.experiment import RunConfig, setup_experiment


def make_run(tmp_path, exp_id, ppl0):
    exp = setup_experiment(load_config(RunConfig, ["--dump_path", str(tmp_path), "--exp_id", exp_id]), "train")
    for epoch in range(4):
        exp.metrics.log({"epoch": epoch, "valid-eq_bwd_rwalk_seq2seq-tok-ppl": ppl0 / (epoch + 1),
                         "valid-eq_bwd_rwalk_seq2seq-tok-acc": 50.0 + 10 * epoch}, step=epoch)
    exp.close()
    return exp.path


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


def test_groups():
    assert group_of("valid-latex_mass-tok-ppl") == "Pretraining (MASS)"
    assert group_of("valid-eq-greedy-proved") == "Proving during training"
    assert group_of("launcher_stats/solved_labels_acc_identities") == "Proving during training"
    assert group_of("mcts_stats/n_nodes") == "Online HTPS"


def test_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([str(tmp_path)]) == 2
