"""Model registry, safe checkpoint loading and torchvision's hub cache: real files, no mocks of torch."""
import pickle
import urllib.error

import pytest
import torch
import torchvision

from models import loading, registry
from models.errors import CheckpointError, WeightsUnavailableError
from models.device import pick_device, available_devices


def _tiny():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 1))


def test_registry_lists_specs_by_task_and_loads_through_the_spec(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # leave the real registry alone
    spec = registry.register(registry.ModelSpec(
        key="test/tiny", task="vit", title="Tiny", description="test",
        loader=lambda source, device, progress: (source.kind, device),
        default_source=registry.ModelSource(registry.SourceKind.RANDOM)))
    assert spec in registry.specs_for("vit") and spec not in registry.specs_for("gan")
    assert registry.get("test/tiny").load(device="cpu") == (registry.SourceKind.RANDOM, "cpu")
    with pytest.raises(KeyError, match="No model"):
        registry.get("nope")
    with pytest.raises(ValueError):
        registry.register(registry.ModelSpec("x", "audio", "x", "", lambda *a: None,
                                             registry.ModelSource(registry.SourceKind.RANDOM)))


def test_safetensors_round_trip_and_torch_state_dict(tmp_path):
    model = _tiny()
    path = loading.save_safetensors(model, tmp_path / "w.safetensors", {"note": "test"})
    other = _tiny()
    loading.load_into(other, loading.load_state_dict_file(path), "the tiny net")
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    torch.save({"state_dict": model.state_dict()}, tmp_path / "w.pt")
    assert set(loading.load_state_dict_file(tmp_path / "w.pt")) == set(model.state_dict())


def test_checkpoint_that_does_not_fit_says_what_differs(tmp_path):
    wrong = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 2, 1))
    path = loading.save_safetensors(wrong, tmp_path / "wrong.safetensors")
    with pytest.raises(CheckpointError, match="does not fit the tiny net.*other shapes.*0.weight"):
        loading.load_into(_tiny(), loading.load_state_dict_file(path), "the tiny net")


class _Evil:
    def __reduce__(self):
        return (print, ("this ran code",))


def test_pickled_code_empty_and_garbage_files_are_refused(tmp_path):
    with open(tmp_path / "evil.pt", "wb") as f:
        torch.save({"w": torch.zeros(1), "x": _Evil()}, f)
    with pytest.raises(CheckpointError, match="refused for safety"):
        loading.load_state_dict_file(tmp_path / "evil.pt")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        loading.load_state_dict_file(tmp_path / "empty.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        loading.load_state_dict_file(tmp_path / "junk.safetensors")
    (tmp_path / "junk.pt").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(CheckpointError):
        loading.load_state_dict_file(tmp_path / "junk.pt")


def test_torchvision_weights_come_from_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    weights = torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1
    path = loading.hub_checkpoint_path(weights.url)
    assert path.parent == tmp_path / "hub" / "checkpoints"
    reference = torchvision.models.mobilenet_v3_small(weights=None)
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)  # what torchvision's downloader leaves in the cache
    state = loading.torchvision_state_dict(weights)
    model = loading.load_into(torchvision.models.mobilenet_v3_small(weights=None), state, "MobileNetV3")
    assert torch.equal(model.features[0][0].weight, reference.features[0][0].weight)


def test_missing_weights_offline_give_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(loading.urllib.request, "urlopen", offline)
    weights = torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1
    with pytest.raises(WeightsUnavailableError, match="not in the local cache.*could not be downloaded"):
        loading.torchvision_state_dict(weights)
    assert not list((tmp_path / "hub" / "checkpoints").glob("*"))  # no half-written file left


def test_device_choice():
    assert pick_device("cpu") == "cpu"
    assert pick_device(None) == available_devices()[0]
    if "cuda" not in available_devices():
        with pytest.raises(ValueError, match="not available"):
            pick_device("cuda")
