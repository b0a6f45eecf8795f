"""The Compare tab: a CNN, a ViT and a hybrid side by side on the same image.

Two or three columns (app/tabs/compare_column_view.py), each with its own model picker (registry task
"compare"); one depth slider (relative depth 0..1) moves every column to its nearest stage. Views:
attribution, receptive-field, equivariance, hierarchy (``views``, ``show_view``; ``--view`` on the CLI).
A thin page: `CompareSession` (app/compare_session.py, no Qt) holds the state and results and says which
jobs the visible view still lacks; this page submits them to the worker service (a channel per column
and kind) and draws the frozen frame the session renders. The data lab's views, data-hunger and fine-tune
(app/tabs/lab_hunger_page.py, lab_finetune_page.py), are whole pages shown instead of the columns (a stack).
"""
from __future__ import annotations

from functools import partial

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QStackedWidget, QTabBar,
                               QVBoxLayout, QWidget)

from models.compare.results import ModelRef
from widgets.compare_plots import CurvePlot
from widgets.float_slider import FloatSlider
from widgets.model_picker import PickedModel

from ..compare_frames import CompareFrame
from ..compare_session import LAB_VIEWS, TAB_VIEWS, VIEW_TITLES, VIEWS, CompareSession, Request
from ..lab_folders import models_dir
from ..lab_jobs import list_models_job
from ..vit_picker import model_entries
from .base import TabPage
from .compare_column_view import CompareColumn
from .lab_finetune_page import LabFinetunePage
from .lab_hunger_page import LabHungerPage

LAB_PAGES = {"data-hunger": LabHungerPage, "fine-tune": LabFinetunePage}  # made when first shown

LESSONS = {
    "attribution": "Why each model chose its class: the map of the chosen method at the stage under the depth "
                   "slider (CAMs), or over every attention block (rollout). The outline is the object's known box.",
    "receptive-field": "Which input pixels move the centre unit of the stage (gradient, 16 shapes images). "
                       "A CNN's field grows stage by stage; a ViT's first block already reaches the whole image.",
    "equivariance": "Shift the image 0..16 px: a convolution's map shifts with it (error ~0 at multiples of its "
                    "stride); position embeddings and patch grids break that. Shuffled tiles and a grey occluder "
                    "show what the prediction rests on.",
    "hierarchy": "Each stage's output drawn to scale (width ~ channels, height ~ resolution), read from the model by "
                 "a shape trace; parameters, FLOPs and time measured per stage. Click a stage for its features.",
}

# What to look for, in the footer of the views without the ERF-radius plot (the footer keeps one height in every
# column view: a view change then never re-lays the three columns out, which made every plot in them repaint)
GUIDES = {
    "attribution": "<b>What to look for.</b> Does each map sit on the object (the outline) or on the background? "
                   "A CAM at an early stage (depth slider left) is sharp but local; at the last stage it is coarse "
                   "(a 2x2 or 4x4 grid) but class-specific. Rollout mixes every block's attention: for a ViT it is "
                   "the whole model's answer. Pick another class in the list: the map of a class the model did not "
                   "choose is often empty (no positive evidence).<br><br><b>Try:</b> drag the depth slider from 1 to 0 and watch the "
                   "CNN's map sharpen; drop a photo: the bundled models know only six shapes (the warning says so), "
                   "a pretrained model from the column's picker explains a real class.",
    "equivariance": "<b>What to look for.</b> A convolution's error drops to ~0 at shifts that are multiples of its "
                    "stride (the dips in the CNN's early stages); a ViT's patch grid and position embeddings never "
                    "give 0 between multiples of the patch size. Deeper stages pool: the error of the CNN's last stage "
                    "rises while its top-class probability stays flat. Shuffled tiles: a model that survives 4x4 "
                    "shuffling judges by local texture and parts, not by the global outline.<br><br><b>Try:</b> "
                    "the depth slider at 0 (the first stage: the CNN's stride-4 dips), then at 1; an image with the "
                    "object near a border, where reflection padding changes what the model sees.",
    "hierarchy": "<b>What to look for.</b> A CNN is a pyramid: resolution halves and channels grow at every stage "
                 "(most FLOPs early, most parameters late). A plain ViT is a column: the same tokens x width in every "
                 "block. A hybrid starts as a pyramid and ends with attention over a few tokens. Click a stage: early "
                 "convolutional features are edges and colours, late ones respond to whole shapes.<br><br><b>Try:</b> compare the "
                 "time per stage with the FLOPs: attention over many tokens costs more time than its FLOPs suggest.",
}
FOOTER_HEIGHT = 170  # px, the ERF-radius plot's height


class CompareTab(TabPage):
    key = "compare"
    title = "Compare"
    views = TAB_VIEWS  # the column views, then the data lab's pages (LAB_VIEWS)

    def __init__(self, ctx, parent: QWidget | None = None, models: tuple[ModelRef, ...] | None = None) -> None:
        """models: the columns' models at start (default: the three bundled ones)."""
        super().__init__(ctx, parent)
        self.session = CompareSession(models) if models else CompareSession()
        self.frame: CompareFrame | None = None
        self._running: dict[str, int] = {}  # channel -> request id not answered yet
        self._device: str | None = None  # the device reported last (None: torch not loaded yet)
        self._lab_view: str | None = None  # a data-lab page shown instead of the columns
        self.lab_pages: dict[str, QWidget] = {}
        self._specs: list | None = None  # the registry's Compare specs (the fine-tune page's picker)
        self._drawn_view: str | None = None
        self._staggered: list[int] = []  # columns still to switch to the new view (see draw)
        self._stagger_timer = QTimer(self)
        self._stagger_timer.setSingleShot(True)
        self._stagger_timer.setInterval(1)  # a real timer: the window paints the column drawn before it fires
        self._stagger_timer.timeout.connect(self._draw_next_column)
        self._build()
        self._list_models()

    # ---- layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.view_bar = QTabBar()
        for v in TAB_VIEWS:
            self.view_bar.addTab(VIEW_TITLES[v])
        self.depth_slider = FloatSlider(Qt.Orientation.Horizontal)
        self.depth_slider.setRange(0.0, 1.0)
        self.depth_slider.setDecimals(2)
        self.depth_slider.setSingleStep(0.05)
        self.depth_slider.setPageStep(0.25)
        self.depth_slider.setValue(self.session.depth)
        self.depth_slider.setToolTip("Relative depth: 0 = first stage, 1 = last; every column moves to its "
                                     "nearest stage")
        self.count_spin = QSpinBox()
        self.count_spin.setRange(2, 3)
        self.count_spin.setValue(self.session.count)
        top = QHBoxLayout()
        top.addWidget(self.view_bar)
        top.addSpacing(12)
        self.column_controls = QWidget()  # hidden on the data-lab pages
        column_row = QHBoxLayout(self.column_controls)
        column_row.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.column_controls, 1)
        column_row.addWidget(QLabel("Depth"))
        column_row.addWidget(self.depth_slider, 1)
        self.log_check = QCheckBox("Log colours")
        self.log_check.setChecked(self.session.erf_log)
        self.log_check.setToolTip("Receptive fields on a log colour scale (1e-4 .. 1): the faint far reach shows")
        self.log_check.setVisible(False)
        column_row.addWidget(self.log_check)
        column_row.addWidget(QLabel("Columns"))
        column_row.addWidget(self.count_spin)
        self.lesson = QLabel(LESSONS[VIEWS[0]])
        self.lesson.setWordWrap(True)
        self.lesson.setStyleSheet("color: #9aa0a6;")
        policy = self.lesson.sizePolicy()  # as high as the longest lesson at this width (resizeEvent): a view
        policy.setHeightForWidth(False)  # change swaps the text without re-laying the columns out
        policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
        self.lesson.setSizePolicy(policy)
        self.columns = [CompareColumn(i) for i in range(len(self.session.all_columns))]
        row = QHBoxLayout()
        for col in self.columns:
            row.addWidget(col, 1)
            col.picker.picked.connect(partial(self._on_picked, col.index))
            col.method_changed.connect(partial(self._on_method, col.index))
            col.class_changed.connect(partial(self._on_class, col.index))
            col.stage_clicked.connect(partial(self._on_stage, col.index))
        self.erf_plot = CurvePlot("ERF radius (solid) and theoretical field (dashed) vs relative depth",
                                  "relative depth", "share of the image side")
        self.guide = QLabel(GUIDES[VIEWS[0]])
        self.guide.setWordWrap(True)
        self.guide.setTextFormat(Qt.TextFormat.RichText)
        self.guide.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.guide.setStyleSheet("QLabel { color: #c8cbd0; background: #26282c; border-radius: 4px; padding: 10px; }")
        self.footer = QStackedWidget()  # the ERF-radius plot (receptive-field) or the view's guide: one height
        self.footer.addWidget(self.guide)
        self.footer.addWidget(self.erf_plot)
        self.footer.setFixedHeight(FOOTER_HEIGHT)
        self.column_area = QWidget()
        area = QVBoxLayout(self.column_area)
        area.setContentsMargins(0, 0, 0, 0)
        area.addWidget(self.lesson)
        area.addLayout(row, 1)
        area.addWidget(self.footer)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.column_area)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        self.view_bar.currentChanged.connect(self._on_view_bar)
        self.depth_slider.valueChanged.connect(self._on_depth)
        self.count_spin.valueChanged.connect(self._on_count)
        self.log_check.toggled.connect(self._on_log)
        self._apply_count()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        width = max(1, self.width() - 24)
        metrics = self.lesson.fontMetrics()
        flags = int(Qt.AlignmentFlag.AlignLeft) | int(Qt.TextFlag.TextWordWrap)
        height = max(metrics.boundingRect(0, 0, width, 10_000, flags, text).height() for text in LESSONS.values())
        if self.lesson.height() != height + 2:
            self.lesson.setFixedHeight(height + 2)

    # ---- TabPage API -------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        super().set_image(image)
        self._cancel_all()
        self.session.set_image(image)
        self.refresh()

    def show_view(self, view: str) -> None:
        super().show_view(view)
        self.view_bar.setCurrentIndex(TAB_VIEWS.index(view))  # -> _on_view_bar

    def current_view(self) -> str:
        return self._lab_view or self.session.view

    def is_busy(self) -> bool:
        if self._lab_view is not None:
            return self.lab_pages[self._lab_view].is_busy()
        return bool(self._running) or bool(self._staggered)

    def on_device_changed(self, device: str) -> None:
        """Jobs run on the device the worker resolved when torch loaded (the first report): re-run only when
        the device really changes later (timings belong to the device)."""
        previous, self._device = self._device, device
        if previous is not None and previous != device and self.image is not None:
            self.set_image(self.image)

    def shutdown(self) -> None:
        self._cancel_all()
        self.ctx.worker.cancel("compare-list")
        for page in self.lab_pages.values():
            page.shutdown()

    def confirm_close(self) -> bool:
        return all(page.confirm_close() for page in self.lab_pages.values())

    def _cancel_all(self) -> None:
        for channel in list(self._running):
            self.ctx.worker.cancel(channel)
        self._running.clear()

    # ---- user actions ------------------------------------------------------------------------------
    def lab_page(self, view: str) -> QWidget:
        """The data-lab page of `view`, made on first use."""
        if view not in self.lab_pages:
            page = self.lab_pages[view] = LAB_PAGES[view](self.ctx)
            if hasattr(page, "models_changed"):  # a fine-tuned model was saved: every picker lists it
                page.models_changed.connect(self._list_models)
                if self._specs is not None:
                    page.set_models(self._specs)
            self.stack.addWidget(page)
        return self.lab_pages[view]

    @Slot()
    def _list_models(self) -> None:
        """The registry's Compare models, with the models fine-tuned in the data lab (app/lab_jobs.py)."""
        self.ctx.worker.submit(list_models_job, models_dir(), channel="compare-list", title="Listing models to compare",
                               on_result=self._on_models, on_error=lambda _msg: None)

    @Slot(int)
    def _on_view_bar(self, index: int) -> None:
        view = TAB_VIEWS[index]
        self._lab_view = view if view in LAB_VIEWS else None
        self.column_controls.setVisible(self._lab_view is None)
        if self._lab_view is not None:
            self.stack.setCurrentWidget(self.lab_page(view))
            return
        self.stack.setCurrentWidget(self.column_area)
        self.session.set_view(VIEWS[index])
        self.lesson.setText(LESSONS[VIEWS[index]])
        self.refresh()

    @Slot(float)
    def _on_depth(self, value: float) -> None:
        self.session.set_depth(value)
        self.refresh()

    @Slot(bool)
    def _on_log(self, on: bool) -> None:
        self.session.erf_log = on
        self.draw()

    @Slot(int)
    def _on_count(self, n: int) -> None:
        self.session.set_count(n)
        self._apply_count()
        self.refresh()

    def _apply_count(self) -> None:
        for col in self.columns:
            col.setVisible(col.index < self.session.count)

    def _on_picked(self, column: int, picked: PickedModel) -> None:
        self.ctx.worker.cancel(f"compare-{column}-column")
        self.session.set_model(column, ModelRef(picked.key, picked.kind, picked.ref))
        self.refresh()

    def _on_method(self, column: int, method: str) -> None:
        self.session.set_method(column, method)
        self.refresh()

    def _on_class(self, column: int, class_index: int) -> None:
        self.session.set_class(column, class_index)
        self.refresh()

    def _on_stage(self, column: int, stage: int) -> None:
        self.session.select_stage(column, stage)
        self.refresh()

    def select_stage(self, column: int, stage: int) -> None:
        """A stage of a column's hierarchy was clicked (also for tests)."""
        self._on_stage(column, stage)

    # ---- jobs --------------------------------------------------------------------------------------
    @Slot(object)
    def _on_models(self, specs) -> None:
        self._specs = specs
        if hasattr(self.lab_pages.get("fine-tune"), "set_models"):
            self.lab_pages["fine-tune"].set_models(specs)
        entries = model_entries(specs)
        for col, model in zip(self.columns, self.session.all_columns):
            col.picker.set_models(entries, PickedModel(model.model.key, model.model.kind, model.model.ref, None))

    def _submit(self, req: Request) -> None:
        done = partial(self._on_result, req)
        rid = self.ctx.worker.submit(req.fn, *req.args, channel=req.channel, title=req.title, on_result=done,
                                     on_partial=partial(self._on_partial, req), on_error=partial(self._on_error, req))
        self._running[req.channel] = rid

    def _settle(self, req: Request) -> None:
        if self.ctx.worker.latest_id(req.channel) == self._running.get(req.channel):
            self._running.pop(req.channel, None)

    def _on_result(self, req: Request, result) -> None:
        self._settle(req)
        self.session.add_result(req.column, req.generation, req.kind, req.key, result)
        self.refresh()

    def _on_partial(self, req: Request, result) -> None:
        if self.session.add_result(req.column, req.generation, req.kind, req.key, result):
            self.draw()

    def _on_error(self, req: Request, message: str) -> None:
        self._settle(req)
        self.session.add_error(req.column, req.generation, req.kind, req.key, message)
        self.refresh()

    # ---- drawing -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Submit what the visible view lacks (only while this tab is on screen: the image reaches every tab,
        and three models should not run for a tab nobody looks at), then draw what there is."""
        if self.isVisible() and self._lab_view is None:
            for req in self.session.requests():
                self._submit(req)
        self.draw()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self.refresh()  # the tab came to the front: start what it lacks

    def prepare_screenshot(self) -> None:
        self.refresh()
        while self._staggered:  # every column in the picture
            self._draw_next_column()

    def draw(self) -> None:
        """Draw the frame. On a view change the columns switch one per event-loop turn (1 ms apart): each shows
        a page of plots never painted at this data, and three at once were one long pause of the window."""
        frame = self.session.render()
        self.frame = frame
        if frame.view != self._drawn_view:
            self._drawn_view = frame.view
            self._staggered = [col.index for col in self.columns[1:] if col.isVisible()]
        if not self.isVisible():  # nothing paints now: no reason to wait
            self._staggered = []
        for col, cf in zip(self.columns, frame.columns):
            if col.index not in self._staggered:
                col.draw(cf, frame.view)
                self._picker_status(col, cf)
        if self._staggered and not self._stagger_timer.isActive():
            self._stagger_timer.start()
        self._draw_scales(frame)
        footer = self.erf_plot if frame.view == "receptive-field" else self.guide
        if self.footer.currentWidget() is not footer:
            self.footer.setCurrentWidget(footer)
        if frame.view in GUIDES and self.guide.text() != GUIDES[frame.view]:
            self.guide.setText(GUIDES[frame.view])
        self.log_check.setVisible(frame.view == "receptive-field")
        if frame.view == "receptive-field":
            self.erf_plot.set_curves(frame.erf_curves, y_range=(0.0, 1.0))

    def columns_drawn(self) -> bool:
        """False while columns still wait to switch to a new view (see draw)."""
        return not self._staggered

    @Slot()
    def _draw_next_column(self) -> None:
        if self._staggered and self.frame is not None:
            col = self.columns[self._staggered.pop(0)]
            col.draw(self.frame.columns[col.index], self.frame.view)
            self._picker_status(col, self.frame.columns[col.index])
        if self._staggered:
            self._stagger_timer.start()

    def _picker_status(self, col: CompareColumn, cf) -> None:
        if col.picker.status.text() != cf.title:
            col.picker.set_status(cf.title, "info")

    def _draw_scales(self, frame: CompareFrame) -> None:
        """Hierarchy boxes share one scale across the columns (a wide stage looks wide next to a narrow one)."""
        if frame.view != "hierarchy":
            return
        boxes = [b for cf in frame.columns if cf.hierarchy is not None for b in cf.hierarchy.boxes]
        if boxes:
            for col in self.columns:
                col.stage_stack.set_scale(max(b.channels for b in boxes), max(b.resolution for b in boxes))
