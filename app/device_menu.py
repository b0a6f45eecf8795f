"""Model > Device: automatic, CUDA, MPS, CPU. Devices absent here are greyed out, with the reason as tooltip.

Built before torch is loaded (all entries enabled); `refresh()` runs once torch is there and greys out
what this machine lacks. A requested device such as `cuda:1` checks the "CUDA GPU" entry.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

DEVICE_CHOICES = (("auto", "Automatic (CUDA, then MPS, then CPU)"), ("cuda", "CUDA GPU"),
                  ("mps", "Apple MPS"), ("cpu", "CPU"))
DEVICE_KEYS = tuple(k for k, _ in DEVICE_CHOICES)


def menu_key(device: str) -> str:
    """The menu entry of a device string: 'cuda:1' -> 'cuda'; anything unknown -> 'auto'."""
    base = str(device).split(":")[0]
    return base if base in DEVICE_KEYS else "auto"


class DeviceMenu:
    """The actions of the Device submenu and their enabled state."""

    def __init__(self, menu: QMenu, checked: str, on_choose: Callable[[str], None]) -> None:
        self.group = QActionGroup(menu)
        self.actions: dict[str, QAction] = {}
        for key, text in DEVICE_CHOICES:
            act = menu.addAction(text)
            act.setCheckable(True)
            act.triggered.connect(lambda _=False, k=key: on_choose(k))
            self.group.addAction(act)
            self.actions[key] = act
        menu.setToolTipsVisible(True)
        self.check(checked)

    def check(self, device: str) -> None:
        self.actions[menu_key(device)].setChecked(True)

    def refresh(self) -> dict[str, str | None]:
        """Grey out the devices this machine lacks (needs torch). Returns key -> reason (None: usable)."""
        from models.device import unavailable_reason

        reasons: dict[str, str | None] = {"auto": None}
        for key in DEVICE_KEYS[1:]:
            reasons[key] = unavailable_reason(key)
        for key, act in self.actions.items():
            why = reasons[key]
            act.setEnabled(why is None)
            act.setToolTip(f"Not available: {why}" if why else "")
        return reasons
