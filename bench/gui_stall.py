"""Shared by the stall benchmarks: the largest gap of a 10 ms QTimer heartbeat while a job runs in the worker service."""
from __future__ import annotations

import os
import time
from typing import Callable


def max_heartbeat_gap_ms(job: Callable, *args, warmup_job: Callable | None = None, max_seconds: float = 120.0,
                         **kwargs) -> tuple[float, float]:
    """Run job(ctx, *args) through a WorkerService; return (largest heartbeat gap in ms, job seconds)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.worker_service import WorkerService

    app = QApplication.instance() or QApplication([])
    service = WorkerService("cpu")
    loop = QEventLoop()
    service.torch_ready.connect(lambda _d: loop.quit())
    QTimer.singleShot(int(max_seconds * 1000), loop.quit)
    loop.exec()
    if warmup_job is not None:  # e.g. build the model first, so the measured part is the forward
        done = QEventLoop()
        service.submit(warmup_job, channel="warmup", on_result=lambda _r: done.quit(), on_error=lambda _m: done.quit())
        done.exec()
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000.0)
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(beat)
    finished = QEventLoop()
    errors: list[str] = []
    service.submit(job, *args, channel="bench", on_result=lambda _r: finished.quit(),
                   on_error=lambda m: (errors.append(m), finished.quit()), **kwargs)
    start = time.perf_counter()
    last[0] = start
    heartbeat.start()
    QTimer.singleShot(int(max_seconds * 1000), finished.quit)
    finished.exec()
    elapsed = time.perf_counter() - start
    heartbeat.stop()
    service.shutdown()
    app.processEvents()
    if errors:
        raise RuntimeError(errors[0])
    return (max(gaps) if gaps else float("nan")), elapsed
