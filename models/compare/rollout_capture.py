"""Each block's attention probabilities, read from the model itself, for attention rollout.

Rollout (and Chefer's gradient-weighted rollout) need every block's softmax attention (B, heads, N, N),
and their gradients for the latter. Where they live differs by library; one capture object per model
(``StageModel.attention``) hides that behind two calls:

- ``modules(model)``: the attention modules, in forward order (empty: nothing to roll out);
- ``capture(model, keep_grad)``: a context manager whose list fills with the weights during a forward.

Kinds:
- ``SoftmaxHooks``: the bundled ViTs' softmax modules (named ``attend``); a forward hook reads the output.
- ``TimmAttention``: timm attention modules run unfused (``fused_attn = False``) while capturing, and a
  forward hook on their ``attn_drop`` (identity at eval) reads the softmax weights (ViT, ConViT's GPSA).
- ``TorchMultiheadAttention``: torchvision's ViT calls ``nn.MultiheadAttention`` with ``need_weights=False``
  (and a fused kernel); while capturing, each one runs the same maths step by step so the weights are a
  tensor of the graph (their gradient is the real one, which the module's returned copy would not have).
- ``HFOutputAttentions``: transformers models loaded with eager attention return them with
  ``output_attentions=True``; the model wrapper (``HFClassifier``) asks for them while capturing.
- ``NoRollout(reason)``: attention exists but rollout is not defined for it (Swin's shifted windows, PVT's
  spatially reduced keys, LeViT's shrinking token grid): the reason is what the view says.

``align_tokens`` pads blocks that ran before the prefix tokens existed (ConViT adds its CLS token after
the local blocks) to the last block's token count, the missing tokens attending only to themselves.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn


class AttentionCapture:
    """Reads nothing: the interface (see the module docstring)."""

    reason = ""  # why rollout is not offered, when that needs saying

    def modules(self, model: nn.Module) -> list[nn.Module]:
        return []

    def global_attention(self, model: nn.Module) -> list[nn.Module]:
        """Layers where a token can attend to every other one (after the first of them, the theoretical
        receptive field is the whole image): the ones rollout reads, and every module whose class is an
        attention layer (``*Attention*``: transformers, timm, torchvision)."""
        found = self.modules(model)
        seen = {id(m) for m in found}
        return found + [m for m in model.modules() if "attention" in type(m).__name__.lower() and id(m) not in seen]

    @contextmanager
    def capture(self, model: nn.Module, keep_grad: bool = False) -> Iterator[list[torch.Tensor]]:
        yield []


def _keep(store: list[torch.Tensor], t: torch.Tensor, keep_grad: bool) -> None:
    if keep_grad and t.requires_grad:
        t.retain_grad()
    store.append(t)


class _ForwardHooks(AttentionCapture):
    """A forward hook on modules whose output is the attention probabilities."""

    def hooked(self, model: nn.Module) -> list[nn.Module]:
        return self.modules(model)

    def _prepare(self, model: nn.Module) -> list[tuple[nn.Module, str, object]]:
        return []  # (object, attribute, value to restore)

    @contextmanager
    def capture(self, model: nn.Module, keep_grad: bool = False) -> Iterator[list[torch.Tensor]]:
        store: list[torch.Tensor] = []
        restore = self._prepare(model)
        hooks = [m.register_forward_hook(lambda _m, _i, out: _keep(store, out, keep_grad)) for m in self.hooked(model)]
        try:
            yield store
        finally:
            for h in hooks:
                h.remove()
            for obj, name, value in restore:
                setattr(obj, name, value)


class SoftmaxHooks(_ForwardHooks):
    """Modules whose name ends with `suffix` output the attention weights (the bundled ViTs' ``attend``)."""

    def __init__(self, suffix: str = "attend"):
        self.suffix = suffix

    def modules(self, model: nn.Module) -> list[nn.Module]:
        return [m for name, m in model.named_modules() if name.endswith(self.suffix)]


class TimmAttention(_ForwardHooks):
    """timm attention modules (an ``attn_drop`` child): unfused while capturing, ``attn_drop`` hooked."""

    def modules(self, model: nn.Module) -> list[nn.Module]:
        return [m for m in model.modules() if isinstance(getattr(m, "attn_drop", None), nn.Module)]

    def hooked(self, model: nn.Module) -> list[nn.Module]:
        return [m.attn_drop for m in self.modules(model)]

    def _prepare(self, model: nn.Module) -> list[tuple[nn.Module, str, object]]:
        restore = []
        for m in self.modules(model):
            if getattr(m, "fused_attn", False):
                restore.append((m, "fused_attn", True))
                m.fused_attn = False
        return restore


def mha_step_by_step(mha: nn.MultiheadAttention, store: list[torch.Tensor], keep_grad: bool):
    """A forward for a batch-first self-attention ``nn.MultiheadAttention`` that computes what the module
    computes (in-projection, softmax(QK^T / sqrt(d)), out-projection) and keeps the softmax (B, heads, N, N)."""

    def forward(query, key=None, value=None, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if key_padding_mask is not None or attn_mask is not None or not mha.batch_first:
            raise ValueError("attention capture supports batch-first self-attention without masks")
        b, n, d = query.shape  # (B, N, D)
        h = mha.num_heads
        q, k, v = F.linear(query, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)  # (B, N, D) each
        q, k, v = (t.reshape(b, n, h, d // h).transpose(1, 2) for t in (q, k, v))  # (B, heads, N, d/heads)
        attn = torch.softmax(q @ k.transpose(-2, -1) / (d // h) ** 0.5, dim=-1)  # (B, heads, N, N)
        _keep(store, attn, keep_grad)
        out = (attn @ v).transpose(1, 2).reshape(b, n, d)  # (B, N, D)
        out = mha.out_proj(out)
        weights = (attn.mean(dim=1) if average_attn_weights else attn) if need_weights else None
        return out, weights

    return forward


class TorchMultiheadAttention(AttentionCapture):
    """Every ``nn.MultiheadAttention`` of the model (torchvision's ViT), run step by step while capturing."""

    def modules(self, model: nn.Module) -> list[nn.Module]:
        return [m for m in model.modules() if isinstance(m, nn.MultiheadAttention)]

    @contextmanager
    def capture(self, model: nn.Module, keep_grad: bool = False) -> Iterator[list[torch.Tensor]]:
        store: list[torch.Tensor] = []
        mods = self.modules(model)
        for m in mods:
            m.forward = mha_step_by_step(m, store, keep_grad)  # an instance attribute shadows the method
        try:
            yield store
        finally:
            for m in mods:
                del m.forward


class HFOutputAttentions(AttentionCapture):
    """transformers models: the wrapper passes ``output_attentions=True`` and hands the tuple over."""

    def __init__(self, layer_suffix: str = ".attention"):
        self.layer_suffix = layer_suffix

    def modules(self, model: nn.Module) -> list[nn.Module]:
        return [m for name, m in model.named_modules() if name.endswith(self.layer_suffix)]

    @contextmanager
    def capture(self, model: nn.Module, keep_grad: bool = False) -> Iterator[list[torch.Tensor]]:
        store: list[torch.Tensor] = []
        model.attention_sink = lambda attentions: [_keep(store, a, keep_grad) for a in attentions]
        try:
            yield store
        finally:
            model.attention_sink = None


class NoRollout(AttentionCapture):
    """The model has attention, but rollout over one token grid is not defined for it; `reason` says why.
    windowed: its attention is local (Swin's windows), so it does not make the receptive field global."""

    def __init__(self, reason: str, windowed: bool = False):
        self.reason = reason
        self.windowed = windowed

    def global_attention(self, model: nn.Module) -> list[nn.Module]:
        return [] if self.windowed else super().global_attention(model)


def align_tokens(attn: list[torch.Tensor], grads: list[torch.Tensor], max_prefix: int = 16):
    """Square (heads, N_i, N_i) maps padded at the front to the last block's N (tokens that did not exist
    yet attend only to themselves; their gradient is 0). ValueError when the blocks do not share a grid."""
    n = attn[-1].shape[-1]
    out_a, out_g = [], []
    for i, a in enumerate(attn):
        k = a.shape[-1]
        if a.shape[-2] != k or not 0 <= n - k <= max_prefix:
            raise ValueError("the attention blocks do not attend over one token grid (windows or reduced keys)")
        if k < n:
            eye = torch.eye(n, dtype=a.dtype, device=a.device).expand(a.shape[0], n, n).clone()
            eye[:, n - k:, n - k:] = a
            a = eye
        out_a.append(a)
        if grads:
            g = grads[i]
            out_g.append(F.pad(g, (n - k, 0, n - k, 0)) if k < n else g)
    return out_a, out_g


def capture_of(model_attention: object | None) -> AttentionCapture:
    """The capture for a StageModel's `attention` field (None: the bundled ``attend`` softmax modules)."""
    return model_attention if isinstance(model_attention, AttentionCapture) else SoftmaxHooks()
