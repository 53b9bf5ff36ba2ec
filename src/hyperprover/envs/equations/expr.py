"""Expressions of the Equations environment: the one import for trees, tokens, notation and numbers.

The pieces live in `node.py` (trees, prefix tokens and positions, spec-format infix), `infix.py` (the
human notation parser and printer) and `numeric.py` (evaluation, exact folding, validity).
"""

from hyperprover.envs.equations.infix import parse_infix, to_pretty
from hyperprover.envs.equations.node import (
    BINARY_OPS,
    CMP_OPS,
    INT_VARS,
    MAX_DEPTH,
    PI,
    RULE_VARS,
    UNARY_OPS,
    Const,
    ExprParseError,
    Int,
    Node,
    Var,
    bin,
    cmp,
    depth,
    ops,
    parse_prefix,
    positions,
    prefix_len,
    replace_at,
    substitute,
    subtree_at,
    to_infix,
    un,
    variables,
)
from hyperprover.envs.equations.numeric import evaluate, fold_constants, fraction, holds, invalid_reason, is_valid

__all__ = [
    "BINARY_OPS", "CMP_OPS", "INT_VARS", "MAX_DEPTH", "PI", "RULE_VARS", "UNARY_OPS", "Const", "ExprParseError", "Int",
    "Node", "Var", "bin", "cmp", "depth", "evaluate", "fold_constants", "fraction", "holds", "invalid_reason",
    "is_valid", "ops", "parse_infix", "parse_prefix", "positions", "prefix_len", "replace_at", "substitute",
    "subtree_at", "to_infix", "to_pretty", "un", "variables",
]
