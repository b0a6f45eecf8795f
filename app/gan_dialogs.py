"""The GAN image page's dialogs (the page's hooks call them; tests answer the hooks instead)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from .gan_session import CloseChoice


def ask_close_dialog(parent: QWidget, question: str) -> CloseChoice:
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(parent, "Unsaved GAN run", question,
                                  buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
    return {buttons.Save: CloseChoice.SAVE, buttons.Discard: CloseChoice.DISCARD}.get(answer, CloseChoice.CANCEL)


RUN_SUFFIX = ".safetensors"


def ask_save_path(parent: QWidget, start: str, refuse: Callable[[str], None]) -> str:
    """The path the user confirmed, exactly; '' (after saying why) when it is not a .safetensors name: adding
    the suffix here would write a file the dialog never confirmed (and perhaps overwrite it unasked)."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save GAN run", start, "GAN runs (*.safetensors)")
    if path and not path.lower().endswith(RUN_SUFFIX):
        refuse(f"Not saved: a GAN run is a {RUN_SUFFIX} file. Choose a name ending in {RUN_SUFFIX} "
               f"(not '{Path(path).name}').")
        return ""
    return path


def ask_data_folder(parent: QWidget, run_name: str, start: str) -> str:
    return QFileDialog.getExistingDirectory(
        parent, f"'{run_name}' was trained on a folder of images: which folder?", start)
