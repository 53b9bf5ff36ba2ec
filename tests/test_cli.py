import subprocess
import sys

from hyperprover.cli import COMMANDS, main


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("train", "online", "eval", "prove", "sweep", "plot", "data", "check"):
        assert name in COMMANDS and f"  {name}" in out


def test_unknown_command_suggests(capsys):
    assert main(["trian"]) == 2
    assert "did you mean 'train'" in capsys.readouterr().err


def test_config_error_is_one_line(capsys, tmp_path):
    assert main(["sweep", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err


def test_command_help_lists_options(capsys):
    assert main(["sweep", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--launcher str (default: 'local')" in out and "--slurm.partition" in out


def test_console_script_runs():
    # the installed entry point, as a user runs it
    out = subprocess.run([sys.executable, "-m", "hyperprover.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("hyperprover ")
