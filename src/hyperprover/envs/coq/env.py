"""Coq as a backward env: a goal is one Coq goal that stands alone, a tactic is one Coq tactic sentence.

Applying a tactic restates the goal in a coqtop that holds the goal's context (`BackTo` its state, then
`Goal ...` and `intros ...`, see goals.py), runs `Timeout T tactic.`, and reads every resulting goal back.
Nothing of a search lives in Coq between two calls, so goals can be expanded in any order, by any
process, and a crashed or timed-out coqtop is replaced without losing anything but that call.

Refused, each with a typed error: text that is not one tactic sentence (two sentences, a bullet, a
vernacular command), the tactics that close a goal without proving it (`admit`, `give_up`, `*_no_check`),
tactics that leave existential variables (shelved goals or `?x` in a subgoal: a goal must stand alone),
tactics that change nothing, and goals whose printing does not parse back to themselves. And, where a
preload (CoqHammer's import) loads the compiled library a lemma comes from, tactics whose proof uses the lemma
itself or anything its file defines after it (`_ahead_of`).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hyperprover.envs.base import (
    Goal,
    GoalParseError,
    ProofError,
    ProofNode,
    TacticError,
    TacticErrorKind,
    TacticResult,
    Theorem,
    env_config,
)
from hyperprover.envs.coq.config import AUTOMATION_TACTICS, STD_CONTEXT, CoqConfig
from hyperprover.envs.coq.extract import run_prefix
from hyperprover.envs.coq.goals import TOKEN, CoqGoal, GoalDisplayError, Sequent, parse_display, parse_sequent
from hyperprover.envs.coq.sentences import sentences
from hyperprover.envs.coq.tactics import hammer_replacement, tactic_problem
from hyperprover.envs.coq.toplevel import CoqError, CoqTimeout, CoqTop

logger = logging.getLogger(__name__)

# the sentences that define a name a proof could use (their name is what `_ahead_of` forbids)
DEFINES = re.compile(r"^(?:#\[[^\]]*\]\s*)?(?:(?:Local|Global|Polymorphic|Monomorphic|Program|Private)\s+)*"
                     r"(?:Lemma|Theorem|Fact|Remark|Corollary|Proposition|Property|Definition|Fixpoint|CoFixpoint|"
                     r"Example|Instance|Inductive|CoInductive|Variant|Record|Structure|Class|Function|Let)\s+"
                     r"(?P<name>[\w']+)")
REFERENCE = re.compile(r"[\w']+(?:\.[\w']+)*")
LOCATED = re.compile(r"^(?:Constant|Inductive|Constructor|Notation)\s+(?P<path>[\w'.]+)", re.M)

FLOOR_TACTICS = ("auto", "intuition", "lia", "ring", "reflexivity", "simpl", "intros", "split", "left", "right",
                 "constructor", "trivial", "easy", "congruence", "discriminate", "assumption", "tauto")


class CoqEnv:
    name = "coq"

    def __init__(self, cfg: CoqConfig | None = None) -> None:
        self.cfg = cfg or CoqConfig()
        self.top = CoqTop(self.cfg.context_args(),
                          answer_timeout_s=self.cfg.longest_timeout_s() + self.cfg.answer_timeout_s)
        self.base_state = 0
        self.loaded: tuple[str, int] | None = None  # (context name, its state)
        self.section_vars: dict[tuple[str, str], bool] = {}  # (context, name) -> a section variable there
        self.ahead: dict[str, tuple[str, frozenset[str]]] = {}  # context -> what a proof there may not use
        self.located: dict[tuple[str, str], list[str]] = {}  # (context, name as printed) -> its full path
        self.args: dict[str, tuple[str, ...]] = {}  # context -> coqtop's options there (CoqConfig.context_args)

    def close(self) -> None:
        self.top.close()

    # ------------------------------------------------------------------ coqtop sessions
    def _enter(self, context: str) -> None:
        """Make coqtop hold `context` (`std`, or `FILE#INDEX`: the library file before its sentence INDEX) and
        go back to its state (no goal open). A context in another library's file restarts coqtop with that
        library's load path (CoqConfig.context_args)."""
        if context not in self.args:  # file-system lookups: once per context, not once per tactic
            self.args[context] = self.cfg.context_args(context.rpartition("#")[0] if context != "std" else "")
        args = self.args[context]
        if args != self.top.args:
            self.top.close()
            self.top.args = args
        if not self.top.alive:
            self.top.start()
            self.base_state = self._ok("Set Printing Width 100000.").state
            for sentence in sentences(self.cfg.preloaded()):
                self.base_state = self._ok(sentence).state
            self.loaded = None
        if self.loaded is not None and self.loaded[0] == context:
            self._ok(f"BackTo {self.loaded[1]}.")
            return
        self._ok(f"BackTo {self.base_state}.")
        self.loaded = None
        if context == "std":
            self._ok(STD_CONTEXT)
        else:
            file, sep, index = context.rpartition("#")
            path = self.cfg.source(file)
            if not sep or not index.isdigit() or not path.is_file():
                raise CoqError(f"unknown Coq context {context!r}: `std` or FILE#INDEX of a file under "
                               f"{self.cfg.library_root} or a library of --coq.libraries")
            report = run_prefix(self.top, path, int(index))
            if report.aborted:
                raise CoqError(f"context {context}: {report.aborted}")
        self.loaded = (context, self.top.state)

    def _ok(self, sentence: str) -> Any:
        a = self.top.send(sentence)
        if a.error is not None:
            raise CoqError(f"{sentence!r} failed: {a.error}")
        return a

    def _show(self, i: int) -> Sequent:
        a = self.top.send(f"Show {i}.")
        if a.error is not None:
            raise CoqError(f"Show {i} failed: {a.error}")
        return parse_display(a.text)[0]

    def _state(self, statement: str, names: list[str]) -> str | None:
        """Open `Goal statement` and intros `names`; Coq's error, or None."""
        a = self.top.send(statement)
        if a.error is None and names:
            a = self.top.send(f"intros {' '.join(names)}.")
        return a.error

    def _read_goals(self, context: str, n: int) -> list[CoqGoal]:
        """The n open goals in both printings (Printing Implicit is on when called; left off)."""
        exact = [self._show(i) for i in range(1, n + 1)]
        self._ok("Unset Printing Implicit.")
        shown = [self._show(i) for i in range(1, n + 1)]
        return [CoqGoal(context, s, e) for s, e in zip(shown, exact)]

    def _open(self, goal: CoqGoal) -> str | None:
        """State `goal` in coqtop with Printing Implicit on; None when it came back identical, else why not."""
        if goal.has_evars:
            return "the goal has existential variables"
        self._enter(goal.context)
        self._ok("Set Printing Implicit.")
        error = self._state(*goal.exact.restated(self._section_variables(goal)))
        if error is not None:
            return f"the goal does not restate in Coq: {error}"
        try:
            again = self._show(1)
        except GoalDisplayError as e:
            return f"the restated goal cannot be read back: {e}"
        if again != goal.exact:
            return f"the goal restates as {again.text()!r}"
        return None

    def _section_variables(self, goal: CoqGoal) -> frozenset[str]:
        """The goal's hypotheses that are section variables (`Variable`, `Hypothesis`, `Context`) of its
        context, asked once per name: a goal of a lemma inside a section shows them, and a lemma about the
        section's definitions only restates with the section's own (Coq refuses to reuse their names, so a
        hypothesis so named is the section's)."""
        if goal.context == "std":
            return frozenset()
        out = set()
        for h in goal.exact.hyps:
            for n in h.names:
                key = (goal.context, n)
                if key not in self.section_vars:
                    a = self.top.send(f"About {n}.")
                    self.section_vars[key] = a.error is None and f"Expands to: Variable {n}" in a.text
                if self.section_vars[key]:
                    out.add(n)
        return frozenset(out)

    def _ahead_of(self, goal: CoqGoal) -> str | None:
        """What the proof term so far uses of the compiled copy of its own file at or after its lemma, if anything.
        A lemma's context is its file before it, replayed; but a preload such as CoqHammer's import loads much of
        the compiled standard library, the lemma's own file included, so `apply`, `auto`'s hints and hammer's
        premise selection all reach the lemma itself (hammer proves Zdiv_Zdiv with `srun eauto use: Zdiv_Zdiv`)
        and whatever its file proves after it. Asked only where something is preloaded: without a preload
        nothing loads a file's compiled copy into that file's own context."""
        if not self.cfg.preloaded() or goal.context == "std":
            return None
        if goal.context not in self.ahead:
            file, _, index = goal.context.rpartition("#")
            later = sentences(self.cfg.source(file).read_text(encoding="utf-8", errors="replace"))[int(index):]
            names = frozenset(m["name"] for m in map(DEFINES.match, later) if m)
            self.ahead[goal.context] = (Path(file).stem, names)
        module, names = self.ahead[goal.context]
        term = self._ok("Show Proof.").text
        for ref in sorted({r for r in REFERENCE.findall(term) if r.rsplit(".", 1)[-1] in names}):
            # Coq 8.16 prints the shortest name that resolves, so ask (once per context) where a suspect name points
            key = (goal.context, ref)
            if key not in self.located:
                where = LOCATED.search(self.top.send(f"Locate {ref}.").text)
                self.located[key] = where["path"].split(".") if where else []
            path = self.located[key]
            if module in path[:-1] and path[0] != "Top":
                return ".".join(path)
        return None

    def _after(self, goal: CoqGoal, text: str) -> tuple[CoqGoal, ...] | str:
        """The goals after a tactic whose answer is `text`, or why they are refused."""
        if "No more goals" in text:
            return "the proof was closed by giving up goals" if "gave up" in text or "admitted" in text else ()
        a = self.top.send("Show.")  # coqtop prints goals only when they changed: ask
        if a.error is not None:
            return f"Show failed: {a.error}"
        if "No more goals" in a.text:
            return ()
        _, n, shelved = parse_display(a.text)
        if shelved:
            return f"the tactic left {shelved} shelved goal(s) (existential variables)"
        goals = self._read_goals(goal.context, n)
        if any(g.has_evars for g in goals):
            return "a subgoal has existential variables"
        if len(goals) == 1 and goals[0] == goal:
            return "the tactic did not change the goal"
        return tuple(goals)

    # ------------------------------------------------------------------ BackwardEnv
    def apply(self, goal: Goal, tactic: str) -> TacticResult:
        return self.apply_within(goal, tactic, math.inf)

    def apply_within(self, goal: Goal, tactic: str, seconds: float, whole: bool = False) -> TacticResult:
        """`apply` under Coq's `Timeout` of the tactic's class, cut to `seconds` (whole seconds, at least 1: what
        `Timeout` takes) when its search has less time left than that; `whole`: all of `seconds`, whatever the
        class's limit (a portfolio's finisher, search.finish_with)."""
        start = time.perf_counter()
        limit = self.cfg.timeout_s(tactic)
        if seconds < limit or whole:
            limit = max(1, math.floor(seconds))

        def fail(kind: TacticErrorKind, message: str) -> TacticResult:
            return TacticResult(tactic, error=TacticError(kind, message), duration_s=time.perf_counter() - start)

        if not isinstance(goal, CoqGoal):
            return fail(TacticErrorKind.MALFORMED, f"not a Coq goal: {type(goal).__name__}")
        problem = tactic_problem(tactic)
        if problem is not None:
            return TacticResult(tactic, error=problem)
        try:
            why = self._open(goal)
            if why is not None:
                return fail(TacticErrorKind.INVALID_CHILD, why)
            # coqtop is given up on `answer_timeout_s` after the tactic's own limit, the cut one included
            a = self.top.send(f"Timeout {limit:g} {tactic.strip().rstrip('.')}.", limit + self.cfg.answer_timeout_s)
            if a.error is not None:
                kind = TacticErrorKind.TIMEOUT if "Timeout" in a.error else TacticErrorKind.NO_MATCH
                return fail(kind, a.error)
            if a.proof == "Coq":
                return fail(TacticErrorKind.UNKNOWN_RULE, "the sentence left the proof")
            used = self._ahead_of(goal)
            if used is not None:
                return fail(TacticErrorKind.UNKNOWN_RULE, f"its proof uses {used}, which the library defines at "
                                                          "or after this lemma (loaded compiled by the preload)")
            children = self._after(goal, a.text)
        except CoqTimeout as e:  # the tactic ignored Coq's Timeout: say which, it cost the search its grace
            logger.warning("coq: %r ran past its Timeout %gs, coqtop killed after %.0fs (context %s, goal %.200s)",
                           tactic, limit, time.perf_counter() - start, goal.context, goal.shown.conclusion)
            return fail(TacticErrorKind.TIMEOUT, str(e))
        except (CoqError, GoalDisplayError) as e:
            return fail(TacticErrorKind.OTHER, str(e))
        if isinstance(children, str):
            return fail(TacticErrorKind.INVALID_CHILD, children)
        return TacticResult(hammer_replacement(tactic, a.text), children, duration_s=time.perf_counter() - start)

    def goal_tokens(self, goal: Goal) -> list[str]:
        assert isinstance(goal, CoqGoal)
        return goal.shown.tokens()

    def tactic_tokens(self, tactic: str) -> list[str]:
        return TOKEN.findall(tactic.strip().rstrip("."))

    def tactic_from_tokens(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)

    def parse_goal(self, text: str) -> Goal:
        """`H : A` lines then `|- B`, or just `B`; Coq elaborates it and the goal is what Coq prints."""
        try:
            typed = parse_sequent(text)
            context = "std"
            self._enter(context)
            error = self._state(*typed.restated())
            if error is not None:
                raise GoalParseError(f"Coq does not accept the goal: {error}")
            self._ok("Set Printing Implicit.")
            (goal,) = self._read_goals(context, 1)
        except (CoqError, GoalDisplayError) as e:
            raise GoalParseError(str(e)) from None
        if goal.has_evars:
            raise GoalParseError("the goal has existential variables")
        return goal

    def goal_text(self, goal: Goal) -> str:
        assert isinstance(goal, CoqGoal)
        return goal.text()

    def theorems(self, split: str) -> list[Theorem]:
        """The lemmas of `split` whose proofs replayed, each in the context of its file before it: train, valid
        or test of the library, train with every lemma of --coq.libraries, or cross (--coq.cross_libraries)."""
        from hyperprover.envs.coq.library import split_lemmas

        if split not in ("train", "valid", "test", "cross"):
            raise KeyError(f"coq env: no split {split!r}; splits are train, valid, test, cross (or prove the "
                           "lemmas of a file with `hyperprover prove --env coq --file FILE`)")
        if split == "cross" and not self.cfg.cross_libraries:
            raise KeyError("coq env: the cross split is drawn from --coq.cross_libraries, which is empty (e.g. "
                           "--coq.cross_libraries coquelicot,reglang)")
        return [Theorem(m.label, CoqGoal(m.context, m.goal, m.exact), split, {"file": m.file})
                for _, m in split_lemmas(self.cfg, split)]

    def file_theorems(self, path: str | Path) -> list[Theorem]:
        """The top-level lemmas of a .v file (their statements only), under the default context."""
        return [Theorem(f"coq:{name}", self.parse_goal(statement), "file")
                for name, statement in lemma_statements(Path(path).read_text())]

    def check_proof(self, proof: ProofNode) -> None:
        r = self.apply_within(proof.goal, proof.tactic, self.cfg.check_timeout_s, whole=True)
        if not r.ok:
            raise ProofError(f"{proof.tactic!r} on {self.goal_text(proof.goal)!r}: {r.error}")
        got = [c.key for c in r.children]
        want = [c.goal.key for c in proof.children]
        if got != want:
            raise ProofError(f"{proof.tactic!r} gives {len(got)} subgoal(s) other than the proof's {len(want)}")
        for child in proof.children:
            self.check_proof(child)

    # ------------------------------------------------------------------ the floor
    def tactic_prefixes(self, goal: Goal) -> list[tuple[tuple[str, ...], bool]]:
        """A fixed list of common complete tactics, then per hypothesis name `induction`, `destruct`,
        `apply`, `rewrite` both ways and `inversion`; Coq tells which of them apply."""
        assert isinstance(goal, CoqGoal)
        out = [tuple(self.tactic_tokens(t)) for t in FLOOR_TACTICS]
        for h in goal.shown.hyps:
            for n in h.names:
                for t in ("induction", "destruct", "apply", "rewrite", "rewrite <-", "inversion"):
                    out.append(tuple(self.tactic_tokens(f"{t} {n}")))
        if self.cfg.automation:  # last: the costliest, tried once the cheap steps are
            out += [tuple(self.tactic_tokens(t)) for t in AUTOMATION_TACTICS]
        return [(words, True) for words in out]


LEMMA = re.compile(r"^(?:Lemma|Theorem|Fact|Remark|Corollary|Proposition|Example)\s+(?P<name>[\w']+)\s*"
                   r"(?P<binders>(?:\([^()]*\)\s*)*):\s*(?P<statement>.*)\.$", re.S)


def lemma_statements(text: str) -> list[tuple[str, str]]:
    """(name, statement) of the top-level lemmas of a .v text; binders become a leading `forall`."""
    out = []
    for sentence in sentences(text):
        m = LEMMA.match(sentence)
        if m is None:
            continue
        statement = m["statement"].strip()
        if m["binders"].strip():
            statement = f"forall {m['binders'].strip()}, {statement}"
        out.append((m["name"], statement))
    return out


def make_env(**overrides: Any) -> CoqEnv:
    return CoqEnv(env_config("coq", CoqConfig(), overrides))


__all__ = ["CoqConfig", "CoqEnv", "lemma_statements", "make_env", "tactic_problem"]
