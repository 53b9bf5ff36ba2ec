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


__all__ = ["FORBIDDEN", "tactic_problem"]
