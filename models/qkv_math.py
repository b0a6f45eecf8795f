"""Scaled dot-product attention for ONE query, step by step, in numpy (no torch): the numbers the Q/K/V
views print. Inputs are the model's own q, K, V (captured from hooks, see models/vit/qkv.py and
models/detection/qkv.py); nothing here re-derives them. float64 throughout, so the printed weights
match the captured float32 attention to ~1e-7.

    scores = K q            (N,)
    scaled = scores * scale  (scale = 1 / sqrt(d_k); the temperature toggle skips it)
    weights = softmax(scaled)
    output = weights V       (d_k,)
    multi-head: concat(output_h for every head) (D,) -> W_o -> + b_o
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    z = np.asarray(x, np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


@dataclass(frozen=True)
class HeadStep:
    """One head, one query."""

    q: np.ndarray  # (d_k,)
    k: np.ndarray  # (N, d_k)
    v: np.ndarray  # (N, d_k)
    scores: np.ndarray  # (N,) q . k_j
    scaled: np.ndarray  # (N,) scores * scale
    weights: np.ndarray  # (N,) softmax of `scaled` (or of `scores` when unscaled)
    output: np.ndarray  # (d_k,) weights @ v
    scale: float
    use_scale: bool


def head_step(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, use_scale: bool = True) -> HeadStep:
    q64, k64, v64 = (np.asarray(a, np.float64) for a in (q, k, v))
    scores = k64 @ q64  # (N,)
    scaled = scores * scale
    weights = softmax(scaled if use_scale else scores)
    return HeadStep(q64, k64, v64, scores, scaled, weights, weights @ v64, float(scale), use_scale)


@dataclass(frozen=True)
class MultiHeadStep:
    """Every head for the same query, then concat and W_o."""

    weights: np.ndarray  # (heads, N)
    outputs: np.ndarray  # (heads, d_k)
    concat: np.ndarray  # (D,) = outputs.reshape(-1), head h in slice h*d_k:(h+1)*d_k
    projected: np.ndarray  # (D,) concat @ w_o.T + b_o


def multi_head_step(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, w_o: np.ndarray, b_o: np.ndarray,
                    use_scale: bool = True) -> MultiHeadStep:
    """q (heads, d_k), k and v (heads, N, d_k), w_o (D, D), b_o (D,). Batched float32 products (a new query
    on ViT-B/16 costs well under a millisecond), softmax and sums in float64."""
    q32 = np.asarray(q, np.float32)
    scores = np.matmul(np.asarray(k, np.float32), q32[:, :, None])[:, :, 0].astype(np.float64)  # (heads, N)
    weights = softmax(scores * scale if use_scale else scores)
    outputs = np.matmul(weights[:, None, :].astype(np.float32), np.asarray(v, np.float32))[:, 0].astype(np.float64)
    concat = outputs.reshape(-1)  # (D,)
    projected = np.asarray(w_o, np.float32) @ concat.astype(np.float32) + np.asarray(b_o, np.float32)
    projected = projected.astype(np.float64)
    return MultiHeadStep(weights, outputs, concat, projected)


@dataclass(frozen=True)
class ToyAttention:
    """The notes' worked example: every matrix of softmax(Q K^T / sqrt(d_k)) V."""

    q: np.ndarray  # (T, d)
    k: np.ndarray  # (T, d)
    v: np.ndarray  # (T, d)
    scores: np.ndarray  # (T, T) Q K^T
    scaled: np.ndarray  # (T, T) / sqrt(d_k)
    weights: np.ndarray  # (T, T) row softmax, rows sum to 1
    output: np.ndarray  # (T, d) weights V


def toy_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, use_scale: bool = True) -> ToyAttention:
    q64, k64, v64 = (np.asarray(a, np.float64) for a in (q, k, v))
    scores = q64 @ k64.T
    scaled = scores / np.sqrt(q64.shape[1])
    weights = softmax(scaled if use_scale else scores, axis=-1)
    return ToyAttention(q64, k64, v64, scores, scaled, weights, weights @ v64)


def entropy_bits(weights: np.ndarray) -> float:
    """How spread a weight vector is: 0 bits = all on one token, log2(N) = uniform."""
    w = np.asarray(weights, np.float64)
    w = w[w > 0]
    return float(-(w * np.log2(w)).sum())
