"""One forward pass of any supported ViT that records every layer's attention and hidden states.

A family adapter (bundled, torchvision, Hugging Face, timm) subclasses ``CapturableViT``: it knows how to
preprocess an image, which modules are the encoder blocks, and how to read the attention weights out of
the model (hooks, or the library's own ``output_attentions``). The shared code here adds hooks on the
blocks for the hidden states and for cancellation between blocks, runs the forward once, and packs a
``ViTForwardResult`` of CPU numpy arrays. Outputs are unchanged by the capture (tested).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..errors import ImageLoadError
from ..jobs import JobContext, Progress
from .result import ViTForwardResult

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    size: int  # square input side the model was trained at
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD


def square_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop the largest square and resize it to (size, size). (H, W, 3) uint8 -> (size, size, 3) uint8"""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageLoadError(f"Expected an RGB image (H, W, 3) of uint8, got {image.dtype} array of shape {image.shape}.")
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = image[top:top + side, left:left + side]
    if side == size:
        return np.ascontiguousarray(crop)
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.BICUBIC))


def to_input(image: np.ndarray, prep: Preprocessing) -> torch.Tensor:
    """(S, S, 3) uint8 -> normalised (1, 3, S, S) float32."""
    x = torch.from_numpy(np.array(image, np.float32)).permute(2, 0, 1).div_(255.0)
    mean = torch.tensor(prep.mean).view(3, 1, 1)
    std = torch.tensor(prep.std).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def interpolate_grid(pos: torch.Tensor, old: tuple[int, int], new: tuple[int, int]) -> torch.Tensor:
    """Position embeddings of a patch grid (old_h * old_w, D) -> (new_h * new_w, D), bicubic."""
    if tuple(old) == tuple(new):
        return pos
    grid = pos.reshape(1, old[0], old[1], -1).permute(0, 3, 1, 2)  # (1, D, oh, ow)
    grid = F.interpolate(grid.float(), size=tuple(new), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(new[0] * new[1], -1)


def first_tensor(out: Any) -> torch.Tensor:
    """A block's output may be a tensor or a tuple whose first element is the hidden state."""
    return out if isinstance(out, torch.Tensor) else out[0]


class CapturableViT(ABC):
    """A loaded ViT that can run one captured forward. Subclasses adapt one model family."""

    key: str = ""
    title: str = ""
    class_names: tuple[str, ...] | None = None

    @property
    @abstractmethod
    def module(self) -> nn.Module:
        """The torch model (moved to the job's device by ``to``)."""

    @property
    @abstractmethod
    def patch_size(self) -> int: ...

    @abstractmethod
    def preprocessing(self, size: int | None) -> Preprocessing:
        """How an image becomes input at `size` (None: the model's own size)."""

    @abstractmethod
    def prefix_tokens(self) -> tuple[str, ...]: ...

    @abstractmethod
    def blocks(self, size: int) -> list[nn.Module]:
        """The encoder blocks of the model that runs at input side `size`, in order."""

    @abstractmethod
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        """Run the model once: (logits (1, C) or None, per-layer attention [(1, heads, N, N)] in order)."""

    @abstractmethod
    def embedding_filters(self) -> np.ndarray | None: ...

    @abstractmethod
    def position_embeddings(self, grid: tuple[int, int]) -> np.ndarray | None: ...

    def plain_forward(self, x: torch.Tensor) -> torch.Tensor | None:
        """The model's ordinary forward (no capture): logits (1, C) or None. For tests and the bench."""
        return self.forward(x)[0]

    def to(self, device: str) -> "CapturableViT":
        self.module.to(device)
        return self

    def unfamiliar_image_warning(self, seen: np.ndarray, logits: torch.Tensor | None) -> str:
        """Models trained on a narrow data set: why `seen` is unlike it ("" when it is not, or not known)."""
        return ""

    def input_size(self, size: int | None) -> int:
        """The square input side actually used: `size` rounded down to a multiple of the patch size."""
        side = self.preprocessing(None).size if size is None else int(size)
        return max(self.patch_size, side - side % self.patch_size)


@contextmanager
def _block_hooks(blocks: list[nn.Module], hidden: list[torch.Tensor], ctx: JobContext) -> Iterator[None]:
    """Record the input of the first block and every block's output; check for cancel before each block."""
    def check(_m, _args):
        ctx.check_cancelled()

    def first_input(_m, args, kwargs):
        hidden.append((args[0] if args else next(iter(kwargs.values()))).detach())

    def output(_m, _args, out):
        hidden.append(first_tensor(out).detach())

    handles = [blocks[0].register_forward_pre_hook(first_input, with_kwargs=True)]
    for b in blocks:
        handles.append(b.register_forward_pre_hook(check))
        handles.append(b.register_forward_hook(output))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


def capture_job(ctx: JobContext, model: CapturableViT, image: np.ndarray, input_size: int | None = None):
    """Job: one captured forward of `model` on `image` -> ViTForwardResult. Yields Progress."""
    yield Progress(0.0, f"Preparing the image for {model.title}")
    size = model.input_size(input_size)
    prep = model.preprocessing(size)
    seen = square_resize(image, size)
    x = to_input(seen, prep).to(ctx.device)
    model.to(ctx.device)
    ctx.check_cancelled()
    yield Progress(0.1, f"Running {model.title} at {size}x{size}")
    hidden: list[torch.Tensor] = []
    with torch.inference_mode(), _block_hooks(model.blocks(size), hidden, ctx):
        logits, attentions = model.forward(x)
    ctx.check_cancelled()
    yield Progress(0.9, "Collecting attention")
    g = size // model.patch_size
    attn = torch.stack([a[0] for a in attentions])  # (L, heads, N, N)
    states = torch.stack([h[0] for h in hidden])  # (L + 1, N, D)
    prefix = model.prefix_tokens()
    expected = len(prefix) + g * g
    if attn.shape[-1] != expected or states.shape[1] != expected:
        raise RuntimeError(f"{model.title}: expected {expected} tokens, captured attention {tuple(attn.shape)}, "
                           f"hidden states {tuple(states.shape)}")
    return ViTForwardResult(
        model_key=model.key,
        model_title=model.title,
        image=seen,
        patch_size=model.patch_size,
        grid=(g, g),
        prefix_tokens=prefix,
        attentions=_numpy(attn),
        hidden_states=_numpy(states),
        logits=None if logits is None else _numpy(logits[0]),
        class_names=model.class_names,
        embedding_filters=model.embedding_filters(),
        position_embeddings=model.position_embeddings((g, g)),
        ood_warning=model.unfamiliar_image_warning(seen, logits),
    )


def capture(model: CapturableViT, image: np.ndarray, input_size: int | None = None,
            device: str = "cpu") -> ViTForwardResult:
    """Synchronous capture (scripts, tests, bench)."""
    from ..jobs import run_to_completion

    result, _ = run_to_completion(capture_job, model, image, input_size, ctx=JobContext(device=device))
    return result
