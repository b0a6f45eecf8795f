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
        self.title.setText("<b>Top-5 classes</b>" + (f"<br><i>{note}</i>" if note else ""))
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
