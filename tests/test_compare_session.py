"""The Compare tab's session without a display: which jobs it asks for, what it re-uses, what it draws.

The jobs run for real (random-weight models from the registry) through models.jobs.run_to_completion, as
the worker service would run them; their results are handed back the way the page hands them back."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.compare_frames import erf_plot
from app.compare_session import CompareSession
from app.samples import SAMPLES_DIR
from models.compare.jobs import box_for, column_job, known_objects, unavailable_reason
from models.compare.results import ColumnBase, ColumnUnavailable, ModelRef, StageField
from models.jobs import run_to_completion

pytestmark = pytest.mark.usefixtures("one_thread")

RANDOM = (ModelRef("compare/convnext", "random"), ModelRef("compare/vit-convstem", "random"),
          ModelRef("compare/coatnet", "random"))


def _image(name: str = "shapes_triangle.png") -> np.ndarray:
    return np.asarray(Image.open(SAMPLES_DIR / name).convert("RGB"))


def _run(session: CompareSession, reqs: list | None = None) -> list:
    """Run the requests (default: every one the session asks for now, as the page would submit them) and
    hand the answers back."""
    reqs = session.requests() if reqs is None else reqs
    for req in reqs:
        result, partials = run_to_completion(req.fn, *req.args)
        for p in partials:
            session.add_result(req.column, req.generation, req.kind, req.key, p)
        session.add_result(req.column, req.generation, req.kind, req.key, result)
    return reqs


def _settle(session: CompareSession) -> int:
    """Run requests until the session asks for nothing more; returns how many jobs ran."""
    n = 0
    while True:
        reqs = _run(session)
        if not reqs:
            return n
        n += len(reqs)


@pytest.fixture(scope="module")
def loaded():
    s = CompareSession(RANDOM)
    s.set_image(_image())
    reqs = s.requests()
    assert [r.kind for r in reqs] == ["column"] * 3
    assert s.requests() == []  # pending: not asked twice
    _run(s, reqs)
    assert all(isinstance(c.base, ColumnBase) for c in s.columns)
    return s


def test_known_objects_of_the_shapes_samples():
    boxes, names = known_objects(_image("shapes_triangle.png"))
    assert names == ("triangle",) and boxes.shape == (1, 4)
    x, y, w, h = boxes[0]
    assert 0 <= x and x + w <= 224 and 0 <= y and y + h <= 224 and w > 50  # a large triangle on 224 px
    scene_boxes, scene_names = known_objects(_image("shapes_scene_2.png"))
    assert len(scene_names) >= 3 and scene_boxes.shape == (len(scene_names), 4)
    assert known_objects(_image("chelsea.jpg"))[1] == ()
    big = box_for(scene_boxes, scene_names, scene_names[0])
    same = [b for b, n in zip(scene_boxes, scene_names) if n == scene_names[0]]
    assert big[2] * big[3] == max(b[2] * b[3] for b in same)
    assert box_for(scene_boxes, scene_names, "no such class") is None


def test_attribution_maps_with_box_ratio_and_the_caption(loaded):
    s = loaded
    ran = _settle(s)
    assert ran == 3  # one attribution job per column, nothing else
    frame = s.render()
    for col in frame.columns:
        a = col.attribution
        assert a.heatmap is not None and a.heatmap.shape == (64, 64) and a.heatmap.max() == pytest.approx(1.0)
        assert a.box is not None  # the triangle's box, in model-input pixels
        assert "density in the object's box" in a.caption and "%" in a.caption
        assert len(col.top5.split("%")) == 6
    methods = {c.base.family: s.methods(c) for c in s.columns}
    assert "rollout" in methods["vit"] and "rollout" not in methods["cnn"]
    assert methods["vit"][0] == "rollout" and methods["cnn"][0] == "gradcam"  # each family's natural default


def test_slider_and_view_changes_reuse_results(loaded):
    s = loaded
    _settle(s)
    s.set_depth(0.0)
    first = _settle(s)
    assert first == 2  # CAMs of the CNN and the hybrid at their first stages; the ViT's rollout spans every block
    s.set_depth(1.0)
    assert s.requests() == []  # back to the last stage: cached
    s.set_view("hierarchy")
    reqs = s.requests()
    assert sorted(r.kind for r in reqs) == ["features"] * 3 + ["hierarchy"] * 3
    _run(s, reqs)
    assert s.requests() == []
    s.set_view("attribution")
    assert s.requests() == []
    before = s.render()
    s.set_view("hierarchy")
    s.set_view("attribution")
    after = s.render()
    assert all(a.attribution.heatmap is b.attribution.heatmap for a, b in zip(before.columns, after.columns))


def test_method_and_class_choices(loaded):
    s = loaded
    vit = 1
    s.set_method(vit, "grad-rollout")
    s.set_class(vit, 2)
    reqs = s.requests()
    assert [(r.column, r.key) for r in reqs] == [(vit, ("attribution", -1, "grad-rollout", 2))]
    _run(s, reqs)
    a = s.render().columns[vit].attribution
    assert a.method == "grad-rollout" and a.class_choice == 2 and "triangle" in a.caption
    s.set_method(0, "rollout")  # does not apply to a CNN: it falls back to the first method
    assert s.method(s.columns[0]) == "gradcam"
    s.set_class(vit, -1)
    assert s.class_index(s.columns[vit]) == int(np.argmax(s.columns[vit].base.probabilities))


def test_hierarchy_selection_follows_the_slider_until_clicked(loaded):
    s = loaded
    s.set_view("hierarchy")
    s.set_depth(1.0)
    _settle(s)
    cnn = s.columns[0]
    assert s.shown_stage(cnn) == len(cnn.base.stages) - 1
    s.select_stage(0, 1)
    reqs = s.requests()
    assert [(r.column, r.key) for r in reqs] == [(0, ("features", 1))]
    _run(s, reqs)
    h = s.render().columns[0].hierarchy
    assert h.selected == 1 and h.feature_maps is not None and h.feature_maps.shape[:2] == (4, 4)
    assert len(h.boxes) == 4 and all(len(b.lines) == 2 for b in h.boxes)  # shape + params/FLOPs/ms
    assert [b.resolution for b in h.boxes] == [1 / 4, 1 / 8, 1 / 16, 1 / 32]
    vit_h = s.render().columns[1].hierarchy
    assert vit_h.feature_rgb is not None and vit_h.feature_rgb.dtype == np.uint8
    s.set_depth(0.0)
    assert s.shown_stage(cnn) == 0
    s.set_view("attribution")


def test_receptive_field_and_equivariance_views(loaded):
    s = loaded
    s.set_view("receptive-field")
    s.set_depth(0.0)
    reqs = s.requests()
    assert [r.kind for r in reqs] == ["erf"] * 3 and reqs[0].args[2][0] == 0  # the slider's stage first
    _run(s, reqs)
    assert s.requests() == []
    frame = s.render()
    assert all(col.field.erf is not None for col in frame.columns)
    radii = [c for c in frame.erf_curves if not c.dashed]
    assert len(radii) == 3 and all(np.isfinite(c.y).all() for c in radii)
    cnn_theory = next(c for c in frame.erf_curves if c.dashed)
    assert np.all(np.diff(cnn_theory.y[np.isfinite(cnn_theory.y)]) >= 0)  # a CNN's field only grows
    s.set_view("equivariance")
    _settle(s)
    e = s.render().columns[0].equivariance
    assert len(e.error_curves) == 4 and e.tiles.shape == (3, 64, 64, 3) and len(e.tile_texts) == 3
    assert e.error_curves[0].y[0] == pytest.approx(0.0, abs=1e-6)  # no shift, no error
    assert e.occlusion.shape == (64, 64)
    s.set_view("attribution")


def test_stale_answers_are_dropped_and_models_swap():
    s = CompareSession(RANDOM[:2] + (RANDOM[0],))
    s.set_image(_image())
    old = s.requests()
    s.set_image(_image("shapes_square.png"))
    base, _ = run_to_completion(old[0].fn, *old[0].args)
    assert not s.add_result(0, old[0].generation, "column", ("column",), base)
    assert s.columns[0].base is None
    s.set_count(2)
    assert len(s.columns) == 2


def test_missing_bundled_weights_say_how_to_train(tmp_path, monkeypatch):
    import models.loading

    monkeypatch.setattr(models.loading, "WEIGHTS_DIR", tmp_path)
    ref = ModelRef("compare/coatnet", "bundled")
    assert unavailable_reason(ref).startswith("weights not trained yet: run python -m models.compare.train coatnet")
    result, _ = run_to_completion(column_job, ref, _image())
    assert isinstance(result, ColumnUnavailable)
    s = CompareSession((ref, RANDOM[1], RANDOM[2]))
    s.set_image(_image())
    s.add_result(0, s.generation, "column", ("column",), result)
    frame = s.render().columns[0]
    assert "python -m models.compare.train coatnet" in frame.message


def test_erf_plot_leaves_gaps_and_clips_the_theoretical_field():
    from models.compare.stages import StageInfo

    stages = tuple(StageInfo(i, f"s{i}", "nchw", 8, (8 >> i, 8 >> i), 8 << i, 0, i / 2) for i in range(3))
    base = ColumnBase(ModelRef("k", "random"), "Net", "cnn", np.zeros((64, 64, 3), np.uint8), stages, ("a",),
                      np.ones(1, np.float32), False, np.zeros((0, 4), np.float32), ())
    fields = {0: StageField(base.model, 0, np.zeros((64, 64)), 8.0, 16.0, 16),
              2: StageField(base.model, 2, np.zeros((64, 64)), 32.0, 400.0, 16)}
    radius, theory = erf_plot([(base, fields)])
    assert radius.y[0] == pytest.approx(8 / 64) and np.isnan(radius.y[1])
    assert theory.dashed and theory.y[0] == pytest.approx(16 / 2 / 64) and theory.y[2] == 1.0


def test_log_scale_keeps_the_far_tail_visible():
    from app.compare_session import log_scale

    erf = np.array([[1.0, 1e-2, 1e-4, 0.0]], np.float32)
    assert np.allclose(log_scale(erf, 4), [[1.0, 0.5, 0.0, 0.0]], atol=1e-6)


def test_random_models_loaded_in_parallel_get_their_seeded_weights():
    """The columns load on parallel loader threads; each random-weight loader seeds torch's global RNG, so the
    loads must not interleave (they did: the same model got other weights on every start)."""
    import threading

    import torch

    from models.compare.jobs import locked_load

    expected = {r.key: locked_load(r, "cpu") for r in RANDOM}
    got: dict = {}
    threads = [threading.Thread(target=lambda r=r: got.__setitem__((r.key, i), locked_load(r, "cpu")))
               for i in range(2) for r in RANDOM]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (key, _), sm in got.items():
        ref_params = dict(expected[key].model.named_parameters())
        assert all(torch.equal(p, ref_params[n]) for n, p in sm.model.named_parameters()), key


def test_an_empty_map_has_no_box_ratio_and_says_so(loaded):
    from models.compare.results import AttributionResult

    s = loaded
    s.set_view("attribution")
    s.set_depth(1.0)
    c = s.columns[0]
    key = s._attribution_request(c)[0]
    c.results[key] = AttributionResult(c.model, key[1], key[2], key[3], np.zeros((64, 64), np.float32), 0.5, None)
    assert "the map is empty" in s.render().columns[0].attribution.caption
    from models.compare.jobs import attribution_job

    flat = np.full((64, 64, 3), 128, np.uint8)  # a flat image: a random CNN's last-stage CAM can be all zero
    result, _ = run_to_completion(attribution_job, c.model, flat, c.base.stages[-1], "gradcam", 0,
                                  np.array([10, 10, 20, 20], np.float32))
    assert result.box_ratio is None or np.isfinite(result.box_ratio)


def test_a_depth_change_rebuilds_only_what_depends_on_depth(loaded):
    """Values that do not depend on the depth are the same objects after a slider move (the page skips
    redrawing what it drew: `CompareColumn._changed` compares identities)."""
    s = loaded
    s.set_view("hierarchy")
    s.set_depth(1.0)
    _settle(s)
    s.select_stage(0, 1)  # column 0 keeps a clicked stage: its panel does not follow the slider...
    _settle(s)
    before = s.render()
    again = s.render()
    assert all(a.hierarchy is b.hierarchy for a, b in zip(before.columns, again.columns))  # nothing changed
    s.select_stage(0, 1)
    s.set_depth(0.0)  # ...but the slider takes every selection with it: every column shows a new stage
    _settle(s)
    after = s.render()
    assert all(a.hierarchy is not b.hierarchy for a, b in zip(before.columns, after.columns))
    assert all(b.hierarchy.selected == 0 for b in after.columns)
    s.set_view("equivariance")
    _settle(s)
    e0 = s.render().columns[0].equivariance
    s.set_depth(1.0)
    e1 = s.render().columns[0].equivariance
    # the stage under the slider is drawn wider; the data arrays, the probe images and the y range stay
    assert e0 is not e1 and e0.error_curves[0].y is e1.error_curves[0].y and e0.tiles is e1.tiles
    assert e0.error_range == e1.error_range
    assert [c.width for c in e1.error_curves][-1] > [c.width for c in e0.error_curves][-1]
    s.set_view("attribution")
    a0 = s.render().columns[0].attribution
    s.set_view("receptive-field")
    s.set_view("attribution")
    assert s.render().columns[0].attribution.heatmap is a0.heatmap


def test_equivariance_error_range_holds_every_curve(loaded):
    s = loaded
    s.set_view("equivariance")
    _settle(s)
    for col in s.render().columns:
        e = col.equivariance
        lo, hi = e.error_range
        ys = np.concatenate([c.y for c in e.error_curves])
        assert lo == 0.0 and hi >= np.nanmax(ys) > 0
    s.set_view("attribution")

