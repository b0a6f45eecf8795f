"""The README's bundled-model table is generated from the model cards (scripts/readme_models.py), and
each card agrees with itself and with its weights file: the README can't drift from the cards again."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("readme_models", ROOT / "scripts" / "readme_models.py")
rm = importlib.util.module_from_spec(_spec)
sys.modules["readme_models"] = rm  # dataclasses look their module up
_spec.loader.exec_module(rm)


def test_every_bundled_weights_file_has_a_card_in_the_table():
    cards = rm.read_cards()
    stems = {c.weights for c in cards}
    assert {"vit_shapes.safetensors", "detr_shapes.safetensors", "gan_dcgan_sprites32.safetensors",
            "ddpm_shapes.safetensors"} <= stems


def test_the_readme_table_is_the_one_generated_from_the_cards():
    readme = rm.README.read_text(encoding="utf-8")
    assert rm.render_readme(readme, rm.read_cards()) == readme, \
        "README.md is out of date: run .venv/bin/python scripts/readme_models.py"


def test_each_card_agrees_with_its_own_text_and_its_weights_file():
    problems = [p for card in rm.read_cards() for p in rm.check_card(card)]
    assert not problems, "\n".join(problems)


def test_the_checks_catch_what_went_wrong_before(tmp_path):
    """The old README said 4 blocks, 1.5 MB and ratio 3.4 while the card said 3 blocks, 1.2 MB and another ratio."""
    readme = rm.README.read_text(encoding="utf-8")
    stale = readme.replace("3 blocks x 4 heads", "4 blocks x 4 heads")
    assert rm.render_readme(stale, rm.read_cards()) != stale
    card_text = (rm.CARDS / "vit_shapes.md").read_text(encoding="utf-8")
    bad = tmp_path / "vit_shapes.md"
    bad.write_text(card_text.replace("density ratio 5.88;", "density ratio 3.47;")
                   .replace("metadata: depth=3", "metadata: depth=4")
                   .replace("(1.2 MB,", "(1.5 MB,"), encoding="utf-8")
    problems = "\n".join(rm.check_card(rm.read_card(bad)))
    assert "'3.47'" in problems and "depth" in problems and "1.2 MB" in problems


def test_the_script_check_mode_passes_on_the_tree():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_models.py"), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
