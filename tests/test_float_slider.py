"""FloatSlider: the decimal slider whose keyboard works (superqt's QLabeledDoubleSlider drops the keys)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from widgets.float_slider import FloatSlider


@pytest.fixture
def slider(qtbot):
    s = FloatSlider()
    s.setRange(0.0, 1.0)
    s.setDecimals(2)
    s.setSingleStep(0.01)
    s.setPageStep(0.1)
    s.setValue(0.5)
    qtbot.addWidget(s)
    s.show()
    qtbot.waitExposed(s)
    s.setFocus()
    return s


def test_arrow_keys_step_by_single_step(qtbot, slider):
    seen = []
    slider.valueChanged.connect(seen.append)
    qtbot.keyClick(slider.slider, Qt.Key.Key_Right)
    assert slider.value() == pytest.approx(0.51)
    qtbot.keyClick(slider.slider, Qt.Key.Key_Left)
    qtbot.keyClick(slider.slider, Qt.Key.Key_Left)
    assert slider.value() == pytest.approx(0.49)
    assert seen == pytest.approx([0.51, 0.50, 0.49])


def test_page_keys_step_by_page_step(qtbot, slider):
    qtbot.keyClick(slider.slider, Qt.Key.Key_PageUp)
    assert slider.value() == pytest.approx(0.6)
    qtbot.keyClick(slider.slider, Qt.Key.Key_PageDown)
    qtbot.keyClick(slider.slider, Qt.Key.Key_PageDown)
    assert slider.value() == pytest.approx(0.4)
    qtbot.keyClick(slider.slider, Qt.Key.Key_End)
    assert slider.value() == pytest.approx(1.0)


def test_focus_goes_to_the_slider_so_keys_work_on_the_widget(qtbot, slider):
    assert slider.focusProxy() is slider.slider
    qtbot.keyClick(slider.focusWidget() or slider.slider, Qt.Key.Key_Up)
    assert slider.value() == pytest.approx(0.51)


def test_value_is_clamped_and_label_follows(slider):
    slider.setValue(7.0)
    assert slider.value() == 1.0
    assert slider.spin.value() == pytest.approx(1.0)
    slider.setRange(0.05, 0.5)
    assert slider.value() == pytest.approx(0.5)


def test_typing_a_value_in_the_label_moves_the_slider(qtbot, slider):
    slider.spin.setValue(0.25)
    assert slider.value() == pytest.approx(0.25)
    assert slider.slider.value() == 25


def test_setting_the_same_value_emits_nothing(qtbot, slider):
    with qtbot.assertNotEmitted(slider.valueChanged):
        slider.setValue(0.5)


def test_decimal_slider_is_a_two_decimal_keyboard_slider(qtbot):
    from widgets.float_slider import decimal_slider

    s = decimal_slider(0.05, 0.95, 0.5)
    qtbot.addWidget(s)
    assert (s.minimum(), s.maximum(), s.value(), s.singleStep()) == (0.05, 0.95, 0.5, 0.01)
    assert s.spin.decimals() == 2
    qtbot.keyClick(s.slider, Qt.Key.Key_PageUp)
    assert s.value() == pytest.approx(0.6)
