"""Provers: the options of a prover (env, expander, search, decoding), the Ray prover actor that runs
searches for jobs, and the pool that hands jobs to actors. Used unchanged by `eval` and `online`."""
