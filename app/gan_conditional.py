"""The GAN image page's class panel (class-conditional runs): the picker ("a star"), a one-class grid and a
one-noise, every-class strip, and the worker jobs that draw them (channel "gan_classes").

Kept out of gan_image_page.py so that page stays a thin layout. The state and the texts live in the Qt-free
GanConditionalSession (app/gan_conditional_session.py); the jobs in models.gan.conditional_job.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, Slot

from models.shapes import SHAPE_CLASSES
from widgets.gan_class_panel import GanClassPanel
from widgets.sample_grid_history import SampleGridHistory

from .context import AppContext
from .gan_conditional_session import GanConditionalSession
from .gan_session import lazy_job

CLASSES_CHANNEL = "gan_classes"


class GanConditional(QObject):
    def __init__(self, ctx: AppContext, samples: SampleGridHistory, run: Callable[[], Any],
                 parent: QObject | None = None):
        """samples: the page's sample grid (a click picks the strip's noise vector); run(): the current run handle."""
        super().__init__(parent)
        self.ctx = ctx
        self.run = run
        self.session = GanConditionalSession()
        self.panel = GanClassPanel()
        self.last_view = None  # the newest ClassView shown
        samples.cell_clicked.connect(self._on_cell)
        self.panel.grid_requested.connect(self._grid)
        self.panel.new_noise_requested.connect(self._new_noise)
        self.panel.strip_requested.connect(self._strip)

    def new_run(self, num_classes: int) -> None:
        """num_classes: the new run's (0: not class-conditional)."""
        self.ctx.worker.cancel(CLASSES_CHANNEL)
        view = self.session.run_ready(num_classes, SHAPE_CLASSES)
        self.panel.set_classes(view.class_names, view.enabled, view.hint)
        self.panel.set_cell(self.session.cell)

    def _submit(self, name: str, *args) -> None:
        run = self.run()
        if run is None or not self.session.conditional:
            return
        self.ctx.worker.submit(lazy_job("models.gan.conditional_job", name), run, *args, channel=CLASSES_CHANNEL,
                               title="Asking G for a class", on_result=self._on_result, on_error=self.ctx.show_error)

    @Slot(int)
    def _on_cell(self, cell: int) -> None:
        self.session.pick_cell(cell)
        self.panel.set_cell(cell)

    @Slot(int)
    def _grid(self, cls: int) -> None:
        self.session.pick_class(cls)
        self._submit("class_grid_job", *self.session.grid_args())

    @Slot(int)
    def _new_noise(self, cls: int) -> None:
        self.session.new_noise()
        self._grid(cls)

    @Slot()
    def _strip(self) -> None:
        self._submit("class_strip_job", *self.session.strip_args())

    def _on_result(self, result) -> None:
        self.last_view = self.session.view(result)
        self.panel.set_result(self.last_view.image, self.last_view.caption)

    def busy(self) -> bool:
        return self.ctx.worker.is_busy(CLASSES_CHANNEL)

    def shutdown(self) -> None:
        self.ctx.worker.cancel(CLASSES_CHANNEL)
