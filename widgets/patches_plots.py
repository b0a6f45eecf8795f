"""Small pyqtgraph views of the Patch embeddings tab: an image mosaic, a token scatter, a distance plot.

numpy + pyqtgraph only (no torch).
"""
from __future__ import annotations

import colorsys

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Signal, Slot


class MosaicView(pg.GraphicsLayoutWidget):
    """An RGB or scalar image of tiles (filters, similarity maps, a vector) with an optional colour bar.

    ``set_tiles`` tells it the tile layout so hovering reports the tile index.
    """

    tile_hovered = Signal(int)  # -1 outside a tile

    def __init__(self, parent=None, title: str = "", colorbar: bool = False) -> None:
        super().__init__(parent)
        self.setBackground("w")
        if title:
            self.title_label = self.addLabel(title, color="k", size="9pt", row=0, col=0, colspan=2)
        self.vb: pg.ViewBox = self.addViewBox(row=1, col=0, lockAspect=True, invertY=True, enableMouse=False)
        self.vb.setMenuEnabled(False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.vb.addItem(self.image_item)
        self.colorbar: pg.ColorBarItem | None = None
        if colorbar:
            self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap="viridis", interactive=False, width=14, pen="k")
            self.colorbar.setImageItem(self.image_item)
            self.addItem(self.colorbar, row=1, col=1)
        self._layout = (1, 1, 0, 1, 0)  # tile h, w, pad, cols, n
        self._hovered = -1
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    def set_title(self, text: str) -> None:
        self.title_label.setText(text, color="k", size="9pt")

    def set_rgb(self, rgb: np.ndarray) -> None:
        """rgb (H, W, 3) float in [0, 1]."""
        self.image_item.setLookupTable(None)
        self.image_item.setImage((np.clip(rgb, 0, 1) * 255).astype(np.uint8), autoLevels=False, levels=(0, 255))
        self._fit(rgb.shape)

    def set_scalar(self, values: np.ndarray, levels: tuple[float, float], cmap: str = "viridis") -> None:
        """values (H, W), NaN drawn transparent (the padding between tiles)."""
        self.image_item.setColorMap(pg.colormap.get(cmap))
        self.image_item.setImage(np.asarray(values, np.float32), autoLevels=False, levels=levels)
        if self.colorbar is not None:
            self.colorbar.setColorMap(pg.colormap.get(cmap))
            self.colorbar.setLevels(levels)
        self._fit(values.shape)

    def _fit(self, shape) -> None:
        self.vb.setRange(QRectF(0, 0, shape[1], shape[0]), padding=0.01)

    def set_tiles(self, tile_h: int, tile_w: int, pad: int, cols: int, n: int) -> None:
        self._layout = (tile_h, tile_w, pad, cols, n)

    def tile_at_scene(self, scene_pos: QPointF) -> int:
        h, w, pad, cols, n = self._layout
        pt = self.vb.mapSceneToView(scene_pos)
        c, r = int(np.floor((pt.x() - pad) / (w + pad))), int(np.floor((pt.y() - pad) / (h + pad)))
        t = r * cols + c
        return t if 0 <= c < cols and r >= 0 and t < n else -1

    @Slot(object)
    def _on_mouse_moved(self, scene_pos) -> None:
        t = self.tile_at_scene(scene_pos)
        if t != self._hovered:
            self._hovered = t
            self.tile_hovered.emit(t)


_LEVELS = 6
_PALETTE: list = []


def _palette() -> list:
    if not _PALETTE:
        steps = np.linspace(0, 255, _LEVELS).astype(int)
        _PALETTE.extend(pg.mkBrush(int(r), int(g), int(b)) for r in steps for g in steps for b in steps)
    return _PALETTE


class TokenScatter(pg.PlotWidget):
    """Tokens as points on two principal components, coloured like their patch; click to pick one."""

    point_clicked = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setMenuEnabled(False)
        self.grid_w = 1  # patches per grid row, for the hover tip
        self.scatter = pg.ScatterPlotItem(size=9, pen=pg.mkPen((40, 40, 40), width=0.6), hoverable=True,
                                          hoverSize=13, tip=self._tip)
        self.ring = pg.ScatterPlotItem(size=20, pen=pg.mkPen((255, 30, 30), width=3), brush=None)
        self.addItem(self.scatter)
        self.addItem(self.ring)
        self.scatter.sigClicked.connect(self._on_clicked)
        self._xy = np.zeros((0, 2))
        self._labels = ("", "")
        for ax in ("left", "bottom"):
            self.getAxis(ax).setPen("k")
            self.getAxis(ax).setTextPen("k")

    def set_points(self, x: np.ndarray, y: np.ndarray, colours: np.ndarray, x_label: str, y_label: str) -> None:
        """colours (P, 3) float in [0, 1]; point i is patch i."""
        self._xy = np.stack([x, y], 1)
        # Colours snapped to a 6-level-per-channel palette of shared brushes: pyqtgraph renders one symbol
        # per distinct brush and caches it, so a layer change reuses them instead of drawing 196 new ones.
        q = np.clip(np.rint(np.asarray(colours) * (_LEVELS - 1)), 0, _LEVELS - 1).astype(int)
        palette = _palette()
        brushes = [palette[i] for i in (q[:, 0] * _LEVELS + q[:, 1]) * _LEVELS + q[:, 2]]
        self.scatter.setData(x=x, y=y, brush=brushes, data=np.arange(len(x)))
        if (x_label, y_label) != self._labels:  # relabelling re-lays out the axes: only when it changes
            self._labels = (x_label, y_label)
            self.setLabel("bottom", x_label)
            self.setLabel("left", y_label)
        self.enableAutoRange()

    def set_highlight(self, index: int | None) -> None:
        if index is None or not 0 <= index < len(self._xy):
            self.ring.setData([], [])
        else:
            self.ring.setData([self._xy[index, 0]], [self._xy[index, 1]])

    def _tip(self, x, y, data) -> str:
        r, c = divmod(int(data), max(1, self.grid_w))
        return f"patch row {r}, column {c}"

    def widget_pos_of_point(self, index: int) -> QPointF:
        scene = self.plotItem.vb.mapViewToScene(QPointF(*self._xy[index]))
        return self.mapFromScene(scene)

    @Slot(object, object, object)
    def _on_clicked(self, _item, points, _ev=None) -> None:
        if len(points):
            self.point_clicked.emit(int(points[0].data()))


def head_colours(n: int) -> list[tuple[int, int, int]]:
    return [tuple(int(v * 255) for v in colorsys.hsv_to_rgb(i / max(n, 1), 0.75, 0.85)) for i in range(n)]


class DistancePlot(pg.PlotWidget):
    """Mean attention distance (pixels) of every head against layer depth (ViT paper, Fig. 7 right)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setMenuEnabled(False)
        self.scatter = pg.ScatterPlotItem(size=9, pen=pg.mkPen((40, 40, 40), width=0.5), hoverable=True,
                                          hoverSize=13, tip=self._tip)
        self.addItem(self.scatter)
        self.reference = pg.InfiniteLine(angle=0, pen=pg.mkPen((120, 120, 120), width=1, style=pg.QtCore.Qt.DashLine))
        self.addItem(self.reference)
        self.setLabel("bottom", "layer (network depth)")
        self.setLabel("left", "mean attention distance (pixels)")
        for ax in ("left", "bottom"):
            self.getAxis(ax).setPen("k")
            self.getAxis(ax).setTextPen("k")

    @staticmethod
    def _tip(x, y, data):
        layer, head = data
        return f"layer {layer}, head {head}: {y:.1f} px"

    def set_distances(self, mad: np.ndarray, uniform_px: float, image_px: int) -> None:
        """mad (L, heads) in pixels; uniform_px: the value for uniform attention (a reference line)."""
        n_layers, n_heads = mad.shape
        cols = head_colours(n_heads)
        jitter = np.linspace(-0.2, 0.2, n_heads) if n_heads > 1 else np.zeros(1)
        xs, ys, brushes, data = [], [], [], []
        for layer in range(n_layers):
            for h in range(n_heads):
                xs.append(layer + 1 + jitter[h])
                ys.append(float(mad[layer, h]))
                brushes.append(pg.mkBrush(*cols[h]))
                data.append((layer + 1, h))
        data_arr = np.empty(len(data), dtype=object)
        data_arr[:] = data
        self.scatter.setData(x=xs, y=ys, brush=brushes, data=data_arr)
        self.reference.setValue(uniform_px)
        self.setTitle(f"dots: heads, coloured by head index; dashed line: uniform attention ({uniform_px:.1f} px)",
                      color="#444", size="9pt")
        self.setXRange(0.5, n_layers + 0.5, padding=0)
        self.setYRange(0, max(float(np.max(mad)) if mad.size else 1.0, uniform_px) * 1.1, padding=0)
        self.getAxis("bottom").setTicks([[(i + 1, str(i + 1)) for i in range(n_layers)]])
