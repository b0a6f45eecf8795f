"""A small DETR-style set predictor for the shapes scenes (Carion et al. 2020, with DAB-DETR's anchor queries).

CNN backbone (stride 8) -> transformer encoder over the 12x12 feature tokens -> decoder whose 15 object
queries are learned anchor boxes (cx, cy, w, h), each refined by every decoder layer -> per query class
logits (including "no object") and a box. No NMS: training with one-to-one Hungarian matching teaches
the queries not to duplicate each other. Attention weights can be captured for the views.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import DetrConfig


def inverse_sigmoid(x: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    x = x.clamp(eps, 1 - eps)
    return torch.log(x / (1 - x))


def sine_embed(coords: torch.Tensor, dim_per_coord: int, temperature: float = 10000.0) -> torch.Tensor:
    """Sine/cosine embedding of normalised coordinates (..., K) -> (..., K * dim_per_coord)."""
    half = dim_per_coord // 2
    freq = temperature ** (torch.arange(half, device=coords.device, dtype=coords.dtype) / half)
    ang = coords[..., None] * (2 * math.pi) / freq  # (..., K, half)
    emb = torch.cat([ang.sin(), ang.cos()], -1)  # (..., K, dim_per_coord)
    return emb.flatten(-2)


def grid_positions(h: int, w: int, d_model: int, device=None) -> torch.Tensor:
    """Sine position embedding of the centres of an h x w grid: (h * w, d_model), as (y, x) halves."""
    ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    xy = torch.stack([xx.flatten(), yy.flatten()], -1)  # (HW, 2)
    return sine_embed(xy, d_model // 2)


class Attention(nn.Module):
    """Multi-head attention whose softmax weights can be kept (set `capture = True`)."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))
        self.capture = False
        self.weights: torch.Tensor | None = None  # (B, heads, Nq, Nk) after a captured forward

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        b, nq, d = q.shape
        nk, hd = k.shape[1], d // self.heads
        q = self.q(q).view(b, nq, self.heads, hd).transpose(1, 2)  # (B, heads, Nq, hd)
        k = self.k(k).view(b, nk, self.heads, hd).transpose(1, 2)  # (B, heads, Nk, hd)
        v = self.v(v).view(b, nk, self.heads, hd).transpose(1, 2)
        if self.capture:
            attn = (q @ k.transpose(-2, -1) / math.sqrt(hd)).softmax(-1)  # (B, heads, Nq, Nk)
            self.weights = attn.detach()
            x = attn @ v
        else:
            x = F.scaled_dot_product_attention(q, k, v)
        return self.out(x.transpose(1, 2).reshape(b, nq, d))


class FFN(nn.Sequential):
    def __init__(self, d: int, hidden: int, dropout: float):
        super().__init__(nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, d))


class MLP(nn.Sequential):
    def __init__(self, d_in: int, d_hidden: int, d_out: int, layers: int):
        mods: list[nn.Module] = []
        dims = [d_in] + [d_hidden] * (layers - 1) + [d_out]
        for i in range(layers):
            mods.append(nn.Linear(dims[i], dims[i + 1]))
            if i < layers - 1:
                mods.append(nn.ReLU())
        super().__init__(*mods)


class EncoderLayer(nn.Module):
    def __init__(self, c: DetrConfig):
        super().__init__()
        self.attn = Attention(c.d_model, c.heads)
        self.ffn = FFN(c.d_model, c.ffn, c.dropout)
        self.norm1, self.norm2 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        qk = x + pos
        x = self.norm1(x + self.attn(qk, qk, x))
        return self.norm2(x + self.ffn(x))


class DecoderLayer(nn.Module):
    def __init__(self, c: DetrConfig):
        super().__init__()
        self.self_attn = Attention(c.d_model, c.heads)
        self.cross_attn = Attention(c.d_model, c.heads)
        self.ffn = FFN(c.d_model, c.ffn, c.dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(c.d_model) for _ in range(3))

    def forward(self, tgt, query_pos, cross_pos, memory, memory_pos):
        q = tgt + query_pos
        tgt = self.norm1(tgt + self.self_attn(q, q, tgt))
        tgt = self.norm2(tgt + self.cross_attn(tgt + cross_pos, memory + memory_pos, memory))
        return self.norm3(tgt + self.ffn(tgt))


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ShapesDETR(nn.Module):
    """forward(images (B, 3, H, W) float in [0, 1]) -> dict of logits (L, B, Q, C+1) and boxes (L, B, Q, 4),
    normalised cxcywh, one entry per decoder layer (the last is the prediction)."""

    def __init__(self, config: DetrConfig = DetrConfig()):
        super().__init__()
        c = self.config = config
        chans = (3,) + c.backbone_channels
        self.backbone = nn.Sequential(*[_conv(chans[i], chans[i + 1], 2 if i < 3 else 1)
                                        for i in range(len(c.backbone_channels))])
        self.input_proj = nn.Conv2d(chans[-1], c.d_model, 1)
        self.encoder = nn.ModuleList(EncoderLayer(c) for _ in range(c.encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(c) for _ in range(c.decoder_layers))
        self.query_content = nn.Embedding(c.queries, c.d_model)
        self.anchors = nn.Embedding(c.queries, 4)  # pre-sigmoid (cx, cy, w, h)
        self.query_pos_head = MLP(4 * (c.d_model // 2), c.d_model, c.d_model, 2)  # anchor -> self-attn position
        self.cross_scale = MLP(c.d_model, c.d_model, c.d_model, 2)  # content-dependent scale of the spatial query
        self.class_head = nn.Linear(c.d_model, c.num_classes + 1)
        self.box_head = MLP(c.d_model, c.d_model, 4, 3)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        g = torch.Generator().manual_seed(0)
        xy = torch.rand(self.config.queries, 2, generator=g)
        wh = torch.full((self.config.queries, 2), 0.2)
        with torch.no_grad():
            self.anchors.weight.copy_(inverse_sigmoid(torch.cat([xy, wh], 1)))
            nn.init.zeros_(self.box_head[-1].weight)
            nn.init.zeros_(self.box_head[-1].bias)
            prior = 0.1
            self.class_head.bias.fill_(-math.log((1 - prior) / prior))

    @staticmethod
    def normalise(images: torch.Tensor) -> torch.Tensor:
        return (images - 0.45) / 0.25

    def set_capture(self, on: bool) -> None:
        for m in self.modules():
            if isinstance(m, Attention):
                m.capture = on
                m.weights = None

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.config
        feat = self.input_proj(self.backbone(self.normalise(images)))  # (B, d, h, w)
        b, d, h, w = feat.shape
        memory = feat.flatten(2).transpose(1, 2)  # (B, hw, d)
        pos = grid_positions(h, w, d, feat.device)[None]  # (1, hw, d)
        for layer in self.encoder:
            memory = layer(memory, pos)
        tgt = self.query_content.weight[None].expand(b, -1, -1)  # (B, Q, d)
        anchor = self.anchors.weight.sigmoid()[None].expand(b, -1, -1)  # (B, Q, 4)
        all_logits, all_boxes = [], []
        for i, layer in enumerate(self.decoder):
            query_pos = self.query_pos_head(sine_embed(anchor, d // 2))  # (B, Q, d)
            xy_pos = sine_embed(anchor[..., :2], d // 2)  # (B, Q, d): same encoding as the memory positions
            cross_pos = xy_pos if i == 0 else xy_pos * self.cross_scale(tgt)
            tgt = layer(tgt, query_pos, cross_pos, memory, pos)
            boxes = (inverse_sigmoid(anchor) + self.box_head(tgt)).sigmoid()  # (B, Q, 4)
            all_logits.append(self.class_head(tgt))
            all_boxes.append(boxes)
            anchor = boxes.detach()
        return {"logits": torch.stack(all_logits), "boxes": torch.stack(all_boxes), "grid": (h, w)}

    def captured(self) -> dict[str, torch.Tensor | None]:
        """After a forward with capture on: last decoder layer's cross-attention (B, heads, Q, hw) and the
        last encoder layer's self-attention (B, heads, hw, hw)."""
        return {"cross": self.decoder[-1].cross_attn.weights, "encoder": self.encoder[-1].attn.weights}
