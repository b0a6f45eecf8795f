"""The shared model picker: what each weights source needs, and two pickers kept in step by the ViT session."""
from __future__ import annotations

import pytest

from widgets.model_picker import ModelEntry, ModelPicker, PickedModel, SourceOption

ENTRIES = (
    ModelEntry("m/a", "Model A", "first", (SourceOption("bundled", "Bundled"),
                                            SourceOption("hub", "Hub id", needs_ref=True, hint="an id")), "bundled"),
    ModelEntry("m/b", "Model B", "second", (SourceOption("file", "A file", needs_ref=True, browse="file",
                                                         ref_suffixes=(".pt",)),), "file", "w.pt"),
)


@pytest.fixture
def picker(qtbot):
    widget = ModelPicker()
    qtbot.addWidget(widget)
    widget.set_models(ENTRIES)
    return widget


def test_a_source_that_needs_an_id_asks_for_it(picker, qtbot):
    assert not picker.ref_edit.isEnabled() and not picker.browse_button.isEnabled()
    picker.source_combo.setCurrentIndex(1)
    assert picker.ref_edit.isEnabled() and picker.ref_edit.placeholderText() == "an id"
    with qtbot.assertNotEmitted(picker.picked):
        picker.run_button.click()
    assert picker.status.kind == "error" and "Id / path" in picker.status.text()
    picker.ref_edit.setText("org/model")
    picker.size_spin.setValue(96)
    with qtbot.waitSignal(picker.picked) as blocker:
        picker.run_button.click()
    assert blocker.args[0] == PickedModel("m/a", "hub", "org/model", 96)


def test_model_change_refills_sources_and_shows_the_default_ref(picker):
    picker.source_combo.setCurrentIndex(1)
    picker.ref_edit.setText("org/model")
    picker.model_combo.setCurrentIndex(1)
    assert [picker.source_combo.itemText(i) for i in range(picker.source_combo.count())] == ["A file"]
    assert picker.ref_edit.text() == "w.pt" and picker.browse_button.isEnabled()
    picker.set_choice(PickedModel("m/a", "hub", "not-a-file", None))
    assert picker.model_combo.currentData() == "m/a" and picker.ref_edit.text() == "not-a-file"
    picker.set_choice(PickedModel("m/b", "file", "", None))
    assert picker.ref_edit.text() == "w.pt"  # the entry's default file
    assert picker.current() == PickedModel("m/b", "file", "w.pt", None)


def test_two_pickers_show_the_model_chosen_in_either(qtbot, open_tab):
    from app.context import AppContext
    from app.vit_picker import PickerLink, shared_model_list
    from app.vit_session import shared_session

    ctx = AppContext()
    first, second = ModelPicker(), ModelPicker()
    for widget in (first, second):
        qtbot.addWidget(widget)
    session = shared_session(ctx)
    links = [PickerLink(ctx, session, first), PickerLink(ctx, session, second)]
    qtbot.waitUntil(lambda: first.has_models() and second.has_models(), timeout=60_000)
    assert shared_model_list(ctx).entries and first.model_combo.currentData() == "vit/bundled-shapes"
    first.source_combo.setCurrentIndex(first.source_combo.findData("random"))
    first.run_button.click()
    assert session.choice.source_kind == "random"
    assert second.source_combo.currentData() == "random" and "Chosen" in second.status.text()
    assert links[0].current_choice().kind == "random"
    ctx.worker.shutdown()
