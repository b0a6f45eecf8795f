"""Foundation benchmarks: start-up to first paint, and GUI responsiveness while torch works."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from .gui_stall import max_heartbeat_gap_ms


def startup_first_paint_s(repeats: int = 3) -> dict:
    """Process start to the first painted main window (median of a few runs, offscreen)."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    env["VISION_EXPLORER_SETTINGS"] = os.path.join("/tmp", f"ve-bench-{os.getpid()}.ini")
    values = []
    for _ in range(repeats):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-m", "app", "--exit-after-first-paint"], env=env,
                             capture_output=True, text=True, timeout=60)
        line = next((l for l in out.stdout.splitlines() if l.startswith("first-paint")), None)
        if line is None:
            raise RuntimeError(f"no first paint reported: {out.stderr[-500:]}")
        values.append(float(line.split()[1]) - t0)
    values.sort()
    return {"name": "startup_first_paint_s", "value": round(values[len(values) // 2], 3), "unit": "s",
            "target": "<= 2.0"}


def _cpu_heavy_job(ctx, seconds: float = 4.0):
    """Convolutions in a loop for a few seconds, checking cancel between steps like a real model."""
    import torch

    net = torch.nn.Sequential(*[torch.nn.Conv2d(64, 64, 3, padding=1) for _ in range(4)])
    x = torch.randn(4, 64, 96, 96)
    end = time.perf_counter() + seconds
    steps = 0
    with torch.no_grad():
        while time.perf_counter() < end:
            for layer in net:
                x = torch.tanh(layer(x))
                ctx.check_cancelled()
            steps += 1
            if steps % 5 == 0:
                from models.jobs import Progress
                yield Progress(None, f"{steps} steps")
    return steps


def gui_max_stall_ms() -> dict:
    gap, _ = max_heartbeat_gap_ms(_cpu_heavy_job, 4.0)
    return {"name": "gui_max_stall_ms", "value": round(gap, 1), "unit": "ms", "target": "<= 50"}


BENCHMARKS = {"startup_first_paint_s": startup_first_paint_s, "gui_max_stall_ms": gui_max_stall_ms}
