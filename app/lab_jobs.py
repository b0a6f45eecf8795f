"""The data lab's jobs as the pages submit them: torch modules are imported on the worker thread, when a job
starts; the lab's images are read once per folder and shared by every run (four runs building at once would
otherwise generate and hold four copies of the 16,000-image pool). No Qt here."""
from __future__ import annotations

import threading
from pathlib import Path

_DATA: dict[str, object] = {}
_DATA_LOCK = threading.Lock()


def shared_lab_data(cache_dir: Path):
    """models.lab.data.load_lab_data, once per folder (loader threads wait on each other here)."""
    from models.lab.data import load_lab_data

    key = str(Path(cache_dir).resolve())
    with _DATA_LOCK:
        if key not in _DATA:
            _DATA[key] = load_lab_data(Path(cache_dir))
        return _DATA[key]


def trainer_job(ctx, spec, data_dir: Path, cache_dir: Path | None = None):
    """A LabTrainer for `spec` on the worker's device (the images shared across runs, see shared_lab_data); a run
    the window closed mid-way continues where it stopped (kept in cache_dir, models.lab.unfinished)."""
    from models.jobs import Load
    from models.lab.unfinished import build_trainer

    data = yield Load(lambda: shared_lab_data(data_dir), "Preparing the lab's images")
    ctx.check_cancelled()
    device = ctx.device
    return (yield Load(lambda: build_trainer(spec, data, device, cache_dir), f"Building {spec.arch}"))


def run_job(ctx, trainer, control, cache_dir: Path | None):
    """Train a LabTrainer live (models.lab.jobs.lab_run_job), finished runs cached in cache_dir."""
    from models.lab.cache import RunCache
    from models.lab.jobs import lab_run_job

    return (yield from lab_run_job(ctx, trainer, control, RunCache(cache_dir) if cache_dir else None))


# ---- reading finished runs on the GUI thread (torch-free: models.lab.cache imports torch via models.loading) --
MAX_RECORDS_FILE = 20_000_000  # bytes, as models.lab.cache.MAX_FILE_BYTES


def _read_json(path: Path):
    import json

    if path.stat().st_size > MAX_RECORDS_FILE:
        raise ValueError("too big")
    return json.loads(path.read_text(encoding="utf-8"))


def read_grid_file(path: Path) -> tuple[tuple, str]:
    """(records, problem) of a grid file written by models.lab.cache.write_grid ({"records": [...]}); a
    missing file gives ((), ""), a malformed one ((), what is wrong): the view then starts empty."""
    from models.lab.records import RunRecord

    path = Path(path)
    if not path.is_file():
        return (), ""
    try:
        data = _read_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise ValueError("no 'records' list")
        return tuple(RunRecord.from_json(r) for r in data["records"]), ""
    except Exception as exc:  # a broken file must never stop the view opening
        return (), f"The file {path.name} could not be read ({exc})."


def read_cached_runs(folder: Path) -> tuple:
    """The finished runs of a models.lab.cache.RunCache folder (one <spec.key>.json each; bad files skipped)."""
    from models.lab.records import RunRecord

    folder = Path(folder)
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            record = RunRecord.from_json(_read_json(path))
        except Exception:
            continue
        if record.finished and path.name == f"{record.spec.key}.json":
            out.append(record)
    return tuple(out)


# ---- the fine-tune view's jobs ----------------------------------------------------------------------------
def race_job(ctx, arch: str, per_class: int, mode: str, steps: int, cache_dir: Path):
    """Pretrained vs scratch on the new shapes (models.lab.fine_tune.fine_tune_compare_job) on the worker's device."""
    from models.lab.fine_tune import fine_tune_compare_job

    return (yield from fine_tune_compare_job(ctx, arch, per_class, mode, steps, cache_dir, ctx.device))


def index_job(ctx, root: str):
    """models.lab.image_folder.index_folder_job: the folder's images by class, without decoding any."""
    from models.lab.image_folder import index_folder_job

    return (yield from index_folder_job(ctx, root))


def folder_job(ctx, model_key: str, kind: str, ref: str, index, settings: dict, control, out_dir: Path):
    """Fine-tune a classifier on an indexed folder (models.lab.user_models); settings: FineTuneConfig fields."""
    import dataclasses

    from models.lab import user_models
    from models.lab.finetune_run import FineTuneConfig
    from models.registry import ModelSource, SourceKind

    names = {f.name for f in dataclasses.fields(FineTuneConfig)}
    config = FineTuneConfig(**{k: v for k, v in settings.items() if k in names})
    source = ModelSource(SourceKind(kind), ref)
    return (yield from user_models.fine_tune_folder_job(ctx, model_key, source, index, config, control, out_dir,
                                                        ctx.device))


def list_models_job(ctx, folder: Path):
    """The registry's Compare classifiers for the pickers, with the models fine-tuned earlier (saved in `folder`,
    registered first by models.lab.user_model_store.register_user_models)."""
    from models.compare.jobs import list_models_job as list_compare
    from models.lab.user_model_store import register_user_models

    register_user_models(folder)  # reads each saved model's metadata only (broken ones are skipped)
    return (yield from list_compare(ctx))
