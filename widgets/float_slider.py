"""A labelled decimal slider whose arrow keys and PgUp/PgDn work.

superqt's `QLabeledDoubleSlider` (0.9.0) drops arrow keys and PgUp/PgDn (even `triggerAction`), so every
decimal slider of the app is this one: an integer `QSlider` mapped onto the float range, with an editable
`QDoubleSpinBox` beside it. Its methods are the ones the app used on `QLabeledDoubleSlider`, so it is a
drop-in replacement: setRange, setValue, value, setDecimals, setSingleStep, setPageStep, valueChanged(float).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSlider, QWidget


class FloatSlider(QWidget):
    valueChanged = Signal(float)

    def __init__(self, orientation: Qt.Orientation = Qt.Orientation.Horizontal,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lo, self._hi = 0.0, 1.0
        self._step = 0.01  # one arrow key press
        self._page = 0.1  # one PgUp/PgDn press
        self._value = 0.0
        self.slider = QSlider(orientation)
        self.slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.spin = QDoubleSpinBox()
        self.spin.setKeyboardTracking(False)
        self.spin.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
        self.spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.setFocusProxy(self.slider)
        self.setDecimals(2)
        self._sync_ranges()
        self.slider.valueChanged.connect(self._on_slider)
        self.spin.valueChanged.connect(self._on_spin)

    # -- the QLabeledDoubleSlider methods the app uses ------------------------------------------------
    def setRange(self, lo: float, hi: float) -> None:  # noqa: N802 (Qt name)
        self._lo, self._hi = float(lo), float(max(hi, lo))
        self._sync_ranges()
        self.setValue(self._value)

    def setMinimum(self, lo: float) -> None:  # noqa: N802
        self.setRange(lo, self._hi)

    def setMaximum(self, hi: float) -> None:  # noqa: N802
        self.setRange(self._lo, hi)

    def minimum(self) -> float:
        return self._lo

    def maximum(self) -> float:
        return self._hi

    def setDecimals(self, decimals: int) -> None:  # noqa: N802
        self.spin.setDecimals(int(decimals))
        self._step = max(self._step, 10.0 ** -int(decimals))
        self._sync_ranges()

    def setSingleStep(self, step: float) -> None:  # noqa: N802
        self._step = float(step)
        self._page = max(self._page, self._step)
        self._sync_ranges()

    def setPageStep(self, step: float) -> None:  # noqa: N802
        self._page = float(step)
        self._sync_ranges()

    def singleStep(self) -> float:  # noqa: N802
        return self._step

    def value(self) -> float:
        return self._value

    def setValue(self, value: float) -> None:  # noqa: N802
        value = min(max(float(value), self._lo), self._hi)
        changed = abs(value - self._value) > 1e-12
        self._value = value
        self._show(value)
        if changed:
            self.valueChanged.emit(value)

    def setToolTip(self, text: str) -> None:  # noqa: N802
        super().setToolTip(text)
        self.slider.setToolTip(text)
        self.spin.setToolTip(text)

    # -- internals --------------------------------------------------------------------------------------
    def _ticks(self) -> int:
        span = self._hi - self._lo
        return max(1, round(span / self._step)) if self._step > 0 else 100

    def _sync_ranges(self) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, self._ticks())
        self.slider.setSingleStep(1)
        self.slider.setPageStep(max(1, round(self._page / self._step)))
        self.slider.blockSignals(False)
        self.spin.blockSignals(True)
        self.spin.setRange(self._lo, self._hi)
        self.spin.setSingleStep(self._step)
        self.spin.blockSignals(False)
        self._show(self._value)

    def _show(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round((value - self._lo) / (self._hi - self._lo) * self._ticks())
                             if self._hi > self._lo else 0)
        self.slider.blockSignals(False)
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)

    @Slot(int)
    def _on_slider(self, tick: int) -> None:
        value = self._lo + (self._hi - self._lo) * tick / self._ticks()
        self.setValue(round(value, self.spin.decimals()))

    @Slot(float)
    def _on_spin(self, value: float) -> None:
        self.setValue(value)


def decimal_slider(lo: float, hi: float, value: float) -> FloatSlider:
    """A two-decimal slider from lo to hi: arrow keys step 0.01, PgUp/PgDn 0.1."""
    slider = FloatSlider(Qt.Orientation.Horizontal)
    slider.setRange(lo, hi)
    slider.setDecimals(2)
    slider.setSingleStep(0.01)
    slider.setPageStep(0.1)
    slider.setValue(value)
    return slider
