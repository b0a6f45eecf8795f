"""Write the README's "Bundled models" table from the model cards, so the two cannot disagree.

Each card in assets/model_cards/ ends with a summary block:

    <!-- readme-summary
    order: 1
    model: Shapes ViT (conv stem, 3 blocks x 4 heads)
    tab: Attention, Patch embeddings
    weights: vit_shapes.safetensors
    quality: test accuracy 99.50%, rollout ratio 4.54 (target 4: met)
    command: python -m models.vit.evaluate
    metadata: depth=3 heads=4
    -->

The size column is measured from the weights file (decimal MB). `check_card` verifies that every number
of the summary also appears in the card's own text, that the card states the measured size, and that
the `metadata` pairs match the weights file's safetensors metadata. tests/test_readme_models.py runs
both; after changing a card or a weights file run:

    .venv/bin/python scripts/readme_models.py          # rewrite the README table
    .venv/bin/python scripts/readme_models.py --check  # exit 1 if README or a card is out of date
"""
from __future__ import annotations

import json
import re
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARDS = ROOT / "assets" / "model_cards"
WEIGHTS = ROOT / "assets" / "weights"
README = ROOT / "README.md"
START, END = "<!-- bundled-models:start -->", "<!-- bundled-models:end -->"
_BLOCK = re.compile(r"<!--\s*readme-summary\s*\n(.*?)-->", re.S)
_NUMBER = re.compile(r"\.?\d+(?:[.,]\d+)*%?")
HEADER = ("| Model | Tab | Size | Quality (command that prints it) | Card |\n"
          "| --- | --- | --- | --- | --- |\n")


@dataclass(frozen=True)
class CardSummary:
    stem: str  # card file name without .md
    order: int
    model: str
    tab: str
    weights: str  # file name in assets/weights
    quality: str
    command: str
    metadata: tuple[tuple[str, str], ...]  # (key, value) pairs the weights' metadata must hold
    body: str  # the card's text outside the summary block

    @property
    def size_mb(self) -> str:
        return f"{(WEIGHTS / self.weights).stat().st_size / 1e6:.1f} MB"

    def row(self) -> str:
        return (f"| {self.model} | {self.tab} | {self.size_mb} | {self.quality} (`{self.command}`) | "
                f"[{self.stem}](assets/model_cards/{self.stem}.md) |")


def read_card(path: Path) -> CardSummary:
    text = path.read_text(encoding="utf-8")
    m = _BLOCK.search(text)
    if m is None:
        raise ValueError(f"{path.name} has no <!-- readme-summary ... --> block")
    fields = dict(line.split(":", 1) for line in m.group(1).strip().splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    missing = {"order", "model", "tab", "weights", "quality", "command"} - set(fields)
    if missing:
        raise ValueError(f"{path.name}: the summary lacks {', '.join(sorted(missing))}")
    pairs = tuple(tuple(p.split("=", 1)) for p in fields.get("metadata", "").split() if "=" in p)
    return CardSummary(path.stem, int(fields["order"]), fields["model"], fields["tab"], fields["weights"],
                       fields["quality"], fields["command"], pairs, text[:m.start()] + text[m.end():])


def read_cards() -> list[CardSummary]:
    return sorted((read_card(p) for p in CARDS.glob("*.md")), key=lambda c: (c.order, c.stem))


def safetensors_metadata(path: Path) -> dict[str, str]:
    """The JSON header's __metadata__ (read directly: no torch needed)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > 100_000_000:
            raise ValueError(f"{path.name}: implausible header size {n}")
        return json.loads(f.read(n)).get("__metadata__", {}) or {}


def check_card(card: CardSummary) -> list[str]:
    """Disagreements between a card's summary, its own text and its weights file (empty: none)."""
    problems = []
    path = WEIGHTS / card.weights
    if not path.is_file():
        return [f"{card.stem}: weights file {card.weights} is missing"]
    if card.size_mb not in card.body:
        problems.append(f"{card.stem}: the card does not state the file's size ({card.size_mb})")
    for field in (card.model, card.quality):
        for number in _NUMBER.findall(field):
            if not re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", card.body):
                problems.append(f"{card.stem}: '{number}' (from the summary) is not in the card's text")
    meta = safetensors_metadata(path)
    for key, value in card.metadata:
        if meta.get(key) != value:
            problems.append(f"{card.stem}: metadata {key}={meta.get(key)!r} in {card.weights}, summary says {value!r}")
    return problems


def table(cards: list[CardSummary]) -> str:
    return HEADER + "\n".join(c.row() for c in cards) + "\n"


def render_readme(readme: str, cards: list[CardSummary]) -> str:
    if START not in readme or END not in readme:
        raise ValueError(f"README.md lacks the markers {START} ... {END}")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table(cards)}{END}{tail}"


def main(argv: list[str]) -> int:
    cards = read_cards()
    problems = [p for c in cards for p in check_card(c)]
    for p in problems:
        print(p, file=sys.stderr)
    current = README.read_text(encoding="utf-8")
    wanted = render_readme(current, cards)
    if "--check" in argv:
        if wanted != current:
            print("README.md's bundled-model table is out of date: run scripts/readme_models.py", file=sys.stderr)
            return 1
        return 1 if problems else 0
    if wanted != current:
        README.write_text(wanted, encoding="utf-8")
        print("README.md updated")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
