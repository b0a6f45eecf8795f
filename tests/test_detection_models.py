"""Detectors loaded through the registry's real paths, from weights saved in their real formats (no Qt)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models.detection.jobs import load_detector
from models.shapes import DETECTION, generate


@pytest.fixture(scope="module")
def tiny_detr_folder(tmp_path_factory) -> Path:
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessor, ResNetConfig

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-detr")
    backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 8, 16, 16], depths=[1, 1, 1, 1], out_features=["stage4"])
    config = DetrConfig(use_timm_backbone=False, use_pretrained_backbone=False, backbone_config=backbone, d_model=32,
                        encoder_layers=1, decoder_layers=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                        encoder_attention_heads=2, decoder_attention_heads=2, num_queries=10,
                        id2label={0: "cat", 1: "dog", 2: "bird"}, label2id={"cat": 0, "dog": 1, "bird": 2})
    DetrForObjectDetection(config).save_pretrained(folder)
    DetrImageProcessor(size={"shortest_edge": 128, "longest_edge": 200}).save_pretrained(folder)
    return folder


def test_hf_detr_from_a_saved_folder_runs_and_gives_attention(tiny_detr_folder):
    det = load_detector("detection/hf-detr", str(tiny_detr_folder), "cpu")
    image = np.random.default_rng(0).integers(0, 255, (90, 150, 3), dtype=np.uint8)
    r = det.predict(image)
    assert r.class_names == ("cat", "dog", "bird") and not r.needs_nms
    assert r.boxes.shape == (10, 4) and set(r.query_index) == set(range(10))
    q, heads, gh, gw = r.cross_attention.shape
    assert (q, heads) == (10, 2) and r.attention_grid == (gh, gw)
    np.testing.assert_allclose(r.cross_attention.sum((2, 3)), 1.0, rtol=1e-4)  # softmax over image cells
    assert r.encoder_attention.shape == (gh * gw, gh * gw)
    np.testing.assert_allclose(r.encoder_attention.sum(1), 1.0, rtol=1e-4)
    # our post-processing equals transformers' own on the same outputs (softmax, drop "no object", rescale)
    inputs = det.processor(images=image, return_tensors="pt")
    with torch.no_grad():
        out = det.model(**inputs)
    ref = det.processor.post_process_object_detection(out, threshold=0.0, target_sizes=[(90, 150)])[0]
    order = np.argsort(-r.scores, kind="stable")
    ref_order = np.argsort(-ref["scores"].numpy(), kind="stable")
    np.testing.assert_allclose(r.scores[order], ref["scores"].numpy()[ref_order], rtol=1e-5)
    np.testing.assert_array_equal(r.labels[order], ref["labels"].numpy()[ref_order])
    np.testing.assert_allclose(r.boxes[order], ref["boxes"].numpy()[ref_order], rtol=1e-4, atol=1e-3)


def test_a_missing_hf_model_is_a_clear_message(tmp_path):
    from models.errors import UserFacingError

    with pytest.raises(UserFacingError, match="does not exist"):
        load_detector("detection/hf-detr", str(tmp_path / "nothing-here"), "cpu")


def test_hf_deformable_detr_gives_sampling_points(tmp_path):
    from transformers import (DeformableDetrConfig, DeformableDetrForObjectDetection, DeformableDetrImageProcessor,
                              ResNetConfig)

    torch.manual_seed(0)
    backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 8, 16, 16], depths=[1, 1, 1, 1],
                            out_features=["stage2", "stage3", "stage4"])
    config = DeformableDetrConfig(use_timm_backbone=False, use_pretrained_backbone=False, backbone_config=backbone,
                                  d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=64,
                                  decoder_ffn_dim=64, encoder_attention_heads=2, decoder_attention_heads=2,
                                  num_queries=10, num_feature_levels=3, id2label={0: "a", 1: "b"}, label2id={"a": 0, "b": 1})
    DeformableDetrForObjectDetection(config).save_pretrained(tmp_path)
    DeformableDetrImageProcessor(size={"shortest_edge": 128, "longest_edge": 200}).save_pretrained(tmp_path)
    r = load_detector("detection/hf-deformable-detr", str(tmp_path), "cpu").predict(
        np.full((90, 150, 3), 120, np.uint8))
    heads, levels, points = 2, 3, config.decoder_n_points
    assert r.sampling_points.shape == (10, heads * levels * points, 2)
    np.testing.assert_allclose(r.sampling_weights.sum(1), heads, rtol=1e-4)  # softmax per head
    assert r.cross_attention is None and r.query_index.max() < 10


def test_torchvision_detector_from_weights_where_torchvision_looks(tmp_path, monkeypatch):
    import torchvision.models.detection as tvd

    from models.loading import hub_checkpoint_path

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    weights = tvd.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1
    path = hub_checkpoint_path(weights.url)
    assert str(path).startswith(str(tmp_path))
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    model = tvd.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    torch.save(model.state_dict(), path)
    det = load_detector("detection/tv-ssdlite", "", "cpu")
    assert det.needs_nms and det.class_names[1] == "person" and len(det.class_names) == 91
    r = det.predict(np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8))
    assert r.needs_nms and r.boxes.shape[1] == 4 and len(r.scores) == len(r.labels)
    assert r.cross_attention is None and r.encoder_attention is None


def test_bundled_detector_from_a_checkpoint_scales_boxes_and_captures_attention(tmp_path):
    from models.detection.detr_model import ShapesDETR
    from models.detection.train import save_final

    torch.manual_seed(0)
    path = tmp_path / "detr.safetensors"
    save_final(ShapesDETR(), {}, {}, path)
    from models.detection.bundled import BundledDetector, load_bundled_model

    det = BundledDetector(load_bundled_model(path))
    image = np.kron(generate(1, 5, DETECTION)[0].image, np.ones((2, 2, 1), np.uint8))  # 192 x 192
    r = det.predict(image)
    assert r.cross_attention.shape == (15, 8, 12, 12) and r.encoder_attention.shape == (144, 144)
    np.testing.assert_allclose(r.cross_attention.sum((2, 3)), 1.0, rtol=1e-4)
    small = det.predict(image[::2, ::2].copy())  # the same scene at 96 px: boxes half the size
    np.testing.assert_allclose(r.boxes, small.boxes * 2, rtol=1e-3, atol=0.5)


def test_a_checkpoint_of_another_model_is_refused_clearly(tmp_path):
    from safetensors.torch import save_file

    from models.detection.bundled import load_bundled_model
    from models.errors import CheckpointError

    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(3, 3)}, str(path))
    with pytest.raises(CheckpointError, match="does not fit"):
        load_bundled_model(path)


def test_set_loss_training_fits_a_small_batch():
    from models.detection.config import DetrConfig
    from models.detection.data import ShapesDetectionSet
    from models.detection.detr_model import ShapesDETR
    from models.detection.losses import set_loss

    torch.manual_seed(0)
    model = ShapesDETR(DetrConfig(backbone_channels=(16, 32, 32, 32, 32), d_model=32, heads=2, ffn=64,
                                  encoder_layers=1, decoder_layers=2))
    data = ShapesDetectionSet(4, seed=3)
    images, targets = data.batch(np.arange(4), np.random.default_rng(0), augment=False)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(40):
        out = model(images)
        loss, _ = set_loss(out["logits"], out["boxes"], targets, model.config.num_classes)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])


def test_hf_rt_detr_gives_top_k_sigmoid_detections_and_sampling_points(tmp_path):
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessor, RTDetrResNetConfig

    torch.manual_seed(0)
    backbone = RTDetrResNetConfig(embedding_size=16, hidden_sizes=[32, 32, 64, 64], depths=[1, 1, 1, 1],
                                  out_features=["stage2", "stage3", "stage4"])
    config = RTDetrConfig(backbone_config=backbone, use_pretrained_backbone=False, encoder_in_channels=[32, 64, 64],
                          encoder_hidden_dim=32, decoder_in_channels=[32, 32, 32], d_model=32, encoder_ffn_dim=64,
                          decoder_ffn_dim=64, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
                          num_queries=20, id2label={0: "a", 1: "b"}, label2id={"a": 0, "b": 1})
    RTDetrForObjectDetection(config).save_pretrained(tmp_path)
    RTDetrImageProcessor(size={"height": 128, "width": 128}).save_pretrained(tmp_path)
    r = load_detector("detection/hf-rt-detr", str(tmp_path), "cpu").predict(
        np.random.default_rng(0).integers(0, 255, (90, 150, 3), dtype=np.uint8))
    assert r.boxes.shape == (40, 4) and np.all(np.diff(r.scores) <= 0)  # top (query, class) pairs, best first
    assert r.sampling_points.shape[0] == 20 and r.query_index.max() < 20


def test_hf_rf_detr_through_transformers_gives_sampling_points(tmp_path):
    from transformers import RfDetrConfig, RfDetrForObjectDetection, RfDetrImageProcessor

    torch.manual_seed(0)
    backbone = {"model_type": "rf_detr_dinov2", "image_size": 128, "hidden_size": 32, "num_hidden_layers": 4,
                "num_attention_heads": 2, "patch_size": 16, "out_features": ["stage2", "stage4"]}
    config = RfDetrConfig(backbone_config=backbone, d_model=32, decoder_ffn_dim=64, decoder_layers=2,
                          decoder_self_attention_heads=2, decoder_cross_attention_heads=2, num_queries=12, group_detr=1,
                          id2label={0: "a", 1: "b"}, label2id={"a": 0, "b": 1})
    RfDetrForObjectDetection(config).save_pretrained(tmp_path)
    RfDetrImageProcessor(size={"height": 128, "width": 128}).save_pretrained(tmp_path)
    r = load_detector("detection/hf-rf-detr", str(tmp_path), "cpu").predict(np.full((90, 150, 3), 90, np.uint8))
    assert r.class_names == ("a", "b") and r.boxes.shape == (24, 4)
    assert r.sampling_points.shape[0] == 12 and np.isfinite(r.sampling_points).all()


def test_hf_conditional_detr_sigmoid_postprocessing_matches_transformers(tmp_path):
    from transformers import (ConditionalDetrConfig, ConditionalDetrForObjectDetection, ConditionalDetrImageProcessor,
                              ResNetConfig)

    torch.manual_seed(0)
    backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 8, 16, 16], depths=[1, 1, 1, 1], out_features=["stage4"])
    config = ConditionalDetrConfig(use_timm_backbone=False, use_pretrained_backbone=False, backbone_config=backbone,
                                   d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                                   encoder_attention_heads=2, decoder_attention_heads=2, num_queries=10,
                                   id2label={0: "a", 1: "b"}, label2id={"a": 0, "b": 1})
    ConditionalDetrForObjectDetection(config).save_pretrained(tmp_path)
    ConditionalDetrImageProcessor(size={"shortest_edge": 128, "longest_edge": 200}).save_pretrained(tmp_path)
    det = load_detector("detection/hf-conditional-detr", str(tmp_path), "cpu")
    image = np.random.default_rng(0).integers(0, 255, (90, 150, 3), dtype=np.uint8)
    r = det.predict(image)
    assert r.cross_attention.shape[:2] == (10, 2) and r.encoder_attention is not None
    with torch.no_grad():
        out = det.model(**det.processor(images=image, return_tensors="pt"))
    ref = det.processor.post_process_object_detection(out, threshold=0.0, target_sizes=[(90, 150)], top_k=20)[0]

    def rows(scores, labels, boxes):  # (score, label, box) rows in a fixed order: equal scores may come in any order
        table = np.column_stack([np.round(scores, 5), labels, np.round(boxes, 2)])
        return table[np.lexsort(table.T[::-1])]

    np.testing.assert_allclose(rows(r.scores, r.labels, r.boxes),
                               rows(ref["scores"].numpy(), ref["labels"].numpy(), ref["boxes"].numpy()), atol=0.011)


def test_detectors_live_in_the_one_model_cache_and_the_first_forward_is_warm_up():
    from models.detection.jobs import BUNDLED_KEY, detect_job
    from models.jobs import run_to_completion
    from models.model_cache import MODEL_CACHE

    MODEL_CACHE.clear()
    image = generate(1, 3, DETECTION)[0].image
    first, _ = run_to_completion(detect_job, BUNDLED_KEY, "", image)
    second, _ = run_to_completion(detect_job, BUNDLED_KEY, "", image)
    assert first.warm_up and not second.warm_up
    assert load_detector(BUNDLED_KEY, "", "cpu") is load_detector(BUNDLED_KEY, "", "cpu")
    MODEL_CACHE.clear()  # the shared cache is the only one: clearing it loads the detector again
    third, _ = run_to_completion(detect_job, BUNDLED_KEY, "", image)
    assert third.warm_up
