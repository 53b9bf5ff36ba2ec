"""hyperprover: train neural theorem provers with HyperTree Proof Search."""

__version__ = "0.1.0"
