from hypothesis import given
from hypothesis import strategies as st

from hyperprover.results import AttemptRecord, ResultsFile, pending_attempts, summarize


def rec(label, attempt, proved, t=1.0):
    return AttemptRecord(label=label, attempt=attempt, proved=proved, stats={"time_s": t})


def test_results_file_round_trip_and_torn_line(tmp_path):
    f = ResultsFile(tmp_path / "eval_results.jsonl")
    f.append(rec("a", 1, False))
    f.append(rec("a", 2, True))
    with open(f.path, "a") as h:
        h.write('{"label": "b", "attem')  # killed mid-write
    assert [(r.label, r.attempt, r.proved) for r in f.read()] == [("a", 1, False), ("a", 2, True)]
    f.append(rec("c", 1, True))  # the restarted run's first record is not glued to the torn line
    assert [(r.label, r.attempt) for r in f.read()] == [("a", 1), ("a", 2), ("c", 1)]


def test_pending_skips_recorded_and_proved():
    done = [rec("a", 1, True), rec("b", 1, False)]
    assert pending_attempts(["a", "b", "c"], 2, done) == [("c", 1), ("b", 2), ("c", 2)]


def test_summary_pass_at_k():
    records = [rec("a", 1, True), rec("b", 1, False), rec("b", 2, True), rec("c", 1, False), rec("c", 2, False)]
    s = summarize(["a", "b", "c", "d"], records, 3)
    assert s["n_theorems"] == 4 and s["proved"] == 2 and s["proved_labels"] == ["a", "b"]
    assert (s["pass@1"], s["pass@2"], s["pass@3"]) == (0.25, 0.5, 0.5)
    assert s["time_per_theorem_s"] == 5.0 / 4


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.booleans()), max_size=40), st.integers(1, 4))
def test_interrupted_equals_uninterrupted(outcomes, k):
    """Running pending attempts in two halves (a restart in between) gives the same summary as one run."""
    labels = list("abcde")
    table = {}
    for label, proved in outcomes:
        table.setdefault(label, []).append(proved)

    def outcome(label, attempt):
        seq = table.get(label, [])
        return seq[attempt - 1] if attempt - 1 < len(seq) else False

    def run(done, limit=None):
        out = list(done)
        todo = pending_attempts(labels, k, out)
        for label, attempt in todo[:limit]:
            if any(r.label == label and r.proved for r in out):
                continue
            out.append(rec(label, attempt, outcome(label, attempt)))
        return out

    whole = run([])
    while pending_attempts(labels, k, whole):
        whole = run(whole)
    halves = run([], limit=3)
    while pending_attempts(labels, k, halves):
        halves = run(halves)
    assert summarize(labels, whole, k) == summarize(labels, halves, k)


def test_roc_auc_known_values():
    from hyperprover.results import roc_auc

    assert roc_auc([(0.9, 1), (0.8, 1), (0.2, 0), (0.1, 0)]) == 1.0
    assert roc_auc([(0.1, 1), (0.9, 0)]) == 0.0
    assert roc_auc([(0.5, 1), (0.5, 0)]) == 0.5  # ties count half
    # 3 positives x 2 negatives = 6 pairs, 3 ordered right, 1 tie: (3 + 0.5) / 6
    assert roc_auc([(0.9, 1), (0.6, 1), (0.3, 1), (0.6, 0), (0.4, 0)]) == 3.5 / 6
    assert roc_auc([(0.9, 1), (0.8, 1)]) is None and roc_auc([]) is None


@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), max_size=30))
def test_roc_auc_matches_pair_counting(pairs):
    from hyperprover.results import roc_auc

    pos = [s for s, y in pairs if y]
    neg = [s for s, y in pairs if not y]
    got = roc_auc(pairs)
    if not pos or not neg:
        assert got is None
        return
    want = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
    assert abs(got - want) < 1e-9


def test_summary_reports_critic_calibration():
    records = [AttemptRecord("a", 1, True, critic=[[0.9, 1], [0.4, 0]]),
               AttemptRecord("b", 1, False, critic=[[0.2, 0]])]
    s = summarize(["a", "b"], records, 1)
    assert s["critic_auc"] == 1.0 and (s["critic_n_solved"], s["critic_n_unsolved"]) == (1, 2)
    assert summarize(["a"], [rec("a", 1, True)], 1)["critic_auc"] is None
