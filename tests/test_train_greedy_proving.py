"""The trainer's greedy-proving metric (`--n_th_to_prove`) runs the real Prover with the model."""

import torch

from hyperprover.model.checkpoint import load_model
from hyperprover.train.metrics import greedy_proving_metrics
from online_model import rigged_checkpoint


def test_greedy_proving_metric(tmp_path):
    model, dico = load_model(rigged_checkpoint(tmp_path / "rigged.pth"))
    model.train()
    got = greedy_proving_metrics(model, dico, "eq", 6, "identities", torch.device("cpu"))
    assert list(got) == ["identities-eq-greedy-proved"]
    assert 0.0 <= got["identities-eq-greedy-proved"] <= 100.0
    assert model.training  # the trainer's mode is restored
