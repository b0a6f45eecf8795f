"""Calibration of a classifier's confidence: expected calibration error and temperature scaling.

ECE (Guo et al. 2017): sort predictions into equal-width confidence bins; the error is the sample-weighted
mean of |accuracy - mean confidence| over the bins. Temperature scaling divides the logits by one T > 0
fitted to minimise the negative log-likelihood on held-out data (it never changes the predicted class).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """probs (N, K), labels (N,) -> ECE in [0, 1]."""
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)  # (N,) bin of each prediction
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def fit_temperature(logits: np.ndarray, labels: np.ndarray, steps: int = 200) -> float:
    """The T > 0 minimising the NLL of softmax(logits / T) on (logits (N, K), labels (N,))."""
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.long)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)
