"""Text corpora for MASS pretraining (`latex_mass`), and a small corpus generator for tests and the demo.

A corpus is a folder of text files, read as whitespace-separated words (formal text has no need of a
subword model). With train.txt / valid.txt / test.txt the split is given; otherwise every *.txt file
is read and each line goes to valid or test by a stable hash of its text. Lines are joined into one
token stream with `</s>` between lines; MASS trains on chunks of `batch.bptt` tokens of that stream.

`python -m hyperprover.train.latex --out DIR [--n 20000] [--source arith|setmm]` writes a corpus:
random arithmetic statements in LaTeX notation (numbers written digit by digit, as the Equations
tokeniser does), or the comments of a Metamath database when one is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hyperprover import atomic
from hyperprover.model.dictionary import EOS_WORD

SETMM = Path("/usr/share/metamath/databases/set.mm")


class CorpusError(ValueError):
    """A corpus folder that is missing or holds no usable text."""


@dataclass(frozen=True)
class Corpus:
    """Word streams per split (lines joined with `</s>`) and the word counts of the train split."""

    streams: dict[str, list[str]]
    counts: Counter[str]

    def chunks(self, split: str, bptt: int, n: int) -> list[tuple[str, ...]]:
        """The first `n` consecutive chunks of a split (fixed: valid/test sets)."""
        s = self.streams[split]
        return [tuple(s[i: i + bptt]) for i in range(0, max(len(s) - bptt + 1, 1), bptt)][:n]

    def random_chunks(self, bptt: int, seed: int) -> Iterator[tuple[str, ...]]:
        """Endless chunks of the train stream at random offsets."""
        rng = np.random.default_rng(seed)
        s = self.streams["train"]
        hi = max(len(s) - bptt, 0)
        while True:
            start = int(rng.integers(0, hi + 1))
            yield tuple(s[start: start + bptt])


def _split_of(line: str, valid_fraction: float) -> str:
    h = int.from_bytes(hashlib.sha1(line.encode()).digest()[:4], "big") / 2**32
    return "valid" if h < valid_fraction else "test" if h < 2 * valid_fraction else "train"


def load_corpus(data_dir: str | Path, valid_fraction: float = 0.02, limit_lines: int = 0) -> Corpus:
    root = Path(data_dir)
    if not str(data_dir) or not root.is_dir():
        raise CorpusError(f"--latex.data_dir {str(data_dir)!r} is not a folder; write one with "
                          "`python -m hyperprover.train.latex --out DIR`")
    lines: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    given = {s: root / f"{s}.txt" for s in lines}
    if all(p.is_file() for p in given.values()):
        for split, p in given.items():
            lines[split] = p.read_text(errors="replace").splitlines()
    else:
        files = sorted(root.rglob("*.txt"))
        if not files:
            raise CorpusError(f"--latex.data_dir {root} holds no *.txt file")
        for p in files:
            for line in p.read_text(errors="replace").splitlines():
                if line.strip():
                    lines[_split_of(line, valid_fraction)].append(line)
    streams: dict[str, list[str]] = {}
    for split, ls in lines.items():
        if limit_lines:
            ls = ls[:limit_lines]
        words: list[str] = []
        for line in ls:
            toks = line.split()
            if toks:
                words.extend(toks)
                words.append(EOS_WORD)
        streams[split] = words
    for split, s in streams.items():
        if not s:
            raise CorpusError(f"--latex.data_dir {root}: the {split} split is empty; add text or raise "
                              "--latex.valid_fraction")
    return Corpus(streams, Counter(w for w in streams["train"] if w != EOS_WORD))


# ---------------------------------------------------------------------------------------------------
# MASS span masking (docs/guide-pretrain.md), on one sequence of ids


@dataclass(frozen=True)
class MassExample:
    x: tuple[int, ...]  # encoder input, span corrupted
    ignore: tuple[bool, ...]  # encoder positions holding <MASK>: not attended by the decoder
    dec_in: tuple[int, ...]  # the token before the span, then the span minus its last token
    dec_pos: tuple[int, ...]  # their positions in x
    target: tuple[int, ...]  # the span: every span token is predicted (the original gave the first one)


def mass_mask(ids: tuple[int, ...], rng: np.random.Generator, mask_id: int, n_special: int, vocab_size: int,
              ) -> MassExample:
    """`ids` includes the delimiting `</s>` at both ends; the span is drawn inside them."""
    inner = len(ids) - 2
    k = max(1, math.ceil(inner / 2))
    u = rng.random()
    first, last = 1, inner - k + 1
    start = first if u < 0.2 else last if u < 0.4 else int(rng.integers(first, last + 1))
    x = list(ids)
    ignore = [False] * len(ids)
    for p in range(start, start + k):
        r = rng.random()
        if r < 0.8:
            x[p], ignore[p] = mask_id, True
        elif r < 0.9 and vocab_size > n_special:
            x[p] = int(rng.integers(n_special, vocab_size))
    return MassExample(tuple(x), tuple(ignore), tuple(ids[start - 1: start + k - 1]),
                       tuple(range(start - 1, start + k - 1)), tuple(ids[start: start + k]))


# ---------------------------------------------------------------------------------------------------
# corpus generator


def _num(n: int) -> str:
    return ("- " if n < 0 else "") + " ".join(str(abs(n)))


def arithmetic_statement(rng: random.Random) -> str:
    """One true statement in LaTeX-like words."""
    a, b, c = rng.randint(1, 20), rng.randint(1, 20), rng.randint(2, 9)
    v = rng.choice(["x", "y", "z", "t", "n"])
    k = rng.randint(0, 7)
    if k == 0:
        return f"Let $ a = {_num(a)} $ and $ b = {_num(b)} $ . Then $ a + b = {_num(a + b)} $ ."
    if k == 1:
        return (f"For all $ {v} $ , $ ( {v} + {_num(a)} ) ^ {{ 2 }} = {v} ^ {{ 2 }} + {_num(2 * a)} {v} + "
                f"{_num(a * a)} $ .")
    if k == 2:
        return (f"$ \\frac {{ {_num(a)} }} {{ {_num(c)} }} + \\frac {{ {_num(b)} }} {{ {_num(c)} }} = "
                f"\\frac {{ {_num(a + b)} }} {{ {_num(c)} }} $")
    if k == 3:
        return f"If $ {_num(c)} {v} = {_num(c * a)} $ then $ {v} = {_num(a)} $ ."
    if k == 4:
        return f"For all real $ {v} $ , $ \\sin ( {v} ) ^ {{ 2 }} + \\cos ( {v} ) ^ {{ 2 }} = 1 $ ."
    if k == 5:
        return (f"$ \\exp ( {_num(a)} {v} ) \\cdot \\exp ( {_num(b)} {v} ) = \\exp ( {_num(a + b)} {v} ) $ "
                "holds for every real number .")
    if k == 6:
        return (f"Since $ {v} > 0 $ , we have $ \\ln ( {v} ^ {{ {_num(c)} }} ) = {_num(c)} \\ln ( {v} ) $ .")
    return f"We compute $ {_num(a)} \\times {_num(b)} = {_num(a * b)} $ and $ {_num(a)} - {_num(b)} = {_num(a - b)} $ ."


def setmm_comments(path: Path = SETMM) -> Iterator[str]:
    text = path.read_text(errors="replace")
    for m in re.finditer(r"\$\((.*?)\$\)", text, flags=re.S):
        words = m.group(1).split()
        if 5 <= len(words) <= 400:
            yield " ".join(words)


def write_corpus(out: str | Path, n: int = 20000, seed: int = 0, source: str = "arith") -> Path:
    """Write `n` lines into OUT/corpus.txt (a folder load_corpus reads); returns the file."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "corpus.txt"
    if source == "setmm":
        if not SETMM.is_file():
            raise CorpusError(f"{SETMM} is not installed (apt-get install metamath-databases); use --source arith")
        lines = list(setmm_comments())[:n]
    else:
        rng = random.Random(seed)
        lines = [arithmetic_statement(rng) for _ in range(n)]
    atomic.write_text(path, "\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hyperprover.train.latex", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="folder to write corpus.txt into")
    ap.add_argument("--n", type=int, default=20000, help="number of lines")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--source", choices=("arith", "setmm"), default="arith")
    args = ap.parse_args(argv)
    try:
        path = write_corpus(args.out, args.n, args.seed, args.source)
    except CorpusError as e:
        print(f"hyperprover latex: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
