"""The top-k predicted classes as labelled probability bars (the probabilities come computed: plain values)."""
from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QWidget


class TopKBars(QWidget):
    def __init__(self, k: int = 5, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(2)
        self.title = QLabel("<b>Top-5 classes</b>")
        grid.addWidget(self.title, 0, 0, 1, 2)
        self.note = QLabel("")  # e.g. "no classifier", or why the image is unlike the model's training data
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #8a4b00; background: #fff3d6; padding: 2px;")
        self.note.setVisible(False)
        grid.addWidget(self.note, k + 1, 0, 1, 2)
        self.names: list[QLabel] = []
        self.bars: list[QProgressBar] = []
        for i in range(k):
            name, bar = QLabel(""), QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            bar.setMaximumHeight(16)
            grid.addWidget(name, i + 1, 0)
            grid.addWidget(bar, i + 1, 1)
            self.names.append(name)
            self.bars.append(bar)
        grid.setColumnStretch(1, 1)

    def set_predictions(self, items: list[tuple[str, float]] | None, note: str = "") -> None:
        """Show [(name, probability)]; None shows `note` instead (e.g. 'no classifier')."""
        items = items or []
        if self.note.text() != note:
            self.note.setText(note)
        self.note.setVisible(bool(note))
        for i, (name_label, bar) in enumerate(zip(self.names, self.bars)):
            visible = i < len(items)
            name_label.setVisible(visible)
            bar.setVisible(visible)
            if visible:
                name, prob = items[i]
                name_label.setText(name if len(name) <= 28 else name[:27] + "...")
                name_label.setToolTip(name)
                bar.setValue(int(round(prob * 1000)))
                bar.setFormat(f"{prob * 100:.1f}%")
