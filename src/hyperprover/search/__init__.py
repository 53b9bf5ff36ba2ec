"""Proof search: HTPS, best-first and greedy behind one interface, and the Prover that batches them.

Nothing here imports torch: the model plugs in through `search.expander.Expander`.
"""

from hyperprover.search.api import Search, SearchError, SearchResult
from hyperprover.search.bfs import BestFirst
from hyperprover.search.config import PROVERS, ProverConfig, SearchConfig
from hyperprover.search.greedy import Greedy
from hyperprover.search.htps import HTPS
from hyperprover.search.prover import BatchTrace, ProofRecord, Prover, make_search
from hyperprover.search.samples import CriticSample, ProofSample, Samples, TacticSample

__all__ = ["HTPS", "PROVERS", "BatchTrace", "BestFirst", "CriticSample", "Greedy", "ProofRecord", "ProofSample",
           "Prover", "ProverConfig", "Samples", "Search", "SearchConfig", "SearchError", "SearchResult",
           "TacticSample", "make_search"]
