"""The status bar's permanent part: device, GPU memory, and the running task with progress and cancel."""
from __future__ import annotations

import sys

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from .context import AppContext


def task_text(title: str, message: str) -> str:
    """'Title: message', without saying the same thing twice ('Detecting with X: Detecting with X')."""
    title, message = title.strip(), message.strip()
    if not message or message == title or title.startswith(message):
        return title
    if not title or message.startswith(title):
        return message
    return f"{title}: {message}"


class StatusPanel(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._running: dict[int, str] = {}  # request id -> title, in start order
        self._shown_id: int | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)
        self.task_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setFixedWidth(160)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running task (nothing already shown is lost)")
        self.cancel_button.clicked.connect(self._cancel)
        self.device_text = "loading PyTorch…"  # the device alone, e.g. "CPU (2 threads)"
        self.device_label = QLabel(f"Device: {self.device_text}")
        self.memory_label = QLabel()
        for w in (self.task_label, self.progress, self.cancel_button, self.device_label, self.memory_label):
            layout.addWidget(w)
        self._set_task_visible(False)
        ctx.worker.job_started.connect(self._on_started)
        ctx.worker.job_progress.connect(self._on_progress)
        ctx.worker.job_ended.connect(self._on_ended)
        ctx.device_changed.connect(self._on_device)
        self._memory_timer = QTimer(self)
        self._memory_timer.timeout.connect(self.refresh_memory)
        self._memory_timer.start(2000)

    def _set_task_visible(self, visible: bool) -> None:
        for w in (self.task_label, self.progress, self.cancel_button):
            w.setVisible(visible)

    @Slot(int, str)
    def _on_started(self, rid: int, title: str) -> None:
        self._running[rid] = title
        self._show(rid)

    def _show(self, rid: int) -> None:
        self._shown_id = rid
        self.task_label.setText(self._running[rid])
        self.progress.setRange(0, 0)  # busy until the first progress report
        self._set_task_visible(True)

    @Slot(int, object)
    def _on_progress(self, rid: int, progress) -> None:
        if rid != self._shown_id:
            return
        if progress.fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * max(0.0, min(1.0, progress.fraction))))
        if progress.message:
            self.task_label.setText(task_text(self._running.get(rid, ""), progress.message))

    @Slot(int)
    def _on_ended(self, rid: int) -> None:
        self._running.pop(rid, None)
        if rid == self._shown_id:
            if self._running:
                self._show(next(reversed(self._running)))
            else:
                self._shown_id = None
                self._set_task_visible(False)

    @Slot()
    def _cancel(self) -> None:
        if self._shown_id is not None:
            self.ctx.worker.cancel_request(self._shown_id)
            self.task_label.setText(f"{self._running.get(self._shown_id, '')}: cancelling…")

    @Slot(str)
    def _on_device(self, device: str) -> None:
        from models.device import describe_device  # torch is loaded once a device is known

        self.device_text = describe_device(device).label
        self.device_label.setText(f"Device: {self.device_text}")
        self.refresh_memory()

    @Slot()
    def refresh_memory(self) -> None:
        if "torch" not in sys.modules or not self.ctx.torch_loaded:
            return
        from models.device import describe_device

        used = describe_device(self.ctx.device).memory_in_use_mb
        self.memory_label.setText("" if used is None else f"GPU memory: {used:,.0f} MB")
        self.memory_label.setVisible(used is not None)
