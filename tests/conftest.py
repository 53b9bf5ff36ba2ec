"""Shared by every test: what the machine would otherwise decide."""

import os

# `--decoding.precision auto` (the default) picks bfloat16 on a CPU that computes it; the tests' expected scores
# and search trees are those of float on every machine. Set here, before any test starts a process or a Ray
# worker, so that those inherit it too. Tests of `auto` itself patch the flags.
os.environ["HYPERPROVER_CPU_FLAGS"] = ""
