"""One column of the Compare tab: a model picker, the top-5 line and the four views' widgets for one model.

Thin Qt: it draws the frozen ColumnFrame (app/compare_frames.py) it is given and reports the user's
choices (method, class, a clicked stage) through signals; the page forwards them to the session.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from superqt import QCollapsible

from widgets.attention_mosaic import AttentionMosaic
from widgets.compare_plots import CurvePlot
from widgets.compare_stack import StageStack
from widgets.compare_tiles import ImageTiles
from widgets.image_view import ImageView
from widgets.model_picker import ModelPicker
from widgets.placeholder import Placeholder

from ..compare_frames import ColumnFrame

VIEW_INDEX = {"attribution": 0, "receptive-field": 1, "equivariance": 2, "hierarchy": 3}


def set_text(label: QLabel, text: str) -> None:
    """setText only when the text changes (each call re-lays the label out)."""
    if label.text() != text:
        label.setText(text)


class Caption(QWidget):
    """A wrapped caption `lines` lines high, whatever its text: a new text repaints the label only.

    The label sits in a plain, fixed-height widget with no layout, so its size hints never reach the column's
    layout. (A wrapped QLabel in a layout makes every setText re-lay the whole tab out, asking each label of
    every view, hidden ones too, for its height at its width: most of a depth-slider move's time.)"""

    def __init__(self, lines: int = 1, small: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("", self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        if small:
            font = self.label.font()
            font.setPixelSize(11)
            self.label.setFont(font)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(lines * self.label.fontMetrics().lineSpacing() + 4)

    def text(self) -> str:
        return self.label.text()

    def setText(self, text: str) -> None:  # noqa: N802 (QLabel's name)
        self.label.setText(text)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self.label.setGeometry(self.rect())


def _label(lines: int = 1, small: bool = True) -> Caption:
    return Caption(lines, small)


class CompareColumn(QWidget):
    method_changed = Signal(str)
    class_changed = Signal(int)  # -1: the top class
    stage_clicked = Signal(int)

    def __init__(self, index: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.frame: ColumnFrame | None = None
        self._methods: tuple[str, ...] = ()
        self._classes: tuple[str, ...] | None = None
        self._drawn: dict[str, object] = {}  # what each widget shows now (identity): skip unchanged redraws
        self.picker = ModelPicker("", show_input_size=False, status_lines=1)
        self.picker_box = QCollapsible(f"Column {index + 1}")  # folded: the views keep the room
        self.picker_box.setDuration(0)
        self.picker_box.addWidget(self.picker)
        self.picker_box.toggleButton().setToolTip("Choose this column's model and its weights")
        self.top5 = _label(2)
        # the out-of-distribution warning: hidden unless the image is unlike the data; as high as its text (it
        # changes only with the image, never with the slider or the view)
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warning.setStyleSheet("font-size: 11px; color: #8a4b00; background: #fff3d6; padding: 3px;")
        self.warning.setVisible(False)
        self.stage_label = _label(1)
        self.stack = QStackedWidget()
        for build in (self._attribution, self._field, self._equivariance, self._hierarchy):
            self.stack.addWidget(build())
        self.body = Placeholder(self.stack, "Open an image.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 0)
        layout.addWidget(self.picker_box)
        layout.addWidget(self.top5)
        layout.addWidget(self.warning)
        layout.addWidget(self.stage_label)
        layout.addWidget(self.body, 1)

    # ---- the four views --------------------------------------------------------------------------------
    def _attribution(self) -> QWidget:
        page = QWidget()
        col = QVBoxLayout(page)
        col.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.method_combo = QComboBox()
        self.method_combo.setToolTip("Attribution method (those that apply to this model's stage)")
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("The class to explain")
        self.class_combo.setMinimumContentsLength(10)
        row.addWidget(self.method_combo, 1)
        row.addWidget(self.class_combo, 1)
        self.attr_view = ImageView()
        self.attr_caption = _label(4)  # + a rollout note
        col.addLayout(row)
        col.addWidget(self.attr_view, 1)
        col.addWidget(self.attr_caption)
        self.method_combo.activated.connect(self._on_method)
        self.class_combo.activated.connect(self._on_class)
        return page

    def _field(self) -> QWidget:
        page = QWidget()
        col = QVBoxLayout(page)
        col.setContentsMargins(0, 0, 0, 0)
        self.erf_view = ImageView()
        self.erf_caption = _label(3)
        col.addWidget(self.erf_view, 1)
        col.addWidget(self.erf_caption)
        return page

    def _equivariance(self) -> QWidget:
        page = QWidget()
        col = QVBoxLayout(page)
        col.setContentsMargins(0, 0, 0, 0)
        self.error_plot = CurvePlot("Equivariance error per stage", "shift (px)", "error", symbols=False)
        self.error_plot.setMinimumHeight(130)
        self.prob_plot = CurvePlot("Top-class probability", "shift (px)", "p", legend=False, symbols=False)
        self.prob_plot.setMinimumHeight(90)
        self.prob_plot.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")]])  # short: readable
        self.tiles = ImageTiles(3, side=72)
        self.occlusion_view = ImageView(show_colorbar=False)
        self.occlusion_view.setMinimumHeight(110)
        self.occlusion_view.set_colormap("inferno")
        self.eq_caption = _label(3)
        col.addWidget(self.error_plot, 3)
        col.addWidget(self.prob_plot, 2)
        col.addWidget(self.tiles)
        col.addWidget(self.occlusion_view, 2)
        col.addWidget(self.eq_caption)
        return page

    def _hierarchy(self) -> QWidget:
        page = QWidget()
        col = QVBoxLayout(page)
        col.setContentsMargins(0, 0, 0, 0)
        self.stage_stack = StageStack()
        self.hier_summary = _label(2)
        self.features = QStackedWidget()
        self.feature_mosaic = AttentionMosaic("", "")
        self.feature_rgb = ImageView(show_colorbar=False)
        self.features.addWidget(self.feature_mosaic)
        self.features.addWidget(self.feature_rgb)
        self.features_caption = _label(2)
        col.addWidget(self.hier_summary)
        col.addWidget(self.stage_stack, 3)
        col.addWidget(self.features_caption)
        col.addWidget(self.features, 2)
        self.stage_stack.stage_clicked.connect(self.stage_clicked)
        return page

    # ---- user choices ------------------------------------------------------------------------------------
    @Slot(int)
    def _on_method(self, i: int) -> None:
        if 0 <= i < len(self._methods):
            self.method_changed.emit(self._methods[i])

    @Slot(int)
    def _on_class(self, i: int) -> None:
        self.class_changed.emit(i - 1)  # item 0 is "top class"

    # ---- drawing ------------------------------------------------------------------------------------
    def _changed(self, name: str, value) -> bool:
        """True (and remembered) when `value` is not the object drawn last time under `name`."""
        if self._drawn.get(name) is value:
            return False
        self._drawn[name] = value
        return True

    def draw(self, frame: ColumnFrame, view: str) -> None:
        self.frame = frame
        head = f"Column {self.index + 1}: {frame.title}"
        if self.picker_box.text() != head:
            set_text(self.picker_box, head)
        set_text(self.top5, frame.top5)
        set_text(self.warning, frame.warning)
        if self.warning.isHidden() == bool(frame.warning):
            self.warning.setVisible(bool(frame.warning))
        set_text(self.stage_label, frame.stage_text)
        if frame.message:
            if self.body.showing_content() or self.body.message.text() != frame.message:
                self.body.show_message(frame.message)
            return
        if self.stack.currentIndex() != VIEW_INDEX[view]:
            self.stack.setCurrentIndex(VIEW_INDEX[view])
        if not self.body.showing_content():
            self.body.show_content()
        {"attribution": self._draw_attribution, "receptive-field": self._draw_field,
         "equivariance": self._draw_equivariance, "hierarchy": self._draw_hierarchy}[view](frame)

    def _draw_attribution(self, frame: ColumnFrame) -> None:
        a = frame.attribution
        if a.methods != self._methods:
            self._methods = a.methods
            self.method_combo.clear()
            self.method_combo.addItems(list(a.method_titles))
        if self.method_combo.currentIndex() != a.methods.index(a.method):
            self.method_combo.setCurrentIndex(a.methods.index(a.method))
        if a.class_names != self._classes:
            self._classes = a.class_names
            self.class_combo.clear()
            self.class_combo.addItems(["top class", *a.class_names])
        if self.class_combo.currentIndex() != (0 if a.class_choice is None else a.class_choice + 1):
            self.class_combo.setCurrentIndex(0 if a.class_choice is None else a.class_choice + 1)
        if self._changed("attr_image", a.image):
            self.attr_view.set_image(a.image)
        if self._changed("attr_heat", a.heatmap):
            self.attr_view.set_overlay(a.heatmap, levels=(0.0, 1.0), opacity=0.6)
        self.attr_view.set_outline(a.box)
        set_text(self.attr_caption, a.caption)

    def _draw_field(self, frame: ColumnFrame) -> None:
        f = frame.field
        if self._changed("erf_image", f.image):
            self.erf_view.set_image(f.image)
        if self._changed("erf", f.erf):
            self.erf_view.set_overlay(f.erf, levels=(0.0, 1.0), opacity=0.85)
        set_text(self.erf_caption, f.caption)

    def _draw_equivariance(self, frame: ColumnFrame) -> None:
        e = frame.equivariance
        self.error_plot.set_curves(e.error_curves, y_range=e.error_range)
        self.prob_plot.set_curves(e.probability, y_range=(0.0, 1.0))
        if self._changed("tiles", e.tiles):
            self.tiles.set_tiles(e.tiles, e.tile_texts)
        if e.image is not None and self._changed("occ_image", e.image):
            self.occlusion_view.set_image(e.image)
        if self._changed("occlusion", e.occlusion):
            self.occlusion_view.set_overlay(e.occlusion, opacity=0.75)
        set_text(self.eq_caption, e.caption)

    def _draw_hierarchy(self, frame: ColumnFrame) -> None:
        h = frame.hierarchy
        self.stage_stack.set_stages(h.boxes, h.selected)
        set_text(self.hier_summary, h.summary)
        set_text(self.features_caption, h.features_caption)
        if h.feature_maps is not None and self._changed("maps", h.feature_maps):
            self.feature_mosaic.set_maps(h.feature_maps)
        if h.feature_rgb is not None and self._changed("rgb", h.feature_rgb):
            self.feature_rgb.set_image(h.feature_rgb)
        if self.features.currentIndex() != (1 if h.feature_rgb is not None else 0):
            self.features.setCurrentIndex(1 if h.feature_rgb is not None else 0)
        self.features.setVisible(h.feature_maps is not None or h.feature_rgb is not None)
