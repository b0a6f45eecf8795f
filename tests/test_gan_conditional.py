"""The class-conditional GAN in the tab: the class jobs (one noise through every class, one class with many noise
vectors), the latent strips of a conditional run, and the Qt-free sessions' values (the class panel, the techniques
in the form's config, the coverage history of a reopened run)."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import pytest

from app.gan_conditional_session import (CONDITIONAL_HINT, GRID_COUNT, NOT_CONDITIONAL_HINT, GanConditionalSession)
from app.gan_session import DEFAULTS, RECIPE, GanImageSession

SHAPES = ("circle", "square", "triangle", "star", "hexagon", "cross")


@pytest.fixture(scope="module")
def cond_trainer(one_thread):
    from models.gan.config import GanConfig, TrainConfig
    from models.gan.data import DataRequest, load_labelled_images
    from models.gan.trainer import GanTrainer

    cfg = TrainConfig(gan=GanConfig(image_size=32, latent_size=16, width=8, spectral_norm=True, num_classes=6),
                      loss="hinge", batch_size=8, num_train_images=64, grid_samples=36)
    images, labels = load_labelled_images("shapes", DataRequest("", 32, 0, 64))
    t = GanTrainer(cfg, images, labels=labels)
    t.train_step()
    return t


def test_one_noise_vector_through_every_class(cond_trainer):
    from models.gan.conditional_job import class_strip_job
    from models.jobs import run_to_completion

    out = run_to_completion(class_strip_job, cond_trainer, 7)[0]
    assert out.kind == "classes" and out.images.shape == (6, 32, 32, 3) and out.classes == tuple(range(6))
    assert out.class_names == SHAPES and len(out.judged) in (0, 6)
    assert out.mosaic.shape[1] > 5 * out.mosaic.shape[0]  # one row
    z = cond_trainer.fixed_z[7].repeat(6, 1)
    import torch
    from models.gan.data import to_uint8_hwc
    np.testing.assert_array_equal(out.images, to_uint8_hwc(cond_trainer.sample(z, torch.arange(6))))


def test_one_class_many_noise_vectors_is_seeded(cond_trainer):
    from models.gan.conditional_job import class_grid_job
    from models.jobs import run_to_completion

    a = run_to_completion(class_grid_job, cond_trainer, 3, 16, 5)[0]
    b = run_to_completion(class_grid_job, cond_trainer, 3, 16, 5)[0]
    c = run_to_completion(class_grid_job, cond_trainer, 3, 16, 6)[0]
    assert a.kind == "noise" and a.classes == (3,) * 16 and a.images.shape == (16, 32, 32, 3)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)


def test_class_jobs_refuse_an_unconditional_run_and_unknown_classes(cond_trainer, one_thread):
    from models.errors import UserFacingError
    from models.gan.conditional_job import class_grid_job, class_strip_job
    from models.gan.config import GanConfig, TrainConfig
    from models.gan.data import DataRequest, load_images
    from models.gan.trainer import GanTrainer
    from models.jobs import run_to_completion

    plain = GanTrainer(TrainConfig(gan=GanConfig(latent_size=16, width=8), batch_size=8, num_train_images=16),
                       load_images("shapes", DataRequest("", 32, 0, 16)))
    with pytest.raises(UserFacingError, match="not class-conditional"):
        run_to_completion(class_strip_job, plain, 0)
    with pytest.raises(UserFacingError, match="no class 6"):
        run_to_completion(class_grid_job, cond_trainer, 6)


def test_latent_strips_of_a_conditional_run_keep_the_class_of_the_start_cell(cond_trainer):
    from models.gan.data import to_uint8_hwc
    from models.gan.latent_job import interpolation_job
    from models.jobs import run_to_completion

    grid = to_uint8_hwc(cond_trainer.sample())  # (36, S, S, 3); row r of the grid is class r
    out = run_to_completion(interpolation_job, cond_trainer, 2, 8, 8, "linear")[0]
    np.testing.assert_array_equal(out.images[0], grid[2])  # cell 2 is class 0, as is the whole strip


@dataclass(frozen=True)
class Result:  # the fields of models.gan.conditional_job.ClassImages the session reads
    kind: str
    classes: tuple
    judged: tuple
    class_names: tuple = SHAPES
    step: int = 1200
    mosaic: np.ndarray = field(default_factory=lambda: np.zeros((4, 4, 3), np.uint8))


def test_class_panel_session_offers_the_classes_only_for_a_conditional_run():
    s = GanConditionalSession()
    off = s.run_ready(0, SHAPES)
    assert not off.enabled and off.class_names == () and off.hint == NOT_CONDITIONAL_HINT and not s.conditional
    on = s.run_ready(6, SHAPES)
    assert on.enabled and on.class_names == SHAPES and on.hint == CONDITIONAL_HINT
    s.pick_class(3)
    assert s.grid_args() == (3, GRID_COUNT, 0)
    s.new_noise()
    assert s.grid_args() == (3, GRID_COUNT, 1)
    s.pick_cell(11)
    assert s.strip_args() == (11,)
    with pytest.raises(ValueError):
        s.pick_class(6)


def test_class_panel_captions_say_what_the_judge_saw():
    s = GanConditionalSession()
    s.run_ready(6, SHAPES)
    s.pick_class(3)
    grid = s.view(Result("noise", (3,) * 4, ("star", "star", "not a shape", "star")))
    assert "4 stars asked for" in grid.caption and "calls 3 of them stars" in grid.caption
    assert grid.agreement == pytest.approx(0.75)
    s.pick_cell(4)
    strip = s.view(Result("classes", tuple(range(6)), SHAPES))
    assert strip.caption.startswith("Cell 5's noise") and "agrees on 6 of 6" in strip.caption
    assert s.view(Result("noise", (5,) * 2, ())).agreement is None  # no judge: no claim
    assert "crosses" in s.view(Result("noise", (5,) * 2, ())).caption


def test_the_form_techniques_reach_the_config():
    cfg = GanImageSession.config({**DEFAULTS, **RECIPE, "width": 48, "d_width": 64, "num_classes": 6,
                                  "latent_codes": 0})
    assert (cfg.gan.width, cfg.gan.d_width, cfg.gan.spectral_norm, cfg.gan.num_classes) == (48, 64, True, 6)
    assert (cfg.loss, cfg.diffaugment, cfg.g_ema) == ("hinge", "translation", 0.999)
    bundled = GanImageSession.config({**DEFAULTS, **RECIPE})  # the bundled unconditional run's recipe
    assert (bundled.gan.latent_codes, bundled.gan.code_mode, bundled.gan.num_classes) == (6, "clusters", 0)
    from models.gan.train_bundled import RECIPES

    script = RECIPES["unconditional-clusters"].config  # the button gives what the bundled run was trained with
    assert bundled.gan == script.gan
    keys = ("loss", "lr_g", "lr_d", "beta1_g", "beta2_g", "beta1_d", "beta2_d", "batch_size", "diffaugment", "g_ema")
    assert {k: getattr(bundled, k) for k in keys} == {k: getattr(script, k) for k in keys}
    plain = GanImageSession.config(DEFAULTS)
    assert not plain.gan.spectral_norm and plain.diffaugment == "" and plain.gan.num_classes == 0


@dataclass(frozen=True)
class Ready:  # the fields of models.gan.session.RunReady the session reads
    coverage: np.ndarray
    step: int = 300
    trainer: object = "trainer"
    title: str = "Loaded run"
    config: dict = None
    metrics: np.ndarray = field(default_factory=lambda: np.zeros((0, 7), np.float32))
    diversity: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    grids: tuple = ()
    grid_stride: int = 1
    real_grid: np.ndarray = field(default_factory=lambda: np.zeros((4, 4, 3), np.uint8))
    elapsed_s: float = 1.0
    current_grid: tuple = field(default_factory=lambda: (300, np.zeros((4, 4, 3), np.uint8)))
    device: str = "cpu"
    coverage_names: tuple = SHAPES + ("not a shape",)


def test_a_reopened_run_shows_its_coverage_history():
    rows = np.array([[100, 9.0, 1, 0, 0, 0, 0, 0, 0], [200, 5.0, 0.5, 0.5, 0, 0, 0, 0, 0],
                     [300, 2.0, 0.2, 0.2, 0.2, 0.2, 0.1, 0.1, 0]], np.float32)
    s = GanImageSession()
    cfg = {"gan": {"image_size": 32, "latent_size": 64, "width": 32, "d_width": 0, "spectral_norm": True,
                   "num_classes": 6}, "loss": "hinge", "diffaugment": "translation"}
    view = s.run_ready(Ready(rows, config=cfg))
    assert view.curves.fd_steps.tolist() == [100, 200, 300] and view.curves.fd.tolist() == [9.0, 5.0, 2.0]
    step, shares, names = view.coverage
    assert step == 300 and shares.tolist() == pytest.approx([0.2, 0.2, 0.2, 0.2, 0.1, 0.1, 0]) and len(names) == 7
    assert s.coverage_at(250)[0] == 200 and s.coverage_at(50) is None  # the grid chosen in the history slider
    assert view.form_values["num_classes"] == 6 and view.form_values["d_width"] == 32  # 0 shows as "as G"
    assert view.form_values["spectral_norm"] and view.form_values["diffaugment"] == "translation"


def test_an_old_run_without_coverage_shows_none():
    s = GanImageSession()
    view = s.run_ready(Ready(np.zeros((0, 9), np.float32), config={"gan": {}}))
    assert view.coverage is None and len(view.curves.fd_steps) == 0


def test_the_conditional_session_loads_neither_qt_nor_torch():
    import subprocess
    code = ("import sys, app.gan_conditional_session; "
            "bad = [m for m in ('torch', 'PySide6') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_the_class_panel_asks_for_the_picked_class(qtbot):
    from widgets.gan_class_panel import GanClassPanel

    panel = GanClassPanel()
    qtbot.addWidget(panel)
    panel.set_classes((), False, NOT_CONDITIONAL_HINT)
    assert not panel.grid_btn.isEnabled() and not panel.picker.isEnabled()
    panel.set_classes(SHAPES, True, CONDITIONAL_HINT)
    assert panel.picker.itemText(3) == "a star"
    with qtbot.waitSignal(panel.grid_requested) as asked:
        panel.picker.setCurrentIndex(3)  # picking a class asks for it at once
    assert asked.args == [3]
    with qtbot.waitSignal(panel.new_noise_requested) as fresh:
        panel.noise_btn.click()
    assert fresh.args == [3]
    panel.set_cell(6)
    assert panel.strip_btn.text() == "Every class, cell 7"
    assert panel.hint.isHidden()  # shown only to say why a run offers no classes
    with qtbot.waitSignal(panel.strip_requested):
        panel.strip_btn.click()


def test_the_bundled_conditional_run_loads_and_draws_the_class_asked_for(one_thread):
    from models.gan.catalog import CONDITIONAL_RUN
    from models.gan.checkpoint import load_run
    from models.gan.conditional_job import class_grid_job, class_strip_job
    from models.jobs import run_to_completion

    if not CONDITIONAL_RUN.is_file():
        pytest.skip("the bundled conditional run is not in assets/weights")
    import torch
    t = load_run(CONDITIONAL_RUN, images=torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    g = t.config.gan
    assert (g.num_classes, g.spectral_norm, t.config.loss) == (6, True, "hinge") and t.G_ema is not None
    assert len(t.coverage) > 10 and t.coverage.view()[:, 0].max() <= t.step  # the coverage history is bundled
    out = run_to_completion(class_strip_job, t, 0)[0]
    assert out.images.shape == (6, 32, 32, 3) and len(out.judged) == 6
    circles = run_to_completion(class_grid_job, t, 0, 16, 0)[0]  # circles: ~99% judged as asked (card)
    assert sum(j == "circle" for j in circles.judged) >= 12
