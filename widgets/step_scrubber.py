"""A timestep scrubber: a slider with play/pause, step buttons and arrow keys.

Positions run from 0 to maximum. While a run is still being computed only the first ``available``
positions can be shown; the handle follows new steps ("live") until the user moves it to an older one,
and follows again once the user brings it back to the newest. With labels, the text beside the slider
is the position's label (the caller names its steps, so the status bar and the scrubber agree).
Dragging the handle pauses playback. Play advances one position per ``interval_ms`` (100 ms, as in
Diffusion Explainer). Keys: Left/Right one step, PageUp/PageDown ten, Home/End, Space play/pause.
"""
from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QWidget


class StepScrubber(QWidget):
    positionChanged = Signal(int)
    playingChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None, interval_ms: int = 100) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._labels: Sequence[str] = ()
        self._available = 0  # positions 0 .. available - 1 can be shown
        self._follow = True
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        style = self.style()
        icons = {"first": QStyle.StandardPixmap.SP_MediaSkipBackward, "prev": QStyle.StandardPixmap.SP_MediaSeekBackward,
                 "play": QStyle.StandardPixmap.SP_MediaPlay, "next": QStyle.StandardPixmap.SP_MediaSeekForward,
                 "last": QStyle.StandardPixmap.SP_MediaSkipForward}
        tips = {"first": "First step (Home)", "prev": "One step back (Left)", "play": "Play / pause (Space)",
                "next": "One step forward (Right)", "last": "Last step (End)"}
        self.buttons: dict[str, QToolButton] = {}
        for name, icon in icons.items():
            b = QToolButton()
            b.setIcon(style.standardIcon(icon))
            b.setToolTip(tips[name])
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.buttons[name] = b
        self.label = QLabel("no run yet")
        self.label.setMinimumWidth(170)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for name in ("first", "prev", "play", "next", "last"):
            layout.addWidget(self.buttons[name])
            if name == "last":
                layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)

        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.buttons["first"].clicked.connect(lambda: self.set_position(0))
        self.buttons["prev"].clicked.connect(lambda: self.step(-1))
        self.buttons["next"].clicked.connect(lambda: self.step(1))
        self.buttons["last"].clicked.connect(lambda: self.set_position(self._available - 1))
        self.buttons["play"].clicked.connect(self.toggle_play)
        self.slider.sliderPressed.connect(self.pause)
        self.slider.valueChanged.connect(self._on_slider)

    # ---- state ------------------------------------------------------------------------------
    def reset(self, maximum: int, labels: Sequence[str] = (), available: int | None = None) -> None:
        """A new run with positions 0..maximum; available: how many are already computed (all if None).
        A finished run (available None) starts at 0; a run still being computed shows its newest step."""
        self.pause()
        self._labels = labels
        self._available = maximum + 1 if available is None else max(1, min(available, maximum + 1))
        self._follow = True
        start = 0 if available is None else self._available - 1
        self.slider.blockSignals(True)
        self.slider.setRange(0, maximum)
        self.slider.setValue(start)
        self.slider.blockSignals(False)
        self._update_label()
        self.positionChanged.emit(start)

    def set_available(self, available: int) -> None:
        """More positions were computed: follow them unless the user moved to an older step."""
        self._available = max(1, min(available, self.maximum() + 1))
        if self._follow and not self.is_playing() and self.position() != self._available - 1:
            self.slider.setValue(self._available - 1)
        else:
            self._update_label()

    def set_labels(self, labels: Sequence[str]) -> None:
        self._labels = labels
        self._update_label()

    def position(self) -> int:
        return self.slider.value()

    def maximum(self) -> int:
        return self.slider.maximum()

    def available(self) -> int:
        return self._available

    def is_playing(self) -> bool:
        return self.timer.isActive()

    # ---- actions -------------------------------------------------------------------------------
    def set_position(self, pos: int) -> None:
        pos = max(0, min(int(pos), self._available - 1, self.maximum()))
        self.slider.setValue(pos)  # emits positionChanged through _on_slider when it changes

    def is_following(self) -> bool:
        return self._follow

    def step(self, delta: int) -> None:
        self.pause()
        self.set_position(self.position() + delta)

    @Slot()
    def toggle_play(self) -> None:
        if self.is_playing():
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if self._available <= 1:
            return
        if self.position() >= self._available - 1:
            self.set_position(0)  # play again from the start
        self.timer.start()
        self.buttons["play"].setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))
        self.playingChanged.emit(True)

    @Slot()
    def pause(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
            self.buttons["play"].setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
            self.playingChanged.emit(False)

    @Slot()
    def _tick(self) -> None:
        if self.position() >= self._available - 1:
            if self._available - 1 >= self.maximum():
                self.pause()
            return  # wait for more steps
        self.slider.setValue(self.position() + 1)

    @Slot(int)
    def _on_slider(self, value: int) -> None:
        if value > self._available - 1:  # dragged past what is computed
            self.slider.setValue(self._available - 1)
            return
        self._follow = value >= self._available - 1  # every move (keys, buttons, drag, play) decides
        self._update_label()
        self.positionChanged.emit(value)

    def _update_label(self) -> None:
        pos, top = self.position(), self.maximum()
        text = self._labels[pos] if 0 <= pos < len(self._labels) else f"step {pos} / {top}"
        pending = " (computing...)" if self._available - 1 < top else ""
        self.label.setText(f"{text}{pending}")

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt naming)
        key = event.key()
        moves = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_PageUp: -10, Qt.Key.Key_PageDown: 10}
        if key in moves:
            self.step(moves[key])
        elif key == Qt.Key.Key_Home:
            self.pause()
            self.set_position(0)
        elif key == Qt.Key.Key_End:
            self.pause()
            self.set_position(self._available - 1)
        elif key == Qt.Key.Key_Space:
            self.toggle_play()
        else:
            super().keyPressEvent(event)
