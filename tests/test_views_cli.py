"""--view VIEW: sub-views of a tab, addressable from the command line."""
from __future__ import annotations

import pytest

from app.__main__ import main, parse_args
from app.screenshot import screenshot_path
from app.tabs.base import TabPage


def test_view_is_parsed():
    args = parse_args(["img.png", "--tab", "attention", "--view", "qkv", "--screenshot", "out"])
    assert (args.tab, args.view, args.screenshot) == ("attention", "qkv", "out")


def test_view_without_tab_is_refused(capsys, monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert main(["--view", "qkv"]) == 2
    assert "--view needs --tab" in capsys.readouterr().err


def test_unknown_view_names_the_known_ones(qtbot):
    class Page(TabPage):
        title = "Demo"
        views = ("maps", "qkv")

    page = Page(ctx=None)
    qtbot.addWidget(page)
    page.show_view("qkv")
    with pytest.raises(ValueError, match="maps, qkv"):
        page.show_view("nope")


def test_screenshot_file_is_named_after_tab_and_view(tmp_path):
    assert screenshot_path(tmp_path, "attention", "qkv") == tmp_path / "attention-qkv.png"
    assert screenshot_path(tmp_path, "gan", None) == tmp_path / "gan.png"
