import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # The nets in these tests are tiny: with several intra-op threads on a
    # shared 2-core machine, thread hand-offs cost 10-50x the arithmetic.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
