"""Entry point: `vision-explorer` or `python -m app [IMAGE] [--tab T] [--device D] [--screenshot DIR]`.

Only Qt is imported before the window appears; torch loads on the worker thread afterwards.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

_PROCESS_START = time.time()

TAB_CHOICES = ("attention", "patches", "detection", "gan", "diffusion", "compare")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="vision-explorer", description="See how modern vision models work.")
    p.add_argument("image", nargs="?", help="an image to open")
    p.add_argument("--tab", choices=TAB_CHOICES, help="the tab to show (with --screenshot: the only one saved)")
    p.add_argument("--view", help="a sub-view of --tab (e.g. --tab attention --view qkv); with --screenshot "
                   "the file is DIR/<tab>-<view>.png")
    p.add_argument("--device", help="auto, cuda, cuda:N, mps or cpu (default: the saved choice, else auto)")
    p.add_argument("--screenshot", metavar="DIR", help="save DIR/<tab>.png for every tab (or --tab), then exit")
    p.add_argument("--exit-after-first-paint", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not has_display():
        print("vision-explorer: no display found (DISPLAY is not set): run it on a desktop, under Xvfb "
              "(xvfb-run make run), or with QT_QPA_PLATFORM=offscreen for --screenshot.", file=sys.stderr)
        return 1
    loaded = None
    if args.image:
        from models.errors import ImageLoadError

        from .image_io import MAX_WORKING_SIDE, load_image_file

        try:
            loaded = load_image_file(args.image, max_side=MAX_WORKING_SIDE)
        except ImageLoadError as exc:
            print(f"vision-explorer: {exc}", file=sys.stderr)
            return 2

    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from .gc_guard import collect_on_gui_thread

    collect_on_gui_thread()  # garbage holding Qt objects must never be collected on a worker thread
    app.setApplicationName("Vision Explorer")
    app.setOrganizationName("VisionExplorer")
    from pathlib import Path as _Path

    from PySide6.QtGui import QIcon

    app.setWindowIcon(QIcon(str(_Path(__file__).resolve().parent.parent / "assets" / "icons" / "app.png")))

    from .main_window import MainWindow

    window = MainWindow(requested_device=args.device, load_default_image=loaded is None and not args.screenshot)
    from .gc_guard import freeze_startup_objects

    window.ctx.worker.torch_ready.connect(lambda _device: freeze_startup_objects())  # no 0.4 s full collections
    if loaded is not None:
        window.set_image(loaded)
    if args.view and not args.tab:
        print("vision-explorer: --view needs --tab", file=sys.stderr)
        return 2
    if args.tab:
        page = window.select_tab(args.tab)
        if args.view:
            try:
                page.show_view(args.view)
            except ValueError as exc:
                print(f"vision-explorer: {exc}", file=sys.stderr)
                return 2

    if args.exit_after_first_paint:
        class FirstPaint(QObject):
            def eventFilter(self, obj, event):  # noqa: N802 (Qt name)
                if event.type() == QEvent.Type.Paint and not getattr(self, "done", False):
                    self.done = True
                    print(f"first-paint {time.time():.6f} {time.time() - _PROCESS_START:.6f}", flush=True)
                    QTimer.singleShot(0, window.close)
                    QTimer.singleShot(0, app.quit)
                return False

        watcher = FirstPaint()
        window.installEventFilter(watcher)

    window.show()
    if args.screenshot:
        from pathlib import Path

        from .screenshot import ScreenshotRunner, screenshot_keys

        runner = ScreenshotRunner(window, Path(args.screenshot), screenshot_keys(args.tab), view=args.view)
        runner.start()
    code = app.exec()
    # Loads run on daemon loader threads and the job thread is a daemon: a load still waiting on the
    # network, or a job that ignores its cancel flag, cannot keep the process alive, so no os._exit.
    window.ctx.worker.shutdown(timeout=2.5)
    return code


if __name__ == "__main__":
    sys.exit(main())
