"""One `coqtop -emacs` process, driven one sentence at a time.

In `-emacs` mode coqtop ends every answer with a prompt `<prompt>NAME < STATE |...| N < </prompt>`: the
text before it is the answer, STATE is the number `BackTo STATE.` returns to. Sentences go in one per
call; an answer that does not come within the time limit kills the process (its whole process group),
which the next call restarts. The process is also killed when the object is closed or collected and when
Python exits (weakref.finalize runs at exit), so no coqtop outlives its env; and, where util-linux's `setpriv`
is installed, when the thread that started it dies without running any of that (a prover killed by Ray), with
what it forked.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import time
import weakref
from dataclasses import dataclass

PROMPT = re.compile(r"<prompt>(?P<name>\S+) < (?P<state>\d+) \|(?P<stack>[^|]*)\| (?P<depth>\d+) < </prompt>")
ERROR = re.compile(r"(?:^|\n)(?:Toplevel input[^\n]*\n(?:>[^\n]*\n)*)?Error:(?P<message>.*)", re.S)


class CoqError(RuntimeError):
    """coqtop is missing, died, or did not answer in time."""


class CoqTimeout(CoqError):
    pass


@dataclass(frozen=True)
class Answer:
    text: str  # what coqtop printed before the prompt (info messages stripped of their tags)
    state: int  # the state after the sentence (unchanged when it failed)
    proof: str  # the name of the open proof, or "Coq" outside proofs
    error: str | None  # Coq's error message, on one line


def find_coqtop() -> str:
    path = shutil.which("coqtop")
    if path is None:
        raise CoqError("coqtop not found: install Coq (as root: apt-get install coq libcoq-stdlib; `make setup` "
                       "does it)")
    return path


# Debian's CoqHammer runs cvc4 through its `htimeout` helper by bare name, but installs the helper outside PATH:
# every cvc4 run then fails ("sh: 1: htimeout: not found"), and hammer is left with E alone
HAMMER_HELPERS = "/usr/libexec/coq-hammer"


def coqtop_environment() -> dict[str, str]:
    """The environment coqtop runs in: ours, with CoqHammer's helpers on PATH where they are installed."""
    env = dict(os.environ)
    if os.path.isdir(HAMMER_HELPERS) and HAMMER_HELPERS not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = os.pathsep.join(x for x in (env.get("PATH", ""), HAMMER_HELPERS) if x)
    return env


# A shell between setpriv and coqtop: the kernel sends it SIGTERM when its parent thread is gone, and it kills its
# whole process group, coqtop and what coqtop forked (CoqHammer runs premise selection and reconstruction in forks
# of coqtop, which would otherwise run on for minutes). The parent's pipes close before the signal comes, so
# coqtop may end first (end of input): then the shell ends the rest of the group itself. coqtop reads the shell's
# stdin through fd 3 (a background job's stdin is /dev/null unless redirected).
GROUP_KEEPER = ('exec 3<&0; trap "kill -KILL 0" TERM; "$@" <&3 3<&- & wait $!; s=$?; '
                'trap "" TERM; kill -TERM 0; exit $s')


def orphan_guard() -> tuple[str, ...]:
    """A command prefix that has the kernel kill coqtop and its forks when the thread that started it is gone (a
    Ray actor is ended with SIGKILL: no finalizer runs, and coqtop, busy with a long hammer call, would run on for
    minutes before it read the end of its input). Empty where setpriv is missing. A thread that ends before its
    env only costs the next call a restart."""
    setpriv = shutil.which("setpriv")
    return (setpriv, "--pdeathsig", "TERM", "--", "/bin/sh", "-c", GROUP_KEEPER, "coqtop-group") if setpriv else ()


def _clean(text: str) -> str:
    return re.sub(r"</?(?:infomsg|warning)>", "", text)


class CoqTop:
    def __init__(self, args: tuple[str, ...] = (), answer_timeout_s: float = 60.0) -> None:
        self.args = args
        self.answer_timeout_s = answer_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.buffer = b""
        self.state = 0
        self.n_starts = 0
        self.n_syncs = 0
        self.last_text = ""
        self._finalizer: weakref.finalize | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Answer:
        self.close()
        command = [*orphan_guard(), find_coqtop(), "-emacs", "-quiet", "-q", *self.args]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                     env=coqtop_environment())
        self._finalizer = weakref.finalize(self, _kill, self.proc)
        self.buffer = b""
        self.state = 0
        self.n_starts += 1
        return self._read(self.answer_timeout_s)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self.proc = None

    def __enter__(self) -> CoqTop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ talking
    def send(self, sentence: str, timeout_s: float | None = None) -> Answer:
        """Run one sentence (it must end with a period); restarts nothing: call start() after a CoqError."""
        if not self.alive:
            raise CoqError("coqtop is not running")
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(sentence.encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as e:
            self.close()
            raise CoqError(f"coqtop died ({e})") from None
        return self._read(timeout_s or self.answer_timeout_s)

    def sync(self) -> int:
        """Answers left unread (coqtop ran what we sent as several sentences), read and dropped: 0 when in
        step. A failing query that names a fresh marker ends the answers to skip."""
        self.n_syncs += 1
        marker = f"hp_sync_{self.n_syncs}"
        self.send(f"Fail Check {marker}.")
        extra = 0
        while marker not in self.last_text:
            extra += 1
            self._read(self.answer_timeout_s)
        return extra

    def _read(self, timeout_s: float) -> Answer:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while True:
            m = PROMPT.search(self.buffer.decode(errors="replace"))
            if m is not None:
                text = self.buffer.decode(errors="replace")
                self.buffer = text[m.end():].encode()
                body = _clean(text[: m.start()]).strip("\n")
                before, self.state = self.state, int(m["state"])
                self.last_text = body
                # a sentence that ran moves coqtop to a new state; "Error:" in the answer of one that did is
                # a message it printed (hammer reports each ATP that failed to start), not its failure
                err = ERROR.search(body) if self.state <= before else None
                message = " ".join(err["message"].split()) if err else None
                return Answer(body, self.state, m["name"], message)
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise CoqTimeout(f"coqtop gave no answer within {timeout_s:g}s (killed; the next call restarts it)")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    code = self.proc.wait()
                    self.close()
                    raise CoqError(f"coqtop exited with status {code}: {self.buffer.decode(errors='replace')[-300:]}")
                self.buffer += chunk


def _kill(proc: subprocess.Popen[bytes]) -> None:
    # the group even when coqtop itself has exited: forks of it may still run
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    for f in (proc.stdin, proc.stdout):
        if f is not None:
            f.close()


__all__ = ["Answer", "CoqError", "CoqTimeout", "CoqTop", "find_coqtop"]
