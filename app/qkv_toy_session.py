"""The worked example of the notes, live (Qt-free): 4 tokens of width 3, Q K^T, scale, softmax, times V.

State: the tokens X (4 x 3, from 4 picked patches or typed in), projections W_q, W_k, W_v (3 x 3) and
Q, K, V (4 x 3). Editing X or a W recomputes Q = X W_q, K = X W_k, V = X W_v; editing Q, K or V
changes only that entry (the projections are a shortcut, not a constraint). ``frame()`` returns every
matrix with its numbers (scores 4 x 4, scaled, softmax, output 4 x 3) as a frozen ToyFrame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.qkv_math import toy_attention

TOKENS, WIDTH = 4, 3
EDITABLE = ("X", "W_q", "W_k", "W_v", "Q", "K", "V")
DEFAULT_X = np.array([[1.0, 0.0, 1.0], [0.0, 2.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 2.0]])
DEFAULT_W = {"W_q": np.eye(3), "W_k": np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]]),
             "W_v": np.array([[0.5, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])}
COLOUR_RANGE = 2.0  # a patch's mean R, G, B maps from 0..255 to -2..2


@dataclass(frozen=True)
class ToyMatrix:
    name: str  # "X", "W_q", ..., "scores", "scaled", "softmax", "output"
    title: str
    values: np.ndarray  # (rows, cols) float64
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    editable: bool


@dataclass(frozen=True)
class ToyFrame:
    matrices: dict  # name -> ToyMatrix, in display order
    use_scale: bool
    explanation: str


def patch_tokens(image: np.ndarray, grid: tuple[int, int], patches: list[tuple[int, int]]) -> np.ndarray:
    """(4, 3): the mean colour of each picked (row, col) patch, R, G, B mapped to [-2, 2]."""
    gh, gw = grid
    h, w = image.shape[:2]
    rows = []
    for r, c in patches:
        cell = image[r * h // gh:(r + 1) * h // gh, c * w // gw:(c + 1) * w // gw].reshape(-1, 3)
        rows.append(cell.astype(np.float64).mean(0) / 255.0 * 2 * COLOUR_RANGE - COLOUR_RANGE)
    return np.round(np.array(rows), 2)


class ToySession:
    def __init__(self) -> None:
        self.m: dict[str, np.ndarray] = {"X": DEFAULT_X.copy(), **{k: v.copy() for k, v in DEFAULT_W.items()}}
        self.use_scale = True
        self.token_names = tuple(f"t{i + 1}" for i in range(TOKENS))
        self.image: np.ndarray | None = None  # the picture the patches come from, and its patch grid
        self.grid: tuple[int, int] | None = None
        self.patches: list[tuple[int, int]] = []  # (row, col) of t1..t4
        self.next_slot = 0  # the token the next picked patch becomes
        self._project()

    # ---- tokens from patches ------------------------------------------------------------------
    def set_picture(self, image: np.ndarray, grid: tuple[int, int]) -> ToyFrame:
        """A new picture: keep the picked patches if they still fit its grid, else four spread ones; tokens follow."""
        self.image, self.grid = image, tuple(grid)
        gh, gw = self.grid
        if len(self.patches) != TOKENS or any(r >= gh or c >= gw for r, c in self.patches):
            self.patches = [(gh // 4, gw // 4), (gh // 4, 3 * gw // 4), (3 * gh // 4, gw // 4), (3 * gh // 4, 3 * gw // 4)]
        return self.set_tokens(patch_tokens(image, self.grid, self.patches))

    def pick_at(self, x: float, y: float) -> ToyFrame | None:
        """Image pixel (x, y) was clicked: its patch becomes the next token (t1, t2, t3, t4, t1, ...)."""
        if self.image is None:
            return None
        gh, gw = self.grid
        h, w = self.image.shape[:2]
        if not (0 <= x < w and 0 <= y < h):
            return None
        self.patches[self.next_slot] = (int(y * gh / h), int(x * gw / w))
        self.next_slot = (self.next_slot + 1) % TOKENS
        return self.set_tokens(patch_tokens(self.image, self.grid, self.patches))

    def patch_rects(self) -> list[tuple[float, float, float, float]]:
        """(x, y, width, height) in image pixels of each picked patch, t1 first (empty without a picture)."""
        if self.image is None:
            return []
        gh, gw = self.grid
        h, w = self.image.shape[:2]
        return [(c * w / gw, r * h / gh, w / gw, h / gh) for r, c in self.patches]

    def _project(self) -> None:
        for name in ("Q", "K", "V"):
            self.m[name] = self.m["X"] @ self.m[f"W_{name.lower()}"]

    def set_tokens(self, x: np.ndarray, names: tuple[str, ...] | None = None) -> ToyFrame:
        x = np.asarray(x, np.float64)
        if x.shape != (TOKENS, WIDTH):
            raise ValueError(f"the toy takes {TOKENS} tokens of width {WIDTH}, got {x.shape}")
        self.m["X"] = x.copy()
        if names:
            self.token_names = tuple(names)
        self._project()
        return self.frame()

    def set_entry(self, name: str, row: int, col: int, value: float) -> ToyFrame:
        """Edit one entry; X and W recompute Q, K, V; Q, K, V change alone. Everything downstream follows."""
        if name not in EDITABLE:
            raise ValueError(f"{name} is computed, not editable")
        if not np.isfinite(value):
            raise ValueError("a matrix entry must be a finite number")
        self.m[name][row, col] = float(value)
        if name in ("X", "W_q", "W_k", "W_v"):
            self._project()
        return self.frame()

    def set_scale(self, on: bool) -> ToyFrame:
        self.use_scale = bool(on)
        return self.frame()

    def frame(self) -> ToyFrame:
        a = toy_attention(self.m["Q"], self.m["K"], self.m["V"], self.use_scale)
        t, dims = self.token_names, ("d1", "d2", "d3")
        sk = "/ sqrt(3)" if self.use_scale else "(not used)"

        def mat(name, title, values, rows, cols, editable=False):
            return name, ToyMatrix(name, title, np.array(values, np.float64), rows, cols, editable)

        items = [
            mat("X", "tokens X (4 x 3)", self.m["X"], t, dims, True),
            mat("W_q", "W_q (3 x 3)", self.m["W_q"], dims, dims, True),
            mat("W_k", "W_k (3 x 3)", self.m["W_k"], dims, dims, True),
            mat("W_v", "W_v (3 x 3)", self.m["W_v"], dims, dims, True),
            mat("Q", "Q = X W_q (4 x 3)", a.q, t, dims, True),
            mat("K", "K = X W_k (4 x 3)", a.k, t, dims, True),
            mat("V", "V = X W_v (4 x 3)", a.v, t, dims, True),
            mat("scores", "scores = Q K^T (4 x 4)", a.scores, t, t),
            mat("scaled", f"scaled = scores {sk}", a.scaled, t, t),
            mat("softmax", "softmax, row by row: the attention weights", a.weights, t, t),
            mat("output", "output = weights V (4 x 3)", a.output, t, dims),
        ]
        top = a.weights.max(1)
        text = (f"Row i of the weights says how much token {t[0][0]}i takes from every token; each row sums to 1. "
                f"Largest weight per row: {', '.join(f'{v:.2f}' for v in top)}. "
                + ("Scaled by 1/sqrt(d_k) = 1/sqrt(3)." if self.use_scale else
                   "No scaling: the softmax sees larger numbers and gets sharper (temperature what-if)."))
        return ToyFrame(dict(items), self.use_scale, text)
