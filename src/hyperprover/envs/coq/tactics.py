"""What may be sent to Coq as a tactic: one tactic sentence, nothing that fakes or leaves a proof."""

from __future__ import annotations

import re

from hyperprover.envs.base import TacticError, TacticErrorKind

# words that end, fake or leave a proof, or are vernacular commands rather than tactics
FORBIDDEN = frozenset("""admit give_up Admitted Abort Qed Defined Save Proof Undo Restart BackTo Back Reset Require
Import Export Load Declare Drop Quit Timeout Fail Time Redirect Set Unset Goal Lemma Theorem Definition Fixpoint
Axiom Parameter Hypothesis Variable Section End Module Ltac Hint Opaque Transparent Arguments Notation Infix Open
Close Show Print Check Eval Compute Search exact_no_check vm_cast_no_check native_cast_no_check change_no_check
Unshelve shelve""".split())
WORD = re.compile(r"[^\W\d][\w']*")
SENTENCE_END = re.compile(r"\.(?:\s|$)")
# what `hammer` prints when it found a proof: the tactic that replays it without the ATPs, on the same line or,
# when long, on the next one after a tab ("Replace the hammer tactic with:\n\tqauto use: WF.add_o.")
HAMMER_REPLACEMENT = re.compile(r"Replace the hammer tactic with:\s*(?P<tactic>[^\n]+)")


def tactic_problem(tactic: str) -> TacticError | None:
    """Why `tactic` may not be sent to Coq, or None."""
    text = tactic.strip()
    if not text:
        return TacticError(TacticErrorKind.MALFORMED, "empty tactic")
    if "\n" in text or SENTENCE_END.search(text.rstrip(".")):
        return TacticError(TacticErrorKind.MALFORMED, "one tactic sentence only (no '.' between tactics)")
    if text[0] in "-+*{}" or text.startswith(("(*", "\"")):
        return TacticError(TacticErrorKind.MALFORMED, "bullets, braces and comments are not tactics")
    bad = sorted({w for w in WORD.findall(text) if w in FORBIDDEN})
    if bad:
        return TacticError(TacticErrorKind.UNKNOWN_RULE, f"{', '.join(bad)} may not be used in a tactic")
    return None


def hammer_replacement(tactic: str, answer: str) -> str:
    """The tactic a proof records for `tactic` that Coq answered with `answer`: for a `hammer` that succeeded,
    the reconstruction it printed (`sauto use: ...`), which replays in seconds and the same way each time, where
    `hammer` itself runs the ATPs again and may miss under load what they found before; otherwise `tactic`."""
    if tactic.split()[:1] != ["hammer"]:
        return tactic
    m = HAMMER_REPLACEMENT.search(answer)
    found = m.group("tactic").strip().rstrip(".").strip() if m else ""
    # `srun eauto use: ...` did not replay in 4 of 4 re-checks (session 24): such a proof keeps `hammer`
    return found if found and not found.startswith("srun") and tactic_problem(found) is None else tactic


__all__ = ["FORBIDDEN", "hammer_replacement", "tactic_problem"]
