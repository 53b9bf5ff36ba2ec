"""Benchmark: CoqHammer's full `hammer` (premise selection, the ATPs eprover, z3 and cvc4, proof
reconstruction) alone on a split of the Coq env, in eval format, coqc-checkable: `benchmarks/coq_sauto.py`
with `--tactic hammer` and 30 s per lemma.

    .venv/bin/python benchmarks/coq_hammer.py [--split test] [--n 0] [--timeout_s 30] [--out dumped/coq_hammer]
"""

from coq_sauto import main

if __name__ == "__main__":
    main(tactic="hammer", timeout_s=30.0)
