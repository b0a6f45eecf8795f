"""`python -m models.compare.evaluate` computes every figure of its table (here on random weights, small sets)."""
from __future__ import annotations

from models.compare.evaluate import figures
from models.registry import ModelSource, SourceKind


def test_every_figure_is_computed_for_a_cnn_and_a_vit():
    for key, method, stages in (("convnext", "gradcam", 4), ("vit-convstem", "rollout", 3)):
        f = figures(key, n_test=20, n_second=10, n_attr=3, source=ModelSource(SourceKind.RANDOM))
        assert 0.0 <= f["test_accuracy"] <= 1.0 and 0.0 <= f["second_dark_on_light"] <= 1.0
        assert f["attribution_method"] == method and f["attribution_ratio"] >= 0.0
        assert len(f["erf_radius_px"]) == stages and len(f["equivariance_8px"]) == stages
