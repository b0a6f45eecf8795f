"""The toy attention example (--view qkv-toy): session maths, patch tokens, and live edits in the page."""
from __future__ import annotations

import numpy as np
import pytest

from app.qkv_toy_session import DEFAULT_X, ToySession, patch_tokens
from models.qkv_math import softmax


def _check_frame(frame):
    m = {k: v.values for k, v in frame.matrices.items()}
    np.testing.assert_allclose(m["scores"], m["Q"] @ m["K"].T)
    np.testing.assert_allclose(m["scaled"], m["scores"] / np.sqrt(3))
    np.testing.assert_allclose(m["softmax"], softmax(m["scaled"] if frame.use_scale else m["scores"]))
    np.testing.assert_allclose(m["output"], m["softmax"] @ m["V"])
    return m


def test_every_matrix_is_there_with_its_shape():
    frame = ToySession().frame()
    shapes = {k: v.values.shape for k, v in frame.matrices.items()}
    assert shapes == {"X": (4, 3), "W_q": (3, 3), "W_k": (3, 3), "W_v": (3, 3), "Q": (4, 3), "K": (4, 3), "V": (4, 3),
                      "scores": (4, 4), "scaled": (4, 4), "softmax": (4, 4), "output": (4, 3)}
    m = _check_frame(frame)
    np.testing.assert_allclose(m["Q"], DEFAULT_X @ m["W_q"])
    np.testing.assert_allclose(m["softmax"].sum(1), 1.0)


def test_editing_q_changes_q_and_everything_downstream_only():
    s = ToySession()
    before = {k: v.values for k, v in s.frame().matrices.items()}
    after = _check_frame(s.set_entry("Q", 1, 2, 5.0))
    assert after["Q"][1, 2] == 5.0
    for same in ("X", "K", "V", "W_q"):
        np.testing.assert_array_equal(after[same], before[same])
    assert not np.allclose(after["scores"][1], before["scores"][1]) and np.allclose(after["scores"][0], before["scores"][0])
    assert not np.allclose(after["output"][1], before["output"][1])


def test_editing_a_token_or_a_projection_recomputes_q_k_v():
    s = ToySession()
    m = _check_frame(s.set_entry("X", 0, 0, -3.0))
    np.testing.assert_allclose(m["K"], m["X"] @ m["W_k"])
    m = _check_frame(s.set_entry("W_v", 2, 2, 0.0))
    np.testing.assert_allclose(m["V"][:, 2], 0.0)
    with pytest.raises(ValueError):
        s.set_entry("scores", 0, 0, 1.0)
    with pytest.raises(ValueError):
        s.set_entry("Q", 0, 0, float("nan"))


def test_temperature_off_sharpens_the_toy():
    s = ToySession()
    on = s.frame().matrices["softmax"].values
    off = _check_frame(s.set_scale(False))["softmax"]
    assert (off.max(1) >= on.max(1) - 1e-12).all()


def test_patch_tokens_are_mean_colours():
    image = np.zeros((40, 40, 3), np.uint8)
    image[:20, :20] = (255, 0, 0)  # patch (0, 0) of a 2x2 grid is red
    image[20:, 20:] = (255, 255, 255)
    x = patch_tokens(image, (2, 2), [(0, 0), (0, 1), (1, 0), (1, 1)])
    np.testing.assert_allclose(x, [[2, -2, -2], [-2, -2, -2], [-2, -2, -2], [2, 2, 2]])


def test_session_picks_patches_in_turn():
    image = np.zeros((40, 40, 3), np.uint8)
    image[:10, 30:] = 255  # patch (0, 3) of a 4x4 grid is white
    s = ToySession()
    s.set_picture(image, (4, 4))
    assert s.patches == [(1, 1), (1, 3), (3, 1), (3, 3)]
    frame = s.pick_at(35.0, 5.0)
    assert s.patches[0] == (0, 3) and s.next_slot == 1
    np.testing.assert_allclose(frame.matrices["X"].values[0], [2, 2, 2])
    assert s.pick_at(-1, 5) is None and s.patch_rects()[0] == (30.0, 0.0, 10.0, 10.0)
    for _ in range(3):
        s.pick_at(1.0, 1.0)
    assert s.next_slot == 0 and s.patches[1:] == [(0, 0)] * 3


def test_page_typing_updates_everything_and_bad_text_is_refused(qtbot):
    from app.context import AppContext
    from app.tabs.qkv_toy_page import QKVToyPage

    page = QKVToyPage(AppContext(start_worker=False))
    qtbot.addWidget(page)
    old_scores = page.tables["scores"].values.copy()
    page.tables["K"].table.item(2, 0).setText("4")
    assert page.tables["K"].values[2, 0] == 4.0
    assert page.tables["scores"].values[0, 2] != old_scores[0, 2]
    np.testing.assert_allclose(page.tables["output"].values, page.tables["softmax"].values @ page.tables["V"].values)
    page.tables["V"].table.item(0, 0).setText("abc")
    assert page.tables["V"].table.item(0, 0).text() == f"{page.tables['V'].values[0, 0]:.2f}"
    page.scale_check.setChecked(False)
    np.testing.assert_allclose(page.tables["softmax"].values, softmax(page.tables["scores"].values))
    page.ctx.worker.shutdown()


def test_page_takes_tokens_from_clicked_patches(qtbot):
    from dataclasses import dataclass

    from app.context import AppContext
    from app.tabs.qkv_toy_page import QKVToyPage

    @dataclass
    class Result:  # the two fields the toy reads from a ViT forward result
        image: np.ndarray
        grid: tuple

    image = np.zeros((64, 64, 3), np.uint8)
    image[:8, :8] = 255  # patch (0, 0) of the 8x8 grid is white
    page = QKVToyPage(AppContext(start_worker=False))
    qtbot.addWidget(page)
    page._on_vit_result(Result(image, (8, 8)))
    page._on_image_clicked(4.0, 4.0)  # click patch (0, 0): it becomes t1
    np.testing.assert_allclose(page.tables["X"].values[0], [2, 2, 2])
    assert page.session.patches[0] == (0, 0) and page.session.next_slot == 1
    assert page.frames[0][0].rect().getRect() == (0.0, 0.0, 8.0, 8.0)
    page.ctx.worker.shutdown()
