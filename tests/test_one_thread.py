"""The shared one_thread fixture (tests/conftest.py) runs a module's torch work on one thread."""
import pytest

pytestmark = pytest.mark.usefixtures("one_thread")


def test_torch_runs_on_one_thread_inside_the_module():
    import torch

    assert torch.get_num_threads() == 1
