"""The GAN image page's coverage and latent-space parts: the judge's class histogram of the samples, the
latent strip panel, and the small worker jobs that draw the strips (channel "gan_latent").

Kept out of gan_image_page.py so that page stays a thin layout; it owns two widgets the page places (the
histogram beside the curves, the latent panel under the sample grid) and wires the grid's cell clicks.
No torch here: jobs run in models.gan.latent_job on the worker thread.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from widgets.coverage_histogram import CoverageHistogram
from widgets.latent_strip import LatentPanel
from widgets.sample_grid_history import SampleGridHistory

from .context import AppContext
from .gan_session import JUDGE_FD_HELP, lazy_job

LATENT_CHANNEL = "gan_latent"
COVERAGE_HELP = ("One tall bar, or a shape at 0 for a while: mode collapse. <b>Judge FD</b> (curve): distance of "
                 "the samples' judge features from real sprites'; not FID.")


class GanInsight(QObject):
    def __init__(self, ctx: AppContext, samples: SampleGridHistory, run: Callable[[], Any],
                 parent: QObject | None = None):
        """samples: the page's sample grid (its cell clicks pick noise vectors); run(): the current run handle."""
        super().__init__(parent)
        self.ctx = ctx
        self.samples = samples
        self.run = run
        self.histogram = CoverageHistogram()
        self.help = QLabel(COVERAGE_HELP)
        self.help.setWordWrap(True)
        self.help.setToolTip(JUDGE_FD_HELP)
        self.histogram.setToolTip(self.histogram.toolTip() + "\n\n" + JUDGE_FD_HELP)
        self.help.setStyleSheet("color: #9aa0a6;")
        self.latent = LatentPanel()
        self.last_strip = None  # the newest LatentStrip shown
        samples.cell_clicked.connect(self._on_cell)
        self.latent.interpolate_requested.connect(self._interpolate)
        self.latent.walk_requested.connect(self._walk)

    # ---- layout pieces the page places
    def coverage_row(self, beside: QWidget) -> QHBoxLayout:
        """The histogram and its help text, with `beside` (the curves' explanation) to their right."""
        row, cover = QHBoxLayout(), QVBoxLayout()
        cover.addWidget(self.histogram)
        cover.addWidget(self.help)
        row.addLayout(cover, 1)
        row.addWidget(beside, 1)
        return row

    def side_tabs(self, real_view: QWidget) -> QTabWidget:
        """A real batch or the latent panel; a click on a grid cell shows the latent panel."""
        tabs = QTabWidget()
        tabs.addTab(real_view, "Real batch")
        tabs.addTab(self.latent, "Latent")
        self.samples.cell_clicked.connect(lambda _: tabs.setCurrentWidget(self.latent))
        return tabs

    # ---- from the page
    def new_run(self, grid_samples: int) -> None:
        self.samples.set_cells(grid_samples)
        self.samples.mark_cells([])
        self.histogram.clear()
        self.latent.clear()
        self.ctx.worker.cancel(LATENT_CHANNEL)

    def show_coverage(self, coverage: tuple | None) -> None:
        if coverage is not None:
            self.histogram.set_shares(*coverage)

    # ---- latent jobs
    @Slot(int)
    def _on_cell(self, cell: int) -> None:
        picks = self.latent.pick(cell)
        self.samples.mark_cells(list(picks), ["A", "B"][:len(picks)])

    def _submit(self, name: str, *args) -> None:
        run = self.run()
        if run is None:
            self.ctx.show_message("No GAN run yet: press Start or Reset first.")
            return
        self.ctx.worker.submit(lazy_job("models.gan.latent_job", name), run, *args, channel=LATENT_CHANNEL,
                               title="Latent space", on_result=self._on_strip, on_error=self.ctx.show_error)

    @Slot(int, int, int, str)
    def _interpolate(self, a: int, b: int, steps: int, mode: str) -> None:
        self._submit("interpolation_job", a, b, steps, mode)

    @Slot(int, float, int)
    def _walk(self, a: int, distance: float, seed: int) -> None:
        self._submit("walk_job", a, distance, seed)

    def _on_strip(self, strip) -> None:
        self.last_strip = strip
        self.latent.set_strip(strip.strip, strip.caption)

    def busy(self) -> bool:
        return self.ctx.worker.is_busy(LATENT_CHANNEL)

    def shutdown(self) -> None:
        self.ctx.worker.cancel(LATENT_CHANNEL)
