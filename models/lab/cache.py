"""Finished lab runs on disk, and the grid shipped in assets/lab.

`RunCache(folder)` keeps one JSON file per run key (written atomically: temp file, then rename). `get` gives
a finished run or None; a malformed or crafted file is ignored (as if absent) and its problem is kept in
`problems` and logged, never raised. `load_shipped_grid` reads the grid this repo ran and ships (validated:
a malformed file raises LabRecordError); `write_grid` writes one.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Iterable

from ..loading import ASSETS_DIR, atomic_write
from .records import LabRecordError, LabRunSpec, RunRecord

log = logging.getLogger(__name__)

SHIPPED_GRID = ASSETS_DIR / "lab" / "data_hunger_grid.json"
MAX_FILE_BYTES = 20_000_000


def read_json(path: Path) -> object:
    """A JSON file's content; too big, unreadable or not JSON -> LabRecordError."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise LabRecordError(f"'{path.name}' is too big for a data-lab record file.")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabRecordError(f"'{path.name}' is not a readable JSON file ({type(exc).__name__}).") from None


def write_json(path: Path, data: object) -> Path:
    text = json.dumps(data, indent=1)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


class RunCache:
    """Finished runs in `folder`, one `<spec.key>.json` each."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.problems: list[str] = []  # what was wrong with files that were ignored

    def path(self, spec: LabRunSpec) -> Path:
        return self.folder / f"{spec.key}.json"

    def get(self, spec: LabRunSpec) -> RunRecord | None:
        """The finished run of `spec`, or None (absent, unfinished, malformed or for another spec)."""
        path = self.path(spec)
        if not path.is_file():
            return None
        try:
            record = RunRecord.from_json(read_json(path))
            if record.spec != spec:
                raise LabRecordError(f"'{path.name}' holds another run ({record.spec.key}).")
        except LabRecordError as exc:
            self._report(f"Ignored the cached run '{path.name}': {exc}")
            return None
        return record if record.finished else None

    def put(self, record: RunRecord) -> Path:
        return write_json(self.path(record.spec), record.to_json())

    def finished(self) -> tuple[RunRecord, ...]:
        """Every valid finished run in the folder (malformed files ignored and reported)."""
        out = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else ():
            try:
                record = RunRecord.from_json(read_json(path))
            except LabRecordError as exc:
                self._report(f"Ignored '{path.name}': {exc}")
                continue
            if record.finished and path.name == f"{record.spec.key}.json":
                out.append(record)
        return tuple(out)

    def _report(self, message: str) -> None:
        self.problems.append(message)
        log.warning(message)


def records_from_json(data: object, what: str) -> tuple[RunRecord, ...]:
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise LabRecordError(f"{what} has no 'records' list.")
    return tuple(RunRecord.from_json(r) for r in data["records"])


def load_shipped_grid(path: Path = SHIPPED_GRID) -> tuple[RunRecord, ...]:
    """The shipped data-hunger grid (validated); () if the file is absent, LabRecordError if malformed."""
    path = Path(path)
    if not path.is_file():
        return ()
    return records_from_json(read_json(path), f"The shipped grid '{path.name}'")


def write_grid(records: Iterable[RunRecord], path: Path = SHIPPED_GRID, note: str = "") -> Path:
    return write_json(Path(path), {"note": note, "records": [r.to_json() for r in records]})
