"""The bundled sprite DDPM: its weights file format (safetensors + JSON metadata) and its loader."""
from __future__ import annotations

import json
from pathlib import Path



from ..errors import CheckpointError
from ..shapes import SHAPE_CLASSES
from .model import DiffusionModel
from .schedule import make_schedule
from .unet import UNet, UNetConfig

WEIGHTS_FILE = "ddpm_shapes.safetensors"
WEIGHTS_PATH = Path(__file__).resolve().parents[2] / "assets" / "weights" / WEIGHTS_FILE


def save_unet(net: UNet, path: Path, schedule: str, timesteps: int, extra: dict | None = None,
              class_names: tuple[str, ...] | None = None) -> None:
    """EMA/model weights + what it takes to rebuild and sample (config, schedule, class names) as metadata."""
    from safetensors.torch import save_file
    names = SHAPE_CLASSES[: net.config.num_classes] if class_names is None else tuple(class_names)
    meta = {"unet_config": json.dumps(net.config.to_dict()), "schedule": schedule,
            "timesteps": str(timesteps), "class_names": json.dumps(list(names))}
    meta.update({k: str(v) for k, v in (extra or {}).items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}, str(path), metadata=meta)


def load_unet_file(path: Path | str, device: str = "cpu", key: str = "diffusion/bundled-shapes",
                   title: str = "Bundled sprite DDPM") -> DiffusionModel:
    """A UNet saved by ``save_unet`` (the bundled model, or one trained in the tab)."""
    from safetensors import safe_open
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No weights file at {path}. Train one with `python -m models.diffusion.train`.")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad file for the user
        raise CheckpointError(f"{path.name} is not a readable safetensors file ({exc}).") from None
    if "unet_config" not in meta:
        raise CheckpointError(f"{path.name} has no 'unet_config' metadata: it was not saved by this app's DDPM.")
    config = UNetConfig.from_dict(json.loads(meta["unet_config"]))
    net = UNet(config)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path.name} does not fit the UNet: missing {list(missing)[:3]}, "
                              f"unexpected {list(unexpected)[:3]}.")
    net = net.to(device).eval().requires_grad_(False)
    names = tuple(json.loads(meta.get("class_names", "[]"))) if config.num_classes else ()
    schedule = make_schedule(meta.get("schedule", "linear"), int(meta.get("timesteps", 500)))
    return DiffusionModel(key=key, title=title, net=net, schedule=schedule, image_size=config.image_size,
                          channels=config.in_channels, class_names=names, device=device, module=net,
                          notes=dict(meta))


