"""`python -m models.compare.train`: a fine-tune starts from the given weights, and refuses another model's."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from safetensors.torch import load_file

from models.compare import train
from models.compare.architectures import ARCHITECTURES
from models.errors import CheckpointError
from models.loading import save_safetensors


@dataclass(frozen=True)
class TinyRecipe(train.Recipe):
    train_size: int = 64
    batch: int = 8
    warmup_steps: int = 1


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(train, "Recipe", TinyRecipe)


def _train(tmp_path, name: str, *extra: str) -> dict[str, torch.Tensor]:
    """One step at learning rate 0; the tensors of the weights it writes."""
    weights = tmp_path / f"{name}.safetensors"
    assert train.main(["vit-convstem", "--steps", "1", "--lr", "0", "--out-dir", str(tmp_path / name),
                       "--weights", str(weights), *extra]) == 0
    return load_file(weights)


def test_init_from_starts_from_the_given_weights(tiny, tmp_path):
    arch = ARCHITECTURES["vit-convstem"]
    torch.manual_seed(123)  # another initialisation than the script's own seed
    start = arch.build(arch.config)
    src = save_safetensors(start, tmp_path / "start.safetensors", {})
    want = dict(start.named_parameters())  # parameters only: BatchNorm statistics move even at learning rate 0
    fine_tuned, fresh = _train(tmp_path, "ft", "--init-from", str(src)), _train(tmp_path, "new")
    assert all(torch.equal(fine_tuned[k], want[k].detach()) for k in want)  # learning rate 0: the weights stay
    assert not all(torch.equal(fresh[k], want[k].detach()) for k in want)


def test_init_from_another_architecture_is_refused_with_a_message(tiny, tmp_path):
    other = ARCHITECTURES["convnext"]
    src = save_safetensors(other.build(other.config), tmp_path / "cnn.safetensors", {})
    with pytest.raises(CheckpointError, match="does not fit"):
        train.main(["vit-convstem", "--steps", "1", "--init-from", str(src), "--out-dir", str(tmp_path / "run"),
                    "--weights", str(tmp_path / "x.safetensors")])
