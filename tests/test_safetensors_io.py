"""models/safetensors_io.py: the one reader of safetensors metadata that the ViT, DETR, DDPM and GAN loaders use."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from models.errors import CheckpointError
from models.safetensors_io import read_metadata, read_with_metadata


def test_metadata_and_tensors_come_back(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"a": torch.arange(6.0).reshape(2, 3)}, str(path), metadata={"depth": "3"})
    assert read_metadata(path) == {"depth": "3"}
    meta, tensors = read_with_metadata(path)
    assert meta == {"depth": "3"} and torch.equal(tensors["a"], torch.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("content", [b"", b"\x00" * 7, b"not a safetensors file at all", b"\xff" * 8 + b"{}"])
def test_a_file_that_is_not_safetensors_gets_one_clear_line(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    for read in (read_metadata, read_with_metadata):
        with pytest.raises(CheckpointError) as info:
            read(path)
        text = str(info.value)
        assert "'bad.safetensors'" in text and "safetensors" in text and "\n" not in text


@pytest.mark.parametrize("loader", ["vit", "detr", "ddpm", "gan"])
def test_every_metadata_loader_gives_the_same_message_for_a_damaged_file(tmp_path, loader):
    path = tmp_path / "damaged.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{broken json!!!}")
    if loader == "vit":
        from models.vit.specs import _bundled_config as load
    elif loader == "detr":
        from models.detection.bundled import load_bundled_model as load
    elif loader == "ddpm":
        from models.diffusion.bundled import load_unet_file as load
    else:
        from models.gan.checkpoint import read_run as load
    with pytest.raises(CheckpointError, match="'damaged.safetensors' is damaged or not a readable safetensors"):
        load(path)
