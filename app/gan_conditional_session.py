"""The Qt-free session of the GAN tab's class panel (class-conditional runs): what to ask G for, and the
render-ready views of its answers.

A learner picks a class ("a star") and asks for many of them (one class, many noise vectors: a grid), or
clicks a cell of the sample grid and sees that noise vector drawn as every class (a strip). The jobs live in
models.gan.conditional_job; their results (ClassImages: numpy and plain values) become ClassView here.
Nothing here imports Qt or torch.
"""
from __future__ import annotations

from dataclasses import dataclass
import numpy as np

GRID_COUNT = 16  # noise vectors in a one-class grid (4 x 4)
NOT_CONDITIONAL_HINT = ("This run is not class-conditional: it draws whatever shape its noise leads to. Load the "
                        "bundled conditional run (or tick 'Class-conditional' and Start) to ask for a shape.")
CONDITIONAL_HINT = ("G gets a class as well as noise. 'Many of it' draws the chosen shape from "
                    f"{GRID_COUNT} noise vectors; 'Every class' draws one noise vector (click a grid cell) as each "
                    "class: the noise sets colour, size and pose, the class sets the shape.")


def plural(name: str) -> str:
    return name + ("es" if name.endswith(("s", "x", "sh", "ch")) else "s")


@dataclass(frozen=True)
class ClassPanelView:
    enabled: bool  # the run is class-conditional
    class_names: tuple[str, ...]  # the classes offered by the picker (empty when not conditional)
    hint: str


@dataclass(frozen=True)
class ClassView:
    """A class strip or a one-class grid, ready to draw."""

    image: np.ndarray  # (H, W, 3) uint8
    caption: str
    agreement: float | None  # share of images the judge names as the class asked for (None: no judge)


class GanConditionalSession:
    def __init__(self) -> None:
        self.class_names: tuple[str, ...] = ()
        self.cell = 0  # the grid cell whose noise the strip uses
        self.cls = 0  # the class the grid asks for
        self.seed = 0  # the noise seed of the grid; "New noise" moves it on

    @property
    def conditional(self) -> bool:
        return bool(self.class_names)

    def run_ready(self, num_classes: int, class_names: tuple[str, ...]) -> ClassPanelView:
        """num_classes: the new run's (0: unconditional); class_names: the data's class names, in label order."""
        k = int(num_classes)
        self.class_names = tuple(class_names[:k]) if k else ()
        self.cell, self.cls, self.seed = 0, min(self.cls, max(k - 1, 0)), 0
        return ClassPanelView(bool(k), self.class_names, CONDITIONAL_HINT if k else NOT_CONDITIONAL_HINT)

    # ---- what the next job asks for
    def pick_cell(self, cell: int) -> None:
        self.cell = int(cell)

    def pick_class(self, index: int) -> None:
        if not 0 <= index < len(self.class_names):
            raise ValueError(f"no class {index} in {self.class_names}")
        self.cls = int(index)

    def new_noise(self) -> None:
        self.seed += 1

    def strip_args(self) -> tuple[int]:
        return (self.cell,)

    def grid_args(self) -> tuple[int, int, int]:
        return self.cls, GRID_COUNT, self.seed

    # ---- results -> views
    def view(self, result) -> ClassView:
        """result: a models.gan.conditional_job.ClassImages."""
        asked = [result.class_names[c] for c in result.classes]
        agreement = None
        if result.judged:
            agreement = float(np.mean([a == j for a, j in zip(asked, result.judged)]))
        if result.kind == "classes":
            caption = f"Cell {self.cell + 1}'s noise drawn as every class ({', '.join(result.class_names)}), step {result.step:,}."
            if agreement is not None:
                hits = sum(a == j for a, j in zip(asked, result.judged))
                caption += f" The judge agrees on {hits} of {len(asked)}."
        else:
            name = plural(result.class_names[result.classes[0]])
            caption = f"{len(asked)} {name} asked for (noise #{self.seed}), step {result.step:,}."
            if agreement is not None:
                hits = sum(a == j for a, j in zip(asked, result.judged))
                caption += f" The judge calls {hits} of them {name}."
        return ClassView(result.mosaic, caption, agreement)
