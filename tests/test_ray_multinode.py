"""A two-node Ray cluster on this machine, loopback only: `ray start --head`, then a second node with its
own CPUs and a custom resource `provers`, so that `--ray.prover_resources '{"provers": 1}'` puts every
prover there. Mid-run the second node's raylet is killed by PID; its theorems go back to the queue, the
driver names the lost node, the node is started again and the run finishes with every attempt recorded
exactly once. Every Ray process the test started is stopped by PID (never `ray stop`: it would stop
other people's Ray too).

Ray replaces 127.0.0.1 by the machine's outward address; any other 127.x.y.z is kept, and on Linux the
loopback interface answers for all of 127.0.0.0/8. `ray start` turns token authentication on by default,
so every process (head, node, driver, actors) gets the same RAY_AUTH_MODE=token and RAY_AUTH_TOKEN.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="127.0.0.2 is a loopback address only on Linux")

HOST = "127.0.0.2"
RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parents() -> dict[int, int]:
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                out[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return out


class LoopbackCluster:
    """A head node and one prover node, each a `ray start` on HOST; processes found by PID."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.address = f"{HOST}:{self.port}"
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                    "RAY_USAGE_STATS_ENABLED": "0"}
        self.env.pop("RAY_ADDRESS", None)

    def _ray_start(self, *args: str) -> None:
        subprocess.run([RAY, "start", "--node-ip-address", HOST, "--disable-usage-stats", *args], env=self.env,
                       check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_head(self) -> None:
        self._ray_start("--head", "--port", str(self.port), "--num-cpus", "1", "--include-dashboard", "false",
                        "--ray-client-server-port", str(_free_port()), "--temp-dir", str(self.root))

    def add_prover_node(self) -> None:
        self._ray_start("--address", self.address, "--num-cpus", "2", "--resources", '{"provers": 2}')

    def pids(self) -> set[int]:
        """Every process of this cluster: those naming its folder or address, and their descendants."""
        parents = _parents()
        mine = {pid for pid in parents if str(self.root) in _cmdline(pid) or self.address in _cmdline(pid)}
        mine.discard(os.getpid())
        grew = True
        while grew:
            children = {pid for pid, parent in parents.items() if parent in mine} - mine
            grew = bool(children)
            mine |= children
        return mine

    def prover_raylet(self) -> int:
        found = [p for p in self.pids() if "raylet" in _cmdline(p) and "static_resource_list=provers" in _cmdline(p)]
        assert len(found) == 1, f"expected one prover raylet, found {found}"
        return found[0]

    def kill_prover_node(self) -> None:
        os.kill(self.prover_raylet(), signal.SIGKILL)

    def stop(self) -> None:
        for _ in range(3):  # a dying raylet may still fork a worker
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        assert not self.pids(), "Ray processes of the test survived"


@pytest.fixture
def cluster() -> Iterator[LoopbackCluster]:
    # a short folder: Ray's unix sockets live under it and their paths must stay below 108 bytes
    root = Path(tempfile.mkdtemp(prefix="hpray", dir="/tmp"))
    c = LoopbackCluster(root)
    try:
        c.start_head()
        c.add_prover_node()
        yield c
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wait(what: str, check: Callable[[], bool], proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while not check():
        assert proc.poll() is None, f"the run ended (rc {proc.returncode}) before {what}"
        assert time.time() < deadline, f"no {what} within {timeout:.0f}s"
        time.sleep(0.5)


def _run_through_a_lost_node(cluster: LoopbackCluster, argv: list[str], results: Path, log: Path) -> int:
    """Run the command; after a few attempts kill the prover node, wait until the driver names it lost,
    start it again; the command must then finish. Returns the attempts recorded when the node died."""
    proc = subprocess.Popen([sys.executable, "-m", "hyperprover.cli", *argv], env=cluster.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait("8 recorded attempts", lambda: len(_lines(results)) >= 8, proc, 180)
        cluster.kill_prover_node()
        before = len(_lines(results))
        _wait("lost node in the log", lambda: "Ray lost node" in log.read_text(), proc, 90)
        cluster.add_prover_node()
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    return before


PROVERS_ON_NODE_2 = ["--n_provers", "2", "--ray.prover_resources", '{"provers": 1}', "--env", "eq",
                     "--expander", "uniform", "--prover", "bfs", "--n_simultaneous_proofs", "4",
                     "--search.n_expansions", "100000", "--search.timeout_s", "1.5"]


def test_eval_survives_a_lost_node(cluster: LoopbackCluster, tmp_path: Path) -> None:
    run = tmp_path / "eval" / "nodeloss"
    argv = ["eval", *PROVERS_ON_NODE_2, "--ray.address", cluster.address, "--split", "identities",
            "--n_theorems", "64", "--dump_path", str(tmp_path), "--exp_id", "nodeloss"]
    before = _run_through_a_lost_node(cluster, argv, run / "eval_results.jsonl", run / "eval.log")
    labels = Counter(r["label"] for r in _lines(run / "eval_results.jsonl"))
    assert before < 64 and len(labels) == 64 and set(labels.values()) == {1}, (before, labels.most_common(3))
    log = (run / "eval.log").read_text()
    assert "is unavailable" in log and "is back after" in log


def test_online_survives_a_lost_node(cluster: LoopbackCluster, tmp_path: Path) -> None:
    run = tmp_path / "online" / "nodeloss"
    argv = ["online", *PROVERS_ON_NODE_2, "--ray.address", cluster.address, "--no_trainer", "true",
            "--max_proofs", "60", "--max_time", "400", "--stats_freq", "2", "--dump_path", str(tmp_path),
            "--exp_id", "nodeloss"]
    before = _run_through_a_lost_node(cluster, argv, run / "mcts_results.jsonl", run / "controller.log")
    lines = _lines(run / "mcts_results.jsonl")
    job_ids = Counter(r["job_id"] for r in lines)
    assert before < 60 and len(lines) == 60 and set(job_ids.values()) == {1}, (before, job_ids.most_common(3))
    log = (run / "controller.log").read_text()
    assert "--max_proofs 60" in log and "is back after" in log
    stats = [json.loads(line.split("__log__:", 1)[1]) for line in log.splitlines() if "__log__:" in line]
    assert max(s.get("launcher_stats/n_nodes_lost", 0) for s in stats) == 1
