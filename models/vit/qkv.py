"""One captured ViT forward with everything the Q/K/V step-through needs, read from the model itself.

Hooks on every block record the LayerNorm output (the attention input), the attention module's output
(W_o applied to the concatenated heads), the branch added to the residual stream and the input of the
next norm (residual + branch); the family's own capture records the attention weights. q, k and v of
every head come from the model's own projection modules / weights applied to the hooked norm output.
The result is a frozen dataclass of CPU numpy arrays; per-query numbers are then pure numpy
(models.qkv_math), so a new query or head never runs the model again.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ..jobs import JobContext, Progress, run_to_completion
from .capture import CapturableViT, first_tensor, square_resize, to_input
from .qkv_adapters import BlockParts, block_parts


@dataclass(frozen=True)
class QKVCapture:
    model_title: str
    image: np.ndarray  # (H, W, 3) uint8 as the model saw it
    patch_size: int
    grid: tuple[int, int]  # (gh, gw)
    prefix_tokens: tuple[str, ...]  # non-patch tokens, first in token order
    normed: np.ndarray  # (L, N, D) attention input: the block's LayerNorm output
    q: np.ndarray  # (L, heads, N, d_k) from the model's W_q (+ bias)
    k: np.ndarray  # (L, heads, N, d_k)
    v: np.ndarray  # (L, heads, N, d_k)
    attentions: np.ndarray  # (L, heads, N, N) captured softmax weights (the family's own capture)
    attn_out: np.ndarray  # (L, N, D) hooked attention module output (W_o concat + b_o)
    branch_out: np.ndarray  # (L, N, D) what is added to the residual (equals attn_out without layer scale)
    block_in: np.ndarray  # (L, N, D) the residual stream entering the block
    residual: np.ndarray  # (L, N, D) hooked input of the next norm: block_in + branch_out
    w_o: np.ndarray  # (L, D, D) output projection weights, y = x @ w_o.T + b_o
    b_o: np.ndarray  # (L, D)
    scale: np.ndarray  # (L,) the softmax scaling the model applies, 1 / sqrt(d_k)

    @property
    def num_layers(self) -> int:
        return int(self.q.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.q.shape[1])

    @property
    def num_tokens(self) -> int:
        return int(self.q.shape[2])

    @property
    def d_k(self) -> int:
        return int(self.q.shape[3])

    @property
    def num_prefix(self) -> int:
        return len(self.prefix_tokens)

    @property
    def has_layer_scale(self) -> bool:
        return not np.array_equal(self.attn_out, self.branch_out)


@contextmanager
def _hooks(parts: list[BlockParts], rec: dict[str, list[torch.Tensor]]) -> Iterator[None]:
    def keep(name, take):
        return lambda _m, args, out: rec[name].append(take(args, out).detach())

    handles = []
    for p in parts:
        handles.append(p.norm.register_forward_pre_hook(lambda _m, args: rec["block_in"].append(args[0].detach())))
        handles.append(p.norm.register_forward_hook(keep("normed", lambda a, o: o)))
        handles.append(p.attention.register_forward_hook(keep("attn_out", lambda a, o: first_tensor(o))))
        handles.append(p.branch.register_forward_hook(keep("branch_out", lambda a, o: first_tensor(o))))
        handles.append(p.after.register_forward_pre_hook(lambda _m, args: rec["residual"].append(args[0].detach())))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


def qkv_capture_job(ctx: JobContext, model: CapturableViT, image: np.ndarray, input_size: int | None = None):
    """Job: one forward of `model` on `image` recording Q, K, V and the attention output -> QKVCapture."""
    yield Progress(0.0, f"Preparing the image for {model.title}")
    size = model.input_size(input_size)
    seen = square_resize(image, size)
    x = to_input(seen, model.preprocessing(size)).to(ctx.device)
    model.to(ctx.device)
    parts = block_parts(model, size)
    rec: dict[str, list[torch.Tensor]] = {k: [] for k in ("block_in", "normed", "attn_out", "branch_out", "residual")}
    ctx.check_cancelled()
    yield Progress(0.1, f"Running {model.title} with Q/K/V hooks")
    with torch.inference_mode():
        with _hooks(parts, rec):
            _logits, attentions = model.forward(x)
        ctx.check_cancelled()
        yield Progress(0.8, "Projecting Q, K and V with the model's weights")
        qkv = [p.project(n) for p, n in zip(parts, rec["normed"])]  # [(1, heads, N, d_k) x 3] per layer
    stack = lambda name: _np(torch.stack([t[0] for t in rec[name]]))  # noqa: E731  (L, N, D)
    g = size // model.patch_size
    return QKVCapture(
        model_title=model.title, image=seen, patch_size=model.patch_size, grid=(g, g),
        prefix_tokens=model.prefix_tokens(),
        normed=stack("normed"),
        q=_np(torch.stack([t[0][0] for t in qkv])), k=_np(torch.stack([t[1][0] for t in qkv])),
        v=_np(torch.stack([t[2][0] for t in qkv])),
        attentions=_np(torch.stack([a[0] for a in attentions])),
        attn_out=stack("attn_out"), branch_out=stack("branch_out"), block_in=stack("block_in"),
        residual=stack("residual"),
        w_o=_np(torch.stack([p.w_o for p in parts])), b_o=_np(torch.stack([p.b_o for p in parts])),
        scale=np.array([p.scale for p in parts], np.float64))


def capture_qkv(model: CapturableViT, image: np.ndarray, input_size: int | None = None,
                device: str = "cpu") -> QKVCapture:
    """Synchronous capture (tests, bench)."""
    result, _ = run_to_completion(qkv_capture_job, model, image, input_size, ctx=JobContext(device=device))
    return result
