"""diffusers UNet2DModel checkpoints (e.g. google/ddpm-cifar10-32), with their own scheduler settings.

The ref is a hub id or a local folder laid out either as a pipeline (unet/ and scheduler/ subfolders)
or flat (config.json and scheduler_config.json side by side). Sampling uses this app's own DDPM/DDIM
loop on the scheduler's alphas_cumprod, prediction type and clipping, so every step can be captured.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..config_checks import ConfigReader, check_module_finite
from ..errors import CheckpointError, UserFacingError, WeightsUnavailableError
from ..hf_errors import load_errors, load_failure, refused_pickle
from ..hub_access import require_hub
from .model import DiffusionModel
from .schedule import schedule_from_alpha_bar


def _subfolder(ref: str, name: str, marker: str) -> str | None:
    """For a local folder: name if <ref>/<name>/<marker> exists, else None (flat layout)."""
    root = Path(ref)
    if root.is_dir():
        return name if (root / name / marker).is_file() else None
    return None


def load_diffusers_unet(ref: str, device: str = "cpu", progress=None) -> DiffusionModel:
    try:
        from diffusers import DDPMScheduler, UNet2DModel
    except ImportError:
        raise WeightsUnavailableError("diffusers is not installed: pip install 'vision-explorer[hf]'.") from None
    if not ref:
        raise CheckpointError("Give a Hugging Face id (e.g. google/ddpm-cifar10-32) or a local folder.")
    local = Path(ref).is_dir()
    if not local and Path(ref).exists():
        raise CheckpointError(f"{ref} is a file: pick the folder that holds config.json (a diffusers UNet).")
    if progress:
        progress(None, f"Loading {ref}")
    unet_sub = _subfolder(ref, "unet", "config.json") if local else None
    sched_sub = _subfolder(ref, "scheduler", "scheduler_config.json") if local else None
    try:
        unet = _from_pretrained(UNet2DModel, ref, unet_sub, check=_check_unet_config)
        scheduler = _from_pretrained(DDPMScheduler, ref, sched_sub)
        check_module_finite(unet, f"'{ref}'")
    except UserFacingError:
        raise
    except (OSError, ValueError, EnvironmentError) as exc:
        if refused_pickle(exc):
            raise load_failure(exc, ref, "diffusers UNet") from None
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if local:
            raise CheckpointError(f"{ref} is not a diffusers UNet2DModel folder ({first}).") from None
        raise WeightsUnavailableError(f"{ref} is neither in the Hugging Face cache nor downloadable ({first}). "
                                      "Connect once, or pick a local folder saved with save_pretrained.") from None
    except load_errors() as exc:  # a pickled diffusion_pytorch_model.bin, weights of other shapes, ...
        raise load_failure(exc, ref, "diffusers UNet") from None
    unet = unet.to(device).eval().requires_grad_(False)
    cfg = scheduler.config
    size = unet.config.sample_size
    size = size[0] if isinstance(size, (list, tuple)) else int(size)

    def net(x, t, labels):
        return unet(x, t).sample

    return DiffusionModel(
        key="diffusion/diffusers", title=f"diffusers: {ref}", net=net,
        schedule=schedule_from_alpha_bar(str(cfg.get("beta_schedule", "custom")), scheduler.alphas_cumprod.double().numpy()),
        image_size=int(size), channels=int(unet.config.in_channels), class_names=(),
        prediction_type=str(cfg.get("prediction_type", "epsilon")), clip_sample=bool(cfg.get("clip_sample", True)),
        device=device, module=unet, notes={"scheduler": dict(cfg)})


def _check_unet_config(config: dict, ref: str) -> None:
    """The sizes in a UNet's config.json, checked before any tensor is built."""
    r = ConfigReader(config, f"'{ref}'")
    r.ints("block_out_channels", 1, 4096, 1, 8)
    r.integer("layers_per_block", 1, 16, 1)
    r.integer("in_channels", 1, 16, 3)
    r.integer("out_channels", 1, 16, 3)
    r.integer("norm_num_groups", 1, 256, 32)
    size = config.get("sample_size")
    r.ints("sample_size", 1, 1024, 1, 2) if isinstance(size, (list, tuple)) else r.integer("sample_size", 1, 1024, 32)
    if config.get("attention_head_dim") is not None and not isinstance(config.get("attention_head_dim"), (list, tuple)):
        r.integer("attention_head_dim", 1, 4096)


def _from_pretrained(cls, ref: str, subfolder: str | None, check: Callable[[dict, str], None] | None = None):
    kwargs = {"subfolder": subfolder} if subfolder else {}
    try:
        if check:
            check(cls.load_config(ref, local_files_only=True, **kwargs), ref)
        return cls.from_pretrained(ref, local_files_only=True, trust_remote_code=False, **kwargs)
    except (OSError, ValueError, EnvironmentError):
        if Path(ref).is_dir():
            raise
        require_hub(ref)  # offline: fail now, not after the hub client's retries (~23 s)
        if check:
            check(cls.load_config(ref, **kwargs), ref)
        return cls.from_pretrained(ref, trust_remote_code=False, **kwargs)  # not cached: try the hub
