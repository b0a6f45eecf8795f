"""The bundled sprite DDPM: its weights file format (safetensors + JSON metadata) and its loader."""
from __future__ import annotations

import json
from pathlib import Path

from ..config_checks import ConfigReader, check_budget
from ..errors import CheckpointError
from ..loading import load_into, load_state_dict_file, write_safetensors
from ..safetensors_io import read_metadata
from ..shapes import SHAPE_CLASSES
from .model import DiffusionModel
from .schedule import SCHEDULES, make_schedule
from .unet import UNet, UNetConfig

WEIGHTS_FILE = "ddpm_shapes.safetensors"
WEIGHTS_PATH = Path(__file__).resolve().parents[2] / "assets" / "weights" / WEIGHTS_FILE


MAX_TIMESTEPS = 4000


def unet_config_from_dict(data: object, where: str = "This weights file") -> UNetConfig:
    """A UNetConfig read from a file, every field checked (CheckpointError) before anything is built."""
    r, d = ConfigReader(data, where), UNetConfig()
    cfg = UNetConfig(
        image_size=r.integer("image_size", 8, 128, d.image_size), in_channels=r.integer("in_channels", 1, 4, d.in_channels),
        channels=r.ints("channels", 4, 1024, 1, 6, d.channels), res_blocks=r.integer("res_blocks", 1, 8, d.res_blocks),
        attention_resolutions=r.ints("attention_resolutions", 1, 32, 0, 8, d.attention_resolutions),
        num_classes=r.integer("num_classes", 0, 1000, d.num_classes), time_dim=r.integer("time_dim", 4, 2048, d.time_dim),
        groups=r.integer("groups", 1, 64, d.groups), heads=r.integer("heads", 1, 32, d.heads),
        dropout=r.number("dropout", 0.0, 1.0, d.dropout), upsample_conv=r.flag("upsample_conv", d.upsample_conv))
    lowest = cfg.image_size // 2 ** (len(cfg.channels) - 1)
    r.require(cfg.image_size % 2 ** (len(cfg.channels) - 1) == 0 and 1 <= lowest <= 32,
              f"image_size={cfg.image_size} does not fit {len(cfg.channels)} levels (the lowest level must be 1-32 px).")
    r.require(all(c % cfg.groups == 0 and c % cfg.heads == 0 for c in cfg.channels) and cfg.channels[0] % 2 == 0,
              f"channels={cfg.channels} must be even and divisible by groups={cfg.groups} and heads={cfg.heads}.")
    check_budget(lambda: UNet(cfg), where)
    return cfg


def save_unet(net: UNet, path: Path, schedule: str, timesteps: int, extra: dict | None = None,
              class_names: tuple[str, ...] | None = None) -> None:
    """EMA/model weights + what it takes to rebuild and sample (config, schedule, class names) as metadata.
    Written atomically: exactly `path`, through a private temp file beside it."""
    names = SHAPE_CLASSES[: net.config.num_classes] if class_names is None else tuple(class_names)
    meta = {"unet_config": json.dumps(net.config.to_dict()), "schedule": schedule,
            "timesteps": str(timesteps), "class_names": json.dumps(list(names))}
    meta.update({k: str(v) for k, v in (extra or {}).items()})
    tensors = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    write_safetensors(tensors, path, meta)


def _read_metadata(path: Path) -> tuple[UNetConfig, str, int, tuple[str, ...], dict]:
    """(config, schedule, timesteps, class names, metadata) of a weights file, all checked."""
    where = f"'{path.name}'"
    meta = read_metadata(path)
    if "unet_config" not in meta:
        raise CheckpointError(f"{path.name} has no 'unet_config' metadata: it was not saved by this app's DDPM.")
    try:
        raw = json.loads(meta["unet_config"])
        raw_names = json.loads(meta.get("class_names", "[]"))
    except ValueError:
        raise CheckpointError(f"{where}: the model settings are not valid JSON.") from None
    config = unet_config_from_dict(raw, where)
    r = ConfigReader(meta, where)
    schedule = r.choice("schedule", SCHEDULES, "linear")
    timesteps = r.integer("timesteps", 1, MAX_TIMESTEPS, 500)
    names = ConfigReader({"class_names": raw_names}, where).names("class_names", 1000) if config.num_classes else ()
    r.require(not config.num_classes or len(names) == config.num_classes,
              f"class_names has {len(names)} names for num_classes={config.num_classes}.")
    return config, schedule, timesteps, names, meta


def load_unet_file(path: Path | str, device: str = "cpu", key: str = "diffusion/bundled-shapes",
                   title: str = "Bundled sprite DDPM") -> DiffusionModel:
    """A UNet saved by ``save_unet`` (the bundled model, or one trained in the tab)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No weights file at {path}. Train one with `python -m models.diffusion.train`.")
    config, schedule, timesteps, names, meta = _read_metadata(path)  # checked before any tensor is built
    net = load_into(UNet(config), load_state_dict_file(path), f"the sprite DDPM's UNet ({path.name})")
    net = net.to(device).eval().requires_grad_(False)
    return DiffusionModel(key=key, title=title, net=net, schedule=make_schedule(schedule, timesteps),
                          image_size=config.image_size, channels=config.in_channels, class_names=names,
                          device=device, module=net, notes=dict(meta))
