"""The shared one_thread fixture (tests/conftest.py) runs a module's torch work on one thread."""
import pytest

pytestmark = pytest.mark.usefixtures("one_thread")


def test_torch_runs_on_one_thread_inside_the_module():
    import torch

    assert torch.get_num_threads() == 1


def test_no_test_module_keeps_its_own_twin_of_the_fixture():
    """A module wanting one thread uses conftest's one_thread, not a copy that saves and restores the count."""
    from pathlib import Path

    here = Path(__file__).parent
    twins = [p.name for p in sorted(here.glob("*.py"))
             if p.name not in ("conftest.py", Path(__file__).name)
             and "set_num_threads(before)" in p.read_text(encoding="utf-8")]
    assert twins == []
