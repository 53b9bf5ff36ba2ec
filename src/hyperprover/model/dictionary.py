"""Word-level vocabulary shared by every task of a run, stored in every checkpoint.

Ids 0-3 are `<s> </s> <pad> <unk>`, ids 4-53 are reserved special tokens (critic tokens, `<MASK>`, ...),
then real words by decreasing count. `</s>` both opens and closes every sequence. A dictionary read
back from a checkpoint is frozen: it can encode, but nothing can be added to it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

BOS_WORD = "<s>"
EOS_WORD = "</s>"
PAD_WORD = "<pad>"
UNK_WORD = "<unk>"
MASK_WORD = "<MASK>"
CRITIC_WORD = "<CRITIC>"
SOLVABLE_WORD = "<SOLVABLE>"
NON_SOLVABLE_WORD = "<NON_SOLVABLE>"
N_RESERVED = 50
_NAMED_SPECIALS = (
    MASK_WORD, "<COMMAND>", "</COMMAND>", "<GOAL>", "</GOAL>", "<HYP>", "</HYP>", "<EMB>", "<END_OF_USEFUL>",
    SOLVABLE_WORD, NON_SOLVABLE_WORD, CRITIC_WORD, "<SUCCESS>", "<PROVED>", "<UNPROVED>",
)
SPECIAL_WORDS: tuple[str, ...] = (BOS_WORD, EOS_WORD, PAD_WORD, UNK_WORD, *_NAMED_SPECIALS,
                                  *(f"<SPECIAL_{i}>" for i in range(N_RESERVED - len(_NAMED_SPECIALS))))


class DictionaryError(ValueError):
    """A token the dictionary cannot hold (contains whitespace), or a change to a frozen dictionary."""


@dataclass(frozen=True)
class Encoded:
    """Token ids of one sequence (delimiters included) and the words that were not in the vocabulary."""

    ids: tuple[int, ...]
    unknown: tuple[str, ...]


class Dictionary:
    """id <-> word maps; equality is equality of the id -> word lists."""

    def __init__(self, words: Sequence[str], counts: Sequence[int] | None = None, frozen: bool = False) -> None:
        if tuple(words[: len(SPECIAL_WORDS)]) != SPECIAL_WORDS:
            raise DictionaryError("a dictionary must start with the reserved special tokens (ids 0-53)")
        self.id2word: list[str] = list(words)
        self.word2id: dict[str, int] = {w: i for i, w in enumerate(self.id2word)}
        if len(self.word2id) != len(self.id2word):
            dup = [w for w, c in Counter(self.id2word).items() if c > 1][:3]
            raise DictionaryError(f"duplicate words in dictionary: {dup}")
        self.counts: list[int] = list(counts) if counts is not None else [0] * len(words)
        self.frozen = frozen
        self.bos = self.word2id[BOS_WORD]
        self.eos = self.word2id[EOS_WORD]
        self.pad = self.word2id[PAD_WORD]
        self.unk = self.word2id[UNK_WORD]
        self.mask = self.word2id[MASK_WORD]
        self.critic = self.word2id[CRITIC_WORD]
        self.solvable = self.word2id[SOLVABLE_WORD]
        self.non_solvable = self.word2id[NON_SOLVABLE_WORD]

    @classmethod
    def build(cls, counts: Counter[str] | dict[str, int], max_vocab: int = 0, min_count: int = 1) -> Dictionary:
        """Specials, then words by decreasing count (ties alphabetical, so the result is deterministic)."""
        words = [w for w, c in counts.items() if c >= min_count and w not in SPECIAL_WORDS]
        for w in words:
            if not w or any(ch.isspace() for ch in w):
                raise DictionaryError(f"token {w!r} is empty or contains whitespace; split it first")
        words.sort(key=lambda w: (-counts[w], w))
        if max_vocab > 0:
            words = words[:max_vocab]
        return cls([*SPECIAL_WORDS, *words], [0] * len(SPECIAL_WORDS) + [int(counts[w]) for w in words])

    def __len__(self) -> int:
        return len(self.id2word)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dictionary) and self.id2word == other.id2word

    def __hash__(self) -> int:
        return hash(tuple(self.id2word))

    def __contains__(self, word: str) -> bool:
        return word in self.word2id

    def sha256(self) -> str:
        return hashlib.sha256("\n".join(self.id2word).encode()).hexdigest()

    def add_words(self, words: Iterable[str]) -> int:
        """Append words that are missing (e.g. the rest of an env's vocabulary); returns how many."""
        if self.frozen:
            raise DictionaryError("this dictionary comes from a checkpoint and is frozen; it takes no new words")
        n = 0
        for w in words:
            if w in self.word2id:
                continue
            if not w or any(ch.isspace() for ch in w):
                raise DictionaryError(f"token {w!r} is empty or contains whitespace; split it first")
            self.word2id[w] = len(self.id2word)
            self.id2word.append(w)
            self.counts.append(0)
            n += 1
        return n

    def encode(self, words: Sequence[str], delimit: bool = True) -> Encoded:
        """Ids of `words` (wrapped in `</s> ... </s>` when `delimit`); unknown words map to `<unk>`."""
        ids: list[int] = [self.eos] if delimit else []
        unknown: list[str] = []
        for w in words:
            i = self.word2id.get(w)
            if i is None:
                unknown.append(w)
                i = self.unk
            ids.append(i)
        if delimit:
            ids.append(self.eos)
        return Encoded(tuple(ids), tuple(unknown))

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.id2word[i] for i in ids]

    def state(self) -> dict[str, list[str] | list[int]]:
        """Plain lists, loadable with torch.load(weights_only=True)."""
        return {"id2word": list(self.id2word), "counts": list(self.counts)}

    @classmethod
    def from_state(cls, state: dict[str, list[str] | list[int]]) -> Dictionary:
        words = [str(w) for w in state["id2word"]]
        counts = [int(c) for c in state.get("counts", [0] * len(words))]
        return cls(words, counts, frozen=True)
