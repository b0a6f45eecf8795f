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


def _params(model_or_state) -> dict[str, torch.Tensor]:
    names = {n for n, _ in ARCHITECTURES["vit-convstem"].build(ARCHITECTURES["vit-convstem"].config).named_parameters()}
    return {k: v for k, v in model_or_state.items() if k in names}


def test_init_from_starts_from_the_given_weights(tiny, tmp_path):
    arch = ARCHITECTURES["vit-convstem"]
    torch.manual_seed(123)  # another initialisation than the script's own seed
    start = arch.build(arch.config)
    src = save_safetensors(start, tmp_path / "start.safetensors", {})
    args = ["vit-convstem", "--steps", "1", "--lr", "0", "--out-dir", str(tmp_path / "run")]
    assert train.main(args + ["--init-from", str(src), "--weights", str(tmp_path / "ft.safetensors")]) == 0
    assert train.main(args[:-1] + [str(tmp_path / "run2"), "--weights", str(tmp_path / "new.safetensors")]) == 0
    want = _params(start.state_dict())
    fine_tuned, fresh = _params(load_file(tmp_path / "ft.safetensors")), _params(load_file(tmp_path / "new.safetensors"))
    assert all(torch.equal(fine_tuned[k], want[k]) for k in want)  # learning rate 0: the weights stay
    assert not all(torch.equal(fresh[k], want[k]) for k in want)


def test_init_from_another_architecture_is_refused_with_a_message(tiny, tmp_path):
    other = ARCHITECTURES["convnext"]
    src = save_safetensors(other.build(other.config), tmp_path / "cnn.safetensors", {})
    with pytest.raises(CheckpointError, match="does not fit"):
        train.main(["vit-convstem", "--steps", "1", "--init-from", str(src), "--out-dir", str(tmp_path / "run"),
                    "--weights", str(tmp_path / "x.safetensors")])
