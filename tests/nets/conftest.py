import numpy as np
import pytest

import ltsk.nets._net as net_module


@pytest.fixture
def schedule(monkeypatch):
    """Record (counts, t, T, probabilities) of every progressive epoch's draw."""
    calls = []
    real = net_module.progressive_sampling_probabilities

    def recording(counts, epoch, n_epochs):
        p = real(counts, epoch, n_epochs)
        calls.append((np.asarray(counts).copy(), epoch, n_epochs, p))
        return p

    monkeypatch.setattr(net_module, "progressive_sampling_probabilities", recording)
    return calls
