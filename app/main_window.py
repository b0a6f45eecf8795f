"""The main window: five tabs, menus, the shared current image, status bar, settings."""
from __future__ import annotations

import traceback
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QDragEnterEvent, QDropEvent, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QPushButton,
                               QTabWidget, QToolButton, QVBoxLayout, QWidget)

from models.errors import ImageLoadError

from .about import about_html
from .context import AppContext, make_settings
from .image_drop import load_from_mime, mime_has_image
from .image_io import MAX_WORKING_SIDE, LoadedImage, file_dialog_filter, load_image_file
from .samples import sample_images
from .status_panel import StatusPanel
from .tabs import TAB_KEYS, load_tab_classes
from .tabs.base import PlaceholderPage, TabPage

MAX_RECENT = 10
DEVICE_CHOICES = (("auto", "Automatic (CUDA, then MPS, then CPU)"), ("cuda", "CUDA GPU"),
                  ("mps", "Apple MPS"), ("cpu", "CPU"))


class ErrorBanner(QWidget):
    """A dismissible red line at the top of the window: errors are visible but never block."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.setStyleSheet("#errorBanner { background: #5c1f1f; } QLabel { color: #ffdede; }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()


class MainWindow(QMainWindow):
    image_changed = Signal(object)  # LoadedImage

    def __init__(self, requested_device: str | None = None, settings=None, load_default_image: bool = True) -> None:
        super().__init__()
        self._load_default = load_default_image
        self.setWindowTitle("Vision Explorer")
        icon = Path(__file__).resolve().parent.parent / "assets" / "icons" / "app.png"
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.setAcceptDrops(True)
        ctx_settings = settings if settings is not None else make_settings()
        device = requested_device or str(ctx_settings.value("device", "auto"))
        self.requested_device = device
        self.ctx = AppContext(device, ctx_settings, self, start_worker=False)  # started once painted
        self.settings = self.ctx.settings
        self.current: LoadedImage | None = None
        self._closing = False

        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.banner = ErrorBanner()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        column.addWidget(self.banner)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.pages: list[TabPage] = []
        for cls in load_tab_classes():
            page = self._make_page(cls)
            self.pages.append(page)
            self.tabs.addTab(page, page.title)
        self.tabs.currentChanged.connect(self._on_tab_changed)

        self.status_panel = StatusPanel(self.ctx)
        self.statusBar().addPermanentWidget(self.status_panel)
        self.ctx.error.connect(self.show_error)
        self.ctx.message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.ctx.device_changed.connect(self._on_device_changed)

        self._build_menus()
        self._restore_settings()

    # ---- construction -------------------------------------------------------------------------
    def _make_page(self, cls: type[TabPage]) -> TabPage:
        """A page whose construction fails becomes a placeholder with the reason: the app keeps running."""
        try:
            return cls(self.ctx)
        except Exception as exc:
            traceback.print_exc()
            page = PlaceholderPage(self.ctx)
            page.key, page.title = cls.key, cls.title
            page._label.setText(f"The {cls.title} tab could not start: {type(exc).__name__}: {exc}")
            return page

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._add_action(file_menu, "&Open image…", self.open_image_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.samples_menu = file_menu.addMenu("&Sample images")
        for sample in sample_images():
            act = self.samples_menu.addAction(QIcon(str(sample.path)), sample.title)
            act.triggered.connect(lambda _=False, p=sample.path: self.open_path(p))
        self._add_action(file_menu, "&Paste image", self.paste_image, QKeySequence.StandardKey.Paste)
        file_menu.addSeparator()
        self._add_action(file_menu, "&Export view as PNG…", self.export_view_dialog, QKeySequence.StandardKey.Save)
        file_menu.addSeparator()
        self._add_action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        view_menu = bar.addMenu("&View")
        for i, page in enumerate(self.pages):
            self._add_action(view_menu, page.title, lambda _=False, i=i: self.tabs.setCurrentIndex(i),
                             QKeySequence(f"Ctrl+{i + 1}"))

        model_menu = bar.addMenu("&Model")
        device_menu = model_menu.addMenu("&Device")
        self.device_group = QActionGroup(self)
        self.device_actions: dict[str, QAction] = {}
        for key, text in DEVICE_CHOICES:
            act = device_menu.addAction(text)
            act.setCheckable(True)
            act.setChecked(key == self.requested_device)
            act.triggered.connect(lambda _=False, k=key: self.choose_device(k))
            self.device_group.addAction(act)
            self.device_actions[key] = act
        model_menu.addSeparator()
        self._add_action(model_menu, "Cancel running tasks", self.ctx.worker.cancel_all)

        help_menu = bar.addMenu("&Help")
        self._add_action(help_menu, "&About Vision Explorer", self.show_about)
        self._add_action(help_menu, "&Keyboard shortcuts", self.show_shortcuts)
        self._refresh_recent_menu()

    def _add_action(self, menu, text, slot, shortcut=None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(shortcut)
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    # ---- the current image --------------------------------------------------------------------
    def set_image(self, loaded: LoadedImage) -> None:
        """Make loaded the image of every tab."""
        self.current = loaded
        self.setWindowTitle(f"{loaded.name} — Vision Explorer")
        self.statusBar().showMessage(loaded.describe(), 6000)
        self.banner.hide()
        pixels = np.ascontiguousarray(loaded.pixels)
        for page in self.pages:
            try:
                page.set_image(pixels)
            except Exception as exc:
                traceback.print_exc()
                self.show_error(f"The {page.title} tab could not take the image: {type(exc).__name__}: {exc}")
        self.image_changed.emit(loaded)

    def open_path(self, path: str | Path) -> bool:
        """Load a file as the current image; on failure show why and keep everything as it was."""
        try:
            loaded = load_image_file(path, max_side=MAX_WORKING_SIDE)
        except ImageLoadError as exc:
            self.show_error(str(exc))
            return False
        self.set_image(loaded)
        self._add_recent(str(Path(path).resolve()))
        return True

    @Slot()
    def open_image_dialog(self) -> None:
        start = str(self.settings.value("last_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open image", start, file_dialog_filter())
        if path:
            self.settings.setValue("last_dir", str(Path(path).parent))
            self.open_path(path)

    @Slot()
    def paste_image(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        self._load_mime(mime, "clipboard")

    def _load_mime(self, mime, what: str) -> bool:
        try:
            loaded = load_from_mime(mime, what)
        except ImageLoadError as exc:
            self.show_error(str(exc))
            return False
        self.set_image(loaded)
        if Path(loaded.source).is_file():
            self._add_recent(str(Path(loaded.source).resolve()))
        return True

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if mime_has_image(event.mimeData()) or event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        event.acceptProposedAction()
        self._load_mime(event.mimeData(), "dropped item")

    # ---- recent files -------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, path: str) -> None:
        files = [path] + [f for f in self.recent_files() if f != path]
        self.settings.setValue("recent_files", files[:MAX_RECENT])
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for path in files:
            act = self.recent_menu.addAction(Path(path).name)
            act.setToolTip(path)
            act.triggered.connect(lambda _=False, p=path: self.open_path(p))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list").triggered.connect(self._clear_recent)
        self.recent_menu.setEnabled(bool(files))

    def _clear_recent(self) -> None:
        self.settings.setValue("recent_files", [])
        self._refresh_recent_menu()

    # ---- export, device, help -----------------------------------------------------------------
    def current_page(self) -> TabPage:
        return self.pages[self.tabs.currentIndex()]

    @Slot()
    def export_view_dialog(self) -> None:
        page = self.current_page()
        start = str(Path(str(self.settings.value("last_dir", str(Path.home())))) / f"{page.key}.png")
        path, _ = QFileDialog.getSaveFileName(self, "Export view as PNG", start, "PNG image (*.png)")
        if path:
            self.export_view(path)

    def export_view(self, path: str | Path) -> bool:
        path = Path(path).with_suffix(".png")
        ok = self.current_page().export_widget().grab().save(str(path), "PNG")
        if ok:
            self.statusBar().showMessage(f"Saved {path}", 5000)
        else:
            self.show_error(f"Could not write {path}: check the folder exists and is writable.")
        return ok

    def choose_device(self, key: str) -> None:
        from models.device import pick_device  # torch is loaded by the time a user picks

        try:
            device = pick_device(key)
        except ValueError as exc:
            self.show_error(str(exc))
            self.device_actions[self.requested_device].setChecked(True)
            return
        self.requested_device = key
        self.settings.setValue("device", key)
        self.ctx.set_device(device)

    @Slot(str)
    def _on_device_changed(self, device: str) -> None:
        for page in self.pages:
            page.on_device_changed(device)

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(self, "About Vision Explorer", about_html(self.status_panel.device_label.text()))

    @Slot()
    def show_shortcuts(self) -> None:
        text = ("<table>"
                "<tr><td><b>Ctrl+O</b></td><td>Open image</td></tr>"
                "<tr><td><b>Ctrl+V</b></td><td>Paste image</td></tr>"
                "<tr><td><b>Ctrl+S</b></td><td>Export view as PNG</td></tr>"
                "<tr><td><b>Ctrl+1 … Ctrl+5</b></td><td>Go to a tab</td></tr>"
                "<tr><td><b>Ctrl+Q</b></td><td>Quit</td></tr></table>"
                "<p>Drop an image file (or an image from a browser) anywhere on the window.</p>")
        QMessageBox.information(self, "Keyboard shortcuts", text)

    @Slot(str)
    def show_error(self, text: str) -> None:
        self.banner.show_message(text)
        self.statusBar().showMessage(text, 10000)

    # ---- tabs, settings, closing --------------------------------------------------------------
    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        if 0 <= index < len(self.pages):
            self.settings.setValue("last_tab", self.pages[index].key)
            self.pages[index].on_shown()

    def select_tab(self, key: str) -> TabPage:
        index = TAB_KEYS.index(key) if key in TAB_KEYS else 0
        self.tabs.setCurrentIndex(index)
        return self.pages[index]

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1360, 860)
        last = str(self.settings.value("last_tab", TAB_KEYS[0]))
        if last in TAB_KEYS:
            self.tabs.setCurrentIndex(TAB_KEYS.index(last))

    def closeEvent(self, event) -> None:
        if self._closing:
            event.accept()
            return
        self._closing = True
        self.settings.setValue("geometry", self.saveGeometry())
        for page in self.pages:
            try:
                page.shutdown()
            except Exception:
                traceback.print_exc()
        self.ctx.worker.shutdown(timeout=2.5)
        self.settings.sync()
        event.accept()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(150, self.ctx.worker.start)  # torch loads after the first paint
        if self.current is None and self._load_default:
            QTimer.singleShot(0, self._load_default_image)

    def _load_default_image(self) -> None:
        """A new user sees something at once: the last image, else the first sample."""
        if self.current is not None:
            return
        for path in self.recent_files()[:1] + [str(s.path) for s in sample_images() if s.kind == "shapes"][:1]:
            if Path(path).is_file():
                try:
                    self.set_image(load_image_file(path, max_side=MAX_WORKING_SIDE))
                    return
                except ImageLoadError:
                    continue
