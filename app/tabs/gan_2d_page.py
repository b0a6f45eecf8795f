"""The 2-D page of the GAN tab (as in GAN Lab): a tiny GAN learns a point cloud while D's map, the points and
G's gradients are drawn live. A thin Qt page over Toy2DSession (app/gan_toy_session.py); training runs as
models.gan.toy2d.toy_job in the worker service (channel "gan2d"). Imported only by gan_tab.py.
"""
from __future__ import annotations

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QRadioButton, QVBoxLayout, QWidget)

from models.gan.control import TrainingControl
from models.gan.toy2d import toy_job
from widgets.gan_toy2d_view import Toy2DView
from widgets.live_curves import LiveCurves

from ..context import AppContext
from ..gan_toy_session import (DRAWN, SLOW_INTERVAL_MS, Toy2DSession, ToyView, TrainMode, data_choices, loss_choices,
                               status_text)

CHANNEL = "gan2d"
SCREENSHOT_ITERATIONS = 1500
WHAT_TOY = ("<b>What am I looking at?</b> Green points are real data, purple points are G's samples. The background "
            "is D's belief: red where it says 'real', blue where it says 'fake'. White lines show where G's gradient "
            "pushes each sample: uphill on D's map. Train only D to watch the map sharpen, only G to watch points slide.")


class Gan2DPage(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.session = Toy2DSession()
        self.control = TrainingControl(min_update_interval_s=1 / 30)
        self._slow_timer = QTimer(self)
        self._slow_timer.setInterval(SLOW_INTERVAL_MS)
        self._slow_timer.timeout.connect(self._slow_tick)

        self.data = QComboBox()
        for title, key in data_choices():
            self.data.addItem(title, key)
        self.loss = QComboBox()
        for title, key in loss_choices():
            self.loss.addItem(title, key)
        self.mode_buttons = {TrainMode.BOTH: QRadioButton("Train both"), TrainMode.D_ONLY: QRadioButton("D only"),
                             TrainMode.G_ONLY: QRadioButton("G only")}
        self.mode_buttons[TrainMode.BOTH].setChecked(True)
        modes = QButtonGroup(self)
        for b in self.mode_buttons.values():
            modes.addButton(b)
            b.toggled.connect(self._mode_changed)
        self.slow = QCheckBox("Slow motion (5 steps per second)")
        self.slow.toggled.connect(self._mode_changed)
        self.play_btn = QPushButton("Play")
        self.play_btn.clicked.connect(self.toggle)
        self.step_btn = QPushButton("Step")
        self.step_btn.setToolTip("One training iteration")
        self.step_btn.clicked.connect(self.single)
        self.reset_btn = QPushButton("Reset")
        self.reset_btn.clicked.connect(self.reset_run)
        self.draw = QCheckBox("Draw real points (click the view)")
        self.draw.toggled.connect(self._draw_toggled)
        self.clear_btn = QPushButton("Clear drawing")
        self.data.currentIndexChanged.connect(self.reset_run)
        self.loss.currentIndexChanged.connect(self.reset_run)
        self.status = QLabel(status_text(0, 0.0, 0.0))
        self.status.setWordWrap(True)

        box = QGroupBox("2-D GAN")
        f = QVBoxLayout(box)
        f.addWidget(QLabel("Real data"))
        f.addWidget(self.data)
        f.addWidget(self.draw)
        f.addWidget(self.clear_btn)
        f.addWidget(QLabel("Loss"))
        f.addWidget(self.loss)
        for b in (*self.mode_buttons.values(), self.slow):
            f.addWidget(b)
        row = QHBoxLayout()
        for b in (self.play_btn, self.step_btn, self.reset_btn):
            row.addWidget(b)
        f.addLayout(row)
        f.addWidget(self.status)
        f.addStretch(1)
        box.setMaximumWidth(300)

        self.view = Toy2DView()
        self.clear_btn.clicked.connect(self._clear_drawn)
        self.view.point_added.connect(self._point_added)
        self.view.visible_rect_changed.connect(self._visible_rect_changed)
        self.curves = LiveCurves(max_fps=15, show_controls=False, smoothing=0.9, x_label="iteration")
        self.curves.add_series("D loss", plot="2-D losses", color=(234, 67, 53))
        self.curves.add_series("G loss", plot="2-D losses", color=(66, 133, 244))
        self.curves.setMaximumHeight(170)
        what = QLabel(WHAT_TOY)
        what.setWordWrap(True)
        right = QVBoxLayout()
        right.addWidget(self.view, 1)
        right.addWidget(self.curves)
        right.addWidget(what)
        h = QHBoxLayout(self)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(box)
        h.addLayout(right, 1)

    def mode(self) -> TrainMode:
        return next(m for m, b in self.mode_buttons.items() if b.isChecked())

    # ---- run control
    @Slot()
    def reset_run(self, *args) -> None:
        self.halt()
        self.session.set_visible_rect(*self.view.visible_rect())
        shown = self.session.reset(self.data.currentData(), self.loss.currentData(), self.view.drawn_points())
        if isinstance(shown, str):
            self.status.setText(shown)
            return
        self.curves.clear()
        self._show(shown)

    def ensure_run(self) -> None:
        if self.session.toy is None:
            self.reset_run()

    def halt(self) -> None:
        self.control.request_pause()
        self.ctx.worker.cancel(CHANNEL)
        self._slow_timer.stop()
        self.session.halt()
        self.play_btn.setText("Play")

    def _play(self) -> None:
        self.session.play()
        self.session.slow = self.slow.isChecked()
        self.play_btn.setText("Pause")
        if self.session.slow:
            self._slow_timer.start()
            self._slow_tick()
        else:
            self._submit()

    def _submit(self, max_iterations: int | None = None) -> None:
        self.ensure_run()
        if self.session.toy is None:
            return
        self.control.clear()
        self.session.submitted()
        self.ctx.worker.submit(toy_job, self.session.toy, self.control, self.mode().value,
                               max_iterations=max_iterations, channel=CHANNEL, title="Training the 2-D GAN",
                               on_partial=self._on_frame, on_result=self._on_ended, on_error=self._on_error)

    @Slot()
    def _slow_tick(self) -> None:
        if not self.session.job_active:  # one iteration per tick, each shown
            self._submit(max_iterations=1)

    @Slot()
    def toggle(self) -> None:
        """Play / Pause."""
        if self.session.running:
            self.halt()
        else:
            self._play()

    @Slot()
    def single(self) -> None:
        self.halt()
        self._submit(max_iterations=1)

    @Slot()
    def _mode_changed(self, *args) -> None:
        if self.session.running:  # restart with the new mode / speed; the model is kept
            self.halt()
            self._play()

    def _on_ended(self, iteration) -> None:
        self.session.job_ended(paused=self.control.pause_requested)
        if not self.session.running:
            self.play_btn.setText("Play")

    def _on_error(self, message: str) -> None:
        self.halt()
        self.status.setText(message)

    def _on_frame(self, frame) -> None:
        self._show(self.session.view(frame))

    def _show(self, v: ToyView) -> None:
        self.view.show_frame(v.real, v.fake, v.arrows, v.heatmap, v.extent, v.rect)
        if v.curve_point is not None:
            self.curves.append(*v.curve_point)
        self.status.setText(v.status)

    @Slot(float, float, float, float)
    def _visible_rect_changed(self, x0: float, x1: float, y0: float, y1: float) -> None:
        shown = self.session.set_visible_rect(x0, x1, y0, y1)
        if shown is not None:
            self._show(shown)

    # ---- drawing real points
    @Slot(bool)
    def _draw_toggled(self, on: bool) -> None:
        self.view.set_drawing(on)
        if on and self.data.currentData() != DRAWN:
            self.data.setCurrentIndex(self.data.findData(DRAWN))

    @Slot()
    def _clear_drawn(self) -> None:
        self.view.clear_drawn()
        if self.data.currentData() == DRAWN:
            self.reset_run()

    @Slot(float, float)
    def _point_added(self, x: float, y: float) -> None:
        message = self.session.drawn_message(len(self.view.drawn_points()))
        if message:
            self.status.setText(message)
        elif not self.session.running:
            self.reset_run()

    def prepare_screenshot(self) -> None:
        """A fresh run trained SCREENSHOT_ITERATIONS iterations: the points have moved, D's map has a shape."""
        self.reset_run()
        self._submit(max_iterations=SCREENSHOT_ITERATIONS)

    def is_busy(self) -> bool:
        return self.session.job_active

    def shutdown(self) -> None:
        self._slow_timer.stop()
        self.control.request_stop()
        self.ctx.worker.cancel(CHANNEL)
