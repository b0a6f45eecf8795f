"""What every tab page gets: the worker service, settings, the current device and shared services."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, QSettings, Signal, Slot

from .worker_service import WorkerService


def make_settings() -> QSettings:
    """Settings in the user's config (or in $VISION_EXPLORER_SETTINGS, an ini file: tests use this)."""
    path = os.environ.get("VISION_EXPLORER_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("VisionExplorer", "Vision Explorer")


class AppContext(QObject):
    """Shared by all tabs. Lives on the GUI thread."""

    device_changed = Signal(str)
    message = Signal(str, int)  # text for the status bar, timeout ms (0: until replaced)
    error = Signal(str)  # a clear message the window shows in a dialog-free banner/status line

    def __init__(self, requested_device: str = "auto", settings: QSettings | None = None,
                 parent: QObject | None = None, start_worker: bool = True) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else make_settings()
        self.worker = WorkerService(requested_device, self, start=start_worker)
        self.worker.error_message.connect(self.error)
        self.worker.torch_ready.connect(self._on_torch_ready)
        self._device = "cpu"
        self.torch_loaded = False
        self._services: dict[str, Any] = {}

    @property
    def device(self) -> str:
        return self._device

    def set_device(self, device: str) -> None:
        if device == self._device:
            return
        self._device = device
        self.worker.device = device
        self.device_changed.emit(device)

    @Slot(str)
    def _on_torch_ready(self, device: str) -> None:
        self.torch_loaded = True
        self._device = device
        self.device_changed.emit(device)

    def show_error(self, text: str) -> None:
        self.error.emit(text)

    def show_message(self, text: str, timeout_ms: int = 4000) -> None:
        self.message.emit(text, timeout_ms)

    def export_path(self, filename: str) -> str:
        """What a tab's Save/Export dialog should propose: `filename` in the user's Pictures folder
        (or the folder of the last export), never inside the install."""
        from .folders import export_start_path

        return export_start_path(self.settings, filename)

    def remember_export(self, path: str) -> None:
        """Call after writing an export: the next export dialog starts in its folder."""
        from .folders import remember_export

        remember_export(self.settings, path)

    def runs_path(self, filename: str = "") -> str:
        """Where a run/checkpoint Save or Open dialog should start: `filename` in the folder of the last run
        file, else the user's Documents (app/folders.py); the folder itself when filename is empty."""
        from .folders import runs_start_dir

        folder = runs_start_dir(self.settings)
        return str(folder / Path(filename).name) if filename else str(folder)

    def remember_runs(self, path: str) -> None:
        """Call after a run file was saved or chosen: the next run dialog starts in its folder."""
        from .folders import remember_runs

        remember_runs(self.settings, path)

    def service(self, name: str, factory: Callable[[], Any]) -> Any:
        """One shared object per name, made on first use (e.g. the ViT session two tabs share)."""
        if name not in self._services:
            self._services[name] = factory()
        return self._services[name]
