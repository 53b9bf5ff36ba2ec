"""benchmarks/mm_improve.py: the C `metamath` program's `improve` as a classical prover."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "mm_improve.py"
_spec = importlib.util.spec_from_file_location("mm_improve", _PATH)
assert _spec is not None and _spec.loader is not None
mmi = importlib.util.module_from_spec(_spec)
sys.modules["mm_improve"] = mmi  # dataclasses look their module up while the class is built
_spec.loader.exec_module(mmi)

needs_c = pytest.mark.skipif(shutil.which("metamath") is None, reason="the C metamath program is not installed")

# Output of metamath 0.195 with `set echo on`, recorded from runs on TINY below and on set.mm (id).
PROVED = """\
MM> !PROVE th-easy
Entering the Proof Assistant.  HELP PROOF_ASSISTANT for help, EXIT to exit.
You will be working on statement (from "SHOW STATEMENT th-easy"):
23 th-easy $p |- ( ps -> ( ph -> ( ps -> ph ) ) ) $= ... $.
Unknown step summary (from "SHOW NEW_PROOF / UNKNOWN"):
1    th-easy=? $? |- ( ps -> ( ph -> ( ps -> ph ) ) )
MM-PA> !DELETE ALL
?Step 1 is unknown and cannot be deleted.
MM-PA> !IMPROVE ALL / DEPTH 1
A proof of length 10 was found for step 1.
Steps 1 and above have been renumbered.
CONGRATULATIONS!  The proof is complete.  Use SAVE NEW_PROOF to save it.
Note:  The Proof Assistant does not detect $d violations.  After saving
the proof, you should verify it with VERIFY PROOF.
MM-PA> !SHOW NEW_PROOF / COMPRESSED
Proof of "th-easy":
---------Clip out the proof below this line to put it in the source file:
  ( wi ax-1 a1i ) ABACCBABDE $.
---------The proof of "th-easy" (26 bytes) ends above this line.
MM-PA> !SAVE NEW_PROOF
The new proof of "th-easy" has been saved internally.
Remember to use WRITE SOURCE to save changes permanently.
MM-PA> !VERIFY PROOF th-easy
th-easy\x20
MM-PA> !EXIT / FORCE
Exiting the Proof Assistant.  Type EXIT again to exit Metamath.
"""

DV_VERIFY = """\
th-dv ?Error at statement 24, label "th-dv", type "$p":
  vx vx ax-d $.
        ^^^^
There is a disjoint variable ($d) violation at proof step 3.  Assertion "ax-d"
requires that variables "x" and "y" be disjoint.  But "x" was substituted with
"x" and "y" was substituted with "x".  These substitutions have variable "x" in
common.

"""

FAILED = """\
MM-PA> !DELETE ALL
The entire proof was deleted.
1    id=? $? |- ( ph -> ph )
MM-PA> !IMPROVE ALL / DEPTH 1
No new subproofs were found.
MM-PA> !SHOW NEW_PROOF / COMPRESSED
Proof of "id":
---------Clip out the proof below this line to put it in the source file:
      (  ) ? $.
---------The proof of "id" (6 bytes) ends above this line.
"""

# A database where depth-1 improve proves th-easy (by a1i), closes th-dv only by breaking ax-d's $d, and misses th-hard.
TINY = """\
$c ( ) -> wff |- P $.
$v ph ps x y $.
wph $f wff ph $.
wps $f wff ps $.
vx $f wff x $.
vy $f wff y $.
wi $a wff ( ph -> ps ) $.
wP $a wff P x y $.
ax-1 $a |- ( ph -> ( ps -> ph ) ) $.
${
  mp.min $e |- ph $.
  mp.maj $e |- ( ph -> ps ) $.
  ax-mp $a |- ps $.
$}
${
  $d x y $.
  ax-d $a |- P x y $.
$}
${
  a1i.1 $e |- ph $.
  a1i $p |- ( ps -> ph ) $= wph wps wph wi a1i.1 wph wps ax-1 ax-mp $.
$}
th-easy $p |- ( ps -> ( ph -> ( ps -> ph ) ) ) $= ? $.
th-dv $p |- P x x $= ? $.
th-hard $p |- ( ph -> ph ) $= ? $.
$( Like set.mm's *OLD theorems: `prove` alone refuses it.  (Proof modification is discouraged.) $)
th-old $p |- ( ps -> ( ph -> ( ps -> ph ) ) ) $= ? $.
"""


def test_sections_split_the_echoed_commands() -> None:
    secs = mmi.sections("Metamath - Version 0.195\n" + PROVED)
    assert [c for c, _ in secs] == ["PROVE th-easy", "DELETE ALL", "IMPROVE ALL / DEPTH 1",
                                    "SHOW NEW_PROOF / COMPRESSED", "SAVE NEW_PROOF", "VERIFY PROOF th-easy",
                                    "EXIT / FORCE"]
    out = dict(secs)
    assert mmi.prove_error(out["PROVE th-easy"]) is None
    assert mmi.clipped_proof(out["SHOW NEW_PROOF / COMPRESSED"]) == "( wi ax-1 a1i ) ABACCBABDE"
    assert mmi.verify_error(out["VERIFY PROOF th-easy"], "th-easy") is None


def test_incomplete_proof_and_rejections() -> None:
    proof = mmi.clipped_proof(dict(mmi.sections(FAILED))["SHOW NEW_PROOF / COMPRESSED"])
    assert proof is not None and "?" in proof
    err = mmi.verify_error(DV_VERIFY, "th-dv")  # the "?Error" shares the label's line
    assert err is not None and err.startswith("?Error") and "disjoint variable ($d) violation" in err
    assert mmi.verify_error("id \nWarning: The following $p statement(s) were not proved:  id\n", "id")
    assert mmi.verify_error("", "id") is not None  # no verdict is no acceptance
    assert mmi.prove_error('?No $p statement label matches "ax-1".\n') == '?No $p statement label matches "ax-1".'


def test_labels_and_resumption(tmp_path: Path) -> None:
    f = tmp_path / "labels.txt"
    f.write_text("# some theorems\nmm:id a1i\nmp2, id\n")
    assert mmi.parse_labels(str(f)) == ["id", "a1i", "mp2"]
    assert mmi.parse_labels("mm:id,a1i") == ["id", "a1i"]
    out = tmp_path / "r.jsonl"
    out.write_text(json.dumps({"label": "id", "status": "failed", "cpu_s": 0.1, "wall_s": 0.1}) + "\n"
                   + '{"label": "a1i", "stat')  # a write torn by a kill: done again
    assert list(mmi.read_done(out)) == ["id"]
    assert mmi.read_done(tmp_path / "none.jsonl") == {}


_FAKE = """\
import sys
print("Metamath - Version fake", flush=True)
echo, prompt, theorem = False, "MM> ", ""
while True:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    words = sys.stdin.readline().split()
    if not words:
        break
    if echo:
        print("!" + " ".join(words[:2]).upper() + "".join(" " + w for w in words[2:]))
    echo = echo or words[:2] == ["set", "echo"]
    if words[0] == "read":
        print("No errors were found.")
    elif words[0] == "prove":
        print("Entering the Proof Assistant.")
        prompt, theorem = "MM-PA> ", words[1]
    elif words[0] == "improve":
        while theorem == "slow":  # burns CPU until killed
            pass
    elif words[0] == "show" and words[1] == "new_proof":
        print("---------Clip out the proof below this line to put\\n  (  ) ? $.\\n---------The proof of")
    elif words[0] == "show":
        print('?There is no statement whose label matches "%s".' % words[2])
    elif words[0] == "exit":
        prompt = "MM> "
"""


def test_timeout_kills_and_restarts(tmp_path: Path) -> None:
    fake = tmp_path / "fake_metamath"
    fake.write_text(f"#!{sys.executable}\n" + _FAKE)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    got: list = []
    mmi.run(str(tmp_path / "x.mm"), ["slow", "fast"], 1, 0.2, 50, got.append, program=str(fake))
    assert [(o.label, o.status) for o in got] == [("slow", "timeout"), ("fast", "failed")]
    assert got[0].cpu_s == 0.2 and got[0].wall_s >= 0.2


@needs_c
def test_real_run_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    db, out = tmp_path / "tiny.mm", tmp_path / "r.jsonl"
    db.write_text(TINY)
    argv = ["mm_improve.py", "--database", str(db), "--cpu_s", "5", "--out", str(out), "--labels"]
    monkeypatch.setattr(sys, "argv", [*argv, "th-easy,th-dv,ax-1"])
    assert mmi.main() == 0
    monkeypatch.setattr(sys, "argv", [*argv, "th-easy,th-dv,ax-1,th-hard,th-old,nosuch", "--as_eval",
                                      str(tmp_path / "as_eval")])
    assert mmi.main() == 0
    from hyperprover.analysis.compare import outcomes  # the folder is one `hyperprover compare` takes
    assert outcomes(str(tmp_path / "as_eval"), 0) == {"mm:th-easy": True, "mm:th-dv": False, "mm:ax-1": False,
                                                      "mm:th-hard": False, "mm:th-old": True, "mm:nosuch": False}
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["label"], r["status"]) for r in recs] == [
        ("th-easy", "proved"), ("th-dv", "closed_but_rejected"), ("ax-1", "error"),
        ("th-hard", "failed"), ("th-old", "proved"), ("nosuch", "error")]  # the second run: only the new labels
    assert recs[0]["proof"] == "( wi ax-1 a1i ) ABACCBABDE"
    assert "disjoint variable" in recs[1]["detail"] and "No $p statement" in recs[2]["detail"]
    printed = capsys.readouterr().out
    assert "3 already in" in printed and "proved 2/6 (33.3%)" in printed and "closed_but_rejected 1" in printed
    assert sorted(os.listdir(tmp_path)) == ["as_eval", "r.jsonl", "tiny.mm"]  # metamath wrote nothing
