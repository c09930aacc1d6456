"""Tiny networks run on one thread: on a busy 2-core machine, torch's second thread waits for a
core at every small op, which made these tests ~100x slower (measured: an overfitting loop took
9.7 s with 2 threads and 0.1 s with 1 under load)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
