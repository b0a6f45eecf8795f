"""The main window: five tabs, menus, the shared current image, status bar, settings."""
from __future__ import annotations

import traceback
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QGuiApplication, QIcon, QImageWriter, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from models.errors import ImageLoadError

from .about import about_html
from .context import AppContext, make_settings
from .device_menu import DEVICE_KEYS, DeviceMenu, menu_key
from .folders import export_start_path, open_start_dir, remember_export, remember_open
from .image_drop import drag_label, plan_from_mime
from .image_io import MAX_WORKING_SIDE, LoadedImage, file_dialog_filter, load_image_file
from .image_loader import ImageLoader
from .samples import sample_images
from .settings_store import read_bytes, read_str, read_str_list
from .status_panel import StatusPanel
from .tabs import TAB_KEYS, load_tab_classes
from .tabs.base import PlaceholderPage, TabPage
from .window_parts import DropOverlay, ErrorBanner

MAX_RECENT = 10


def writable_image_suffixes() -> set[str]:
    return {bytes(f.data()).decode().lower() for f in QImageWriter.supportedImageFormats()}


class MainWindow(QMainWindow):
    image_changed = Signal(object)  # LoadedImage
    load_finished = Signal(bool)  # an open/drop/paste ended: True with a new image, False with a message

    def __init__(self, requested_device: str | None = None, settings=None, load_default_image: bool = True) -> None:
        super().__init__()
        self._load_default = load_default_image
        self.setWindowTitle("Vision Explorer")
        icon = Path(__file__).resolve().parent.parent / "assets" / "icons" / "app.png"
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.setAcceptDrops(True)
        ctx_settings = settings if settings is not None else make_settings()
        device = requested_device or read_str(ctx_settings, "device", "auto", allowed=DEVICE_KEYS)
        self.requested_device = device
        self.ctx = AppContext(device, ctx_settings, self, start_worker=False)  # started once painted
        self.settings = self.ctx.settings
        self.current: LoadedImage | None = None
        self._closing = False
        self._devices_checked = False
        self.loader = ImageLoader(self)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_load_failed)

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
        self.drop_overlay = DropOverlay(central)
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
        self.device_menu = model_menu.addMenu("&Device")
        self.devices = DeviceMenu(self.device_menu, self.requested_device, self.choose_device)
        self.device_actions = self.devices.actions
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
    def set_image(self, loaded: LoadedImage, remember: bool = True) -> None:
        """Make loaded the image of every tab; a file (e.g. from the command line) goes to Open recent."""
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
        if remember and Path(loaded.source).is_file():
            self._add_recent(str(Path(loaded.source).resolve()))
        self.image_changed.emit(loaded)

    def open_path(self, path: str | Path) -> int:
        """Start loading a file as the current image, off the GUI thread (see load_finished).

        The current image stays until the new one is decoded; on failure the banner says why."""
        self.statusBar().showMessage(f"Opening {Path(path).name}…")
        return self.loader.load(partial(load_image_file, path, max_side=MAX_WORKING_SIDE), (True, ()))

    @Slot(object, object)
    def _on_loaded(self, loaded: LoadedImage, context) -> None:
        remember, _fallbacks = context
        self.set_image(loaded, remember=remember)
        self.load_finished.emit(True)

    @Slot(str, object)
    def _on_load_failed(self, message: str, context) -> None:
        _remember, fallbacks = context
        if fallbacks:  # the start-up image: quietly try the next candidate
            self._load_candidates(fallbacks)
            return
        self.show_error(message)
        self.load_finished.emit(False)

    @Slot()
    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", str(open_start_dir(self.settings)),
                                              file_dialog_filter())
        if path:
            remember_open(self.settings, path)
            self.open_path(path)

    @Slot()
    def paste_image(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        self._load_mime(mime, "clipboard")

    def _load_mime(self, mime, what: str) -> None:
        try:
            decode = plan_from_mime(mime, what)  # reads the Qt data here, on the GUI thread
        except ImageLoadError as exc:
            self.show_error(str(exc))
            self.load_finished.emit(False)
            return
        self.statusBar().showMessage(f"Opening the {what}…")
        self.loader.load(decode, (True, ()))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        what = drag_label(event.mimeData())
        if what is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.drop_overlay.show_for(what)

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self.drop_overlay.hide()

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_overlay.hide()
        event.acceptProposedAction()
        self._load_mime(event.mimeData(), "dropped item")

    # ---- recent files -------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        return read_str_list(self.settings, "recent_files", MAX_RECENT)

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

    def export_start_path(self) -> str:
        """Where Export view proposes to save: <tab>.png in Pictures (or the last export folder)."""
        return export_start_path(self.settings, f"{self.current_page().key}.png")

    def ask_save_path(self, title: str, start: str, name_filter: str, suffix: str) -> str:
        """A Save dialog that adds `suffix` to a bare name BEFORE it asks about overwriting."""
        dialog = QFileDialog(self, title, start, name_filter)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix(suffix)
        dialog.selectFile(Path(start).name)
        return dialog.selectedFiles()[0] if dialog.exec() and dialog.selectedFiles() else ""

    @Slot()
    def export_view_dialog(self) -> None:
        path = self.ask_save_path("Export view as PNG", self.export_start_path(), "PNG image (*.png)", "png")
        if path:
            self.export_view(path)

    def export_view(self, path: str | Path) -> bool:
        """Write the current tab to exactly `path` (format from its suffix); never to another file."""
        path = Path(path)
        fmt = path.suffix.lower().lstrip(".")
        if fmt not in writable_image_suffixes():
            self.show_error(f"Nothing was saved: '{path.name}' does not end in an image type "
                            "(.png, .jpg, .bmp, ...). Choose a name ending in .png.")
            return False
        ok = self.current_page().export_widget().grab().save(str(path), fmt.upper())
        if ok:
            remember_export(self.settings, path)
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
            self.devices.check(self.requested_device)  # the entry in use stays checked
            return
        self.requested_device = key
        self.devices.check(key)
        self.settings.setValue("device", key)
        self.ctx.set_device(device)

    @Slot(str)
    def _on_device_changed(self, device: str) -> None:
        if not self._devices_checked:  # the first report comes once torch is loaded
            self._devices_checked = True
            reasons = self.devices.refresh()
            if reasons.get(menu_key(self.requested_device)):  # asked for a device this machine lacks
                self.requested_device = menu_key(device)
                self.devices.check(device)
        for page in self.pages:
            page.on_device_changed(device)

    def about_text(self) -> str:
        return about_html(self.status_panel.device_text)

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(self, "About Vision Explorer", self.about_text())

    @Slot()
    def show_shortcuts(self) -> None:
        text = ("<table>"
                "<tr><td><b>Ctrl+O</b></td><td>Open image</td></tr>"
                "<tr><td><b>Ctrl+V</b></td><td>Paste image</td></tr>"
                "<tr><td><b>Ctrl+S</b></td><td>Export view as PNG</td></tr>"
                "<tr><td><b>Ctrl+1 … Ctrl+6</b></td><td>Go to a tab</td></tr>"
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
        geometry = read_bytes(self.settings, "geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1360, 860)
        last = read_str(self.settings, "last_tab", TAB_KEYS[0], allowed=TAB_KEYS)
        self.tabs.setCurrentIndex(TAB_KEYS.index(last))

    def closeEvent(self, event) -> None:
        if self._closing:
            event.accept()
            return
        if not all(page.confirm_close() for page in self.pages):  # a page keeps unsaved work: ask first
            event.ignore()
            return
        self._closing = True
        self.loader.shutdown()
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
        if self.current is not None or self.loader.is_loading():
            return
        shapes = [str(s.path) for s in sample_images() if s.kind == "shapes"][:1]
        self._load_candidates(tuple(p for p in self.recent_files()[:1] + shapes if Path(p).is_file()))

    def _load_candidates(self, paths: tuple[str, ...]) -> None:
        if paths:
            self.loader.load(partial(load_image_file, paths[0], max_side=MAX_WORKING_SIDE), (False, paths[1:]))
