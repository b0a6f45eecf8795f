"""Where each ViT family keeps the pieces of one block's attention (for the Q/K/V step-through).

For one encoder block an adapter names the model's own modules and weights: the LayerNorm whose output
is the attention input, the attention module (its output is W_o applied to the concatenated heads), the
module whose output is added to the residual stream (a layer scale, or the attention itself), the next
norm (its input is the residual sum), the per-head projections q, k, v computed with the model's own
projection modules / weights, and W_o. Families are looked up by the adapter class (no name branches).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .capture import CapturableViT
from .capture_bundled import BundledViT
from .capture_hf import HFViT
from .capture_timm import TimmViT
from .capture_torchvision import TorchvisionViT

# normed tokens (B, N, D) -> q, k, v, each (B, heads, N, d_k), from the model's own projections
Projector = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class BlockParts:
    norm: nn.Module  # output: the attention input (the block's LayerNorm before attention)
    attention: nn.Module  # output (first tensor): W_o(concat of heads) + b_o, (B, N, D)
    branch: nn.Module  # output: what is added to the residual stream (layer scale or the attention itself)
    after: nn.Module  # input: residual + branch (the norm before the MLP)
    project: Projector
    w_o: torch.Tensor  # (D, D) output projection weight (y = x @ w_o.T + b_o)
    b_o: torch.Tensor  # (D,)
    heads: int
    scale: float  # the softmax scaling the model applies, 1 / sqrt(d_k)


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, D) -> (B, heads, N, D / heads), heads taking consecutive slices of D (every family does)."""
    b, n, d = x.shape
    return x.reshape(b, n, heads, d // heads).transpose(1, 2)


def _bias(linear_bias: torch.Tensor | None, d: int, like: torch.Tensor) -> torch.Tensor:
    return linear_bias.detach() if linear_bias is not None else torch.zeros(d, dtype=like.dtype, device=like.device)


def _fused_qkv(linear: nn.Module, heads: int, q_norm: nn.Module | None = None, k_norm: nn.Module | None = None) -> Projector:
    """One Linear D -> 3D laid out [q | k | v] (bundled ViT, timm); timm may normalise q and k per head."""
    def project(x):
        q, k, v = (split_heads(t, heads) for t in linear(x).chunk(3, dim=-1))  # (B, heads, N, d_k)
        if q_norm is not None:
            q, k = q_norm(q), k_norm(k)
        return q, k, v
    return project


def _bundled(block: nn.Module) -> BlockParts:
    a = block.attn
    return BlockParts(block.norm1, a, a, block.norm2, _fused_qkv(a.qkv, a.heads), a.proj.weight.detach(),
                      _bias(a.proj.bias, a.proj.out_features, a.proj.weight), a.heads, float(a.scale))


def _timm(block: nn.Module) -> BlockParts:
    a = block.attn
    return BlockParts(block.norm1, a, getattr(block, "ls1", a), block.norm2,
                      _fused_qkv(a.qkv, a.num_heads, getattr(a, "q_norm", None), getattr(a, "k_norm", None)),
                      a.proj.weight.detach(), _bias(a.proj.bias, a.proj.out_features, a.proj.weight),
                      a.num_heads, float(a.scale))


def _torchvision(block: nn.Module) -> BlockParts:
    mha = block.self_attention  # nn.MultiheadAttention: in_proj is a weight, not a module
    heads, d = mha.num_heads, mha.embed_dim

    def project(x):
        qkv = F.linear(x, mha.in_proj_weight, mha.in_proj_bias)  # (B, N, 3D), rows [q; k; v]
        return tuple(split_heads(t, heads) for t in qkv.chunk(3, dim=-1))
    return BlockParts(block.ln_1, mha, mha, block.ln_2, project, mha.out_proj.weight.detach(),
                      _bias(mha.out_proj.bias, d, mha.out_proj.weight), heads, (d // heads) ** -0.5)


def _first(obj: nn.Module, *paths: str):
    for path in paths:
        node = obj
        for part in path.split("."):
            node = getattr(node, part, None)
            if node is None:
                break
        if node is not None:
            return node
    raise AttributeError(f"{type(obj).__name__} has none of {paths}")


def _hf(block: nn.Module) -> BlockParts:
    """transformers ViT / DeiT / DINOv2 layers, new (q_proj ... o_proj) or old (attention.query ... output.dense)."""
    attention = block.attention
    lin_q = _first(attention, "q_proj", "attention.query")
    lin_k = _first(attention, "k_proj", "attention.key")
    lin_v = _first(attention, "v_proj", "attention.value")
    lin_o = _first(attention, "o_proj", "output.dense")
    inner = getattr(attention, "attention", attention)  # old layout: ViTAttention.attention is the self-attention
    heads = int(getattr(attention, "num_attention_heads", None) or inner.num_attention_heads)
    scale = float(getattr(attention, "scaling", None) or getattr(inner, "scaling", None) or (lin_q.out_features // heads) ** -0.5)

    def project(x):
        return split_heads(lin_q(x), heads), split_heads(lin_k(x), heads), split_heads(lin_v(x), heads)
    return BlockParts(_first(block, "layernorm_before", "norm1"), attention, getattr(block, "layer_scale1", attention),
                      _first(block, "layernorm_after", "norm2"), project, lin_o.weight.detach(),
                      _bias(lin_o.bias, lin_o.out_features, lin_o.weight), heads, scale)


ADAPTERS: dict[type, Callable[[nn.Module], BlockParts]] = {
    BundledViT: _bundled,
    TimmViT: _timm,
    TorchvisionViT: _torchvision,
    HFViT: _hf,
}


def block_parts(model: CapturableViT, size: int) -> list[BlockParts]:
    """The attention parts of every block of `model` at input side `size`."""
    for cls in type(model).__mro__:
        if cls in ADAPTERS:
            return [ADAPTERS[cls](b) for b in model.blocks(size)]
    raise TypeError(f"{model.title}: no Q/K/V adapter for {type(model).__name__}")
