"""Compare tab: Hugging Face transformers and timm classifiers, loaded through their registry entries from
tiny random models saved in the real formats (save_pretrained folders, timm save_for_hf folders and
safetensors state dicts); stage trace, one attribution each, attention capture for rollout, clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")
timm = pytest.importorskip("timm")

from models.compare import catalog  # noqa: E402,F401  (registers every Compare model)
from models.compare.attribution import attention_modules, explain, rollout_note  # noqa: E402
from models.compare.hf_catalog import HF_MODELS  # noqa: E402
from models.compare.receptive_field import theoretical_rf  # noqa: E402
from models.compare.rollout_capture import TorchMultiheadAttention, align_tokens  # noqa: E402
from models.compare.stages import StageModel, trace_stages  # noqa: E402
from models.compare.timm_catalog import TIMM_MODELS  # noqa: E402
from models.errors import CheckpointError, UserFacingError, WeightsUnavailableError  # noqa: E402
from models.registry import ModelSource, SourceKind, get, specs_for  # noqa: E402

T = transformers
# key -> (config, image processor to save or None, expected stage grids, prefix tokens (CLS) of the last stage)
HF_CASES = {
    "compare/hf-convnext": (lambda: T.ConvNextConfig(depths=[1, 1, 1, 1], hidden_sizes=[8, 16, 24, 32], image_size=64,
                                                      num_labels=3), None, [(16, 16), (8, 8), (4, 4), (2, 2)], 0),
    "compare/hf-swin": (lambda: T.SwinConfig(image_size=64, patch_size=4, embed_dim=8, depths=[1, 1, 2, 1],
                                             num_heads=[1, 1, 1, 2], window_size=2, num_labels=3),
                        None, [(16, 16), (8, 8), (4, 4), (2, 2)], 0),
    "compare/hf-cvt": (lambda: T.CvtConfig(embed_dim=[8, 16, 24], num_heads=[1, 1, 2], depth=[1, 2, 3], num_labels=3),
                       lambda: T.ConvNextImageProcessor(size={"shortest_edge": 64}), [(16, 16), (8, 8), (4, 4)], 1),
    "compare/hf-pvt-v2": (lambda: T.PvtV2Config(image_size=64, hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1],
                                                num_attention_heads=[1, 1, 1, 1], num_labels=3),
                          None, [(16, 16), (8, 8), (4, 4), (2, 2)], 0),
    "compare/hf-mobilevit": (lambda: T.MobileViTConfig(image_size=64, hidden_sizes=[16, 24, 32],
                                                       neck_hidden_sizes=[8, 8, 16, 16, 24, 24, 32], num_labels=3),
                             lambda: T.MobileViTImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}),
                             [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)], 0),
    "compare/hf-vit": (lambda: T.ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=2,
                                           num_attention_heads=2, intermediate_size=32, num_labels=3),
                       None, [(4, 4), (4, 4)], 1),
}
HF_ENTRIES = {e.key: e for e in HF_MODELS}


def _spy_from_pretrained(monkeypatch, cls, calls: list) -> None:
    original = cls.from_pretrained.__func__
    monkeypatch.setattr(cls, "from_pretrained",
                        classmethod(lambda c, *a, **k: (calls.append(k), original(c, *a, **k))[1]))


def _save_hf(key: str, folder) -> None:
    make_config, make_processor, _, _ = HF_CASES[key]
    torch.manual_seed(0)
    getattr(T, HF_ENTRIES[key].class_name)(make_config()).save_pretrained(folder)
    if make_processor is not None:
        make_processor().save_pretrained(folder)


def _attribution_ok(sm: StageModel, stage, method: str) -> np.ndarray:
    torch.manual_seed(1)
    heat = explain(sm, torch.rand(1, 3, *sm.image_size), stage, method).heatmap
    assert heat.shape == sm.image_size and np.isfinite(heat).all()
    return heat


def test_every_hf_and_timm_entry_is_registered_for_compare():
    keys = {s.key: s for s in specs_for("compare")}
    for entry in HF_MODELS:
        spec = keys[entry.key]
        assert spec.default_source == ModelSource(SourceKind.HUGGINGFACE, entry.default_ref)
    assert {e.default_ref for e in HF_MODELS} == {
        "facebook/convnext-tiny-224", "microsoft/swin-tiny-patch4-window7-224", "microsoft/cvt-13",
        "OpenGVLab/pvt_v2_b0", "apple/mobilevit-small", "google/vit-base-patch16-224"}
    assert {keys[e.key].default_source.ref for e in TIMM_MODELS} == {
        "coatnet_0_rw_224", "convit_tiny", "levit_128s", "pvt_v2_b0"}


@pytest.mark.parametrize("key", list(HF_CASES))
def test_hf_folder_loads_traces_and_explains(key, tmp_path, monkeypatch):
    _save_hf(key, tmp_path)
    entry = HF_ENTRIES[key]
    calls: list[dict] = []
    _spy_from_pretrained(monkeypatch, getattr(T, entry.class_name), calls)
    _spy_from_pretrained(monkeypatch, T.AutoConfig, calls)
    _spy_from_pretrained(monkeypatch, T.AutoImageProcessor, calls)
    sm = get(key).load(ModelSource(SourceKind.HUGGINGFACE, str(tmp_path)))
    assert calls and all(k.get("trust_remote_code") is False for k in calls)
    net = sm.model.net
    if entry.has_attention:
        assert net.config._attn_implementation == "eager"
    stages = trace_stages(sm)
    _, _, grids, prefix = HF_CASES[key]
    assert [s.grid for s in stages] == grids
    assert stages[-1].prefix_tokens == prefix
    assert all(s.prefix_tokens == (prefix if key == "compare/hf-vit" else 0) for s in stages[:-1])
    assert sm.class_names == ("LABEL_0", "LABEL_1", "LABEL_2")
    # Grad-CAM at the last stage whose grid is larger than one cell (Swin and PVT blocks return tuples)
    _attribution_ok(sm, stages[-1], "gradcam")
    has_rollout = stages[-1].prefix_tokens > 0 and bool(attention_modules(sm))
    assert has_rollout == (key == "compare/hf-vit")
    if has_rollout:
        for method in ("rollout", "grad-rollout"):
            assert _attribution_ok(sm, stages[-1], method).max() == pytest.approx(1.0)
    elif key != "compare/hf-convnext":
        assert "not defined" in rollout_note(sm)
    # the theoretical receptive field: convolutions (and Swin's local windows) count; global attention
    # (functional softmax inside transformers' attention layers) makes it the whole image
    assert (theoretical_rf(sm, stages[-1]) is None) == (key not in ("compare/hf-convnext", "compare/hf-swin"))
    global_first = key in ("compare/hf-vit", "compare/hf-cvt", "compare/hf-pvt-v2")  # attention in stage 1
    assert (theoretical_rf(sm, stages[0]) is None) == global_first


def test_hf_mobilevit_reads_its_processor_bgr_and_size(tmp_path):
    _save_hf("compare/hf-mobilevit", tmp_path)
    sm = get("compare/hf-mobilevit").load(ModelSource(SourceKind.HUGGINGFACE, str(tmp_path)))
    assert sm.model.flip_channels and sm.image_size == (64, 64)
    assert torch.equal(sm.model.mean, torch.zeros(1, 3, 1, 1))  # MobileViT does not normalise


def test_hf_gradcam_on_swin_tuple_outputs_is_not_empty(tmp_path):
    """transformers Swin blocks return tuples; pytorch-grad-cam alone would find no gradient there."""
    _save_hf("compare/hf-swin", tmp_path)
    sm = get("compare/hf-swin").load(ModelSource(SourceKind.HUGGINGFACE, str(tmp_path)))
    stages = trace_stages(sm)
    assert _attribution_ok(sm, stages[1], "gradcam").max() > 0


def _message_ok(exc: BaseException) -> str:
    text = str(exc)
    assert isinstance(exc, UserFacingError) and "Traceback" not in text and "\n" not in text.strip()
    return text


def test_hf_bad_folders_give_clear_errors(tmp_path):
    spec = get("compare/hf-convnext")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError) as info:
        spec.load(ModelSource(SourceKind.HUGGINGFACE, str(empty)))
    assert "config.json" in _message_ok(info.value)

    broken = tmp_path / "broken"
    _save_hf("compare/hf-convnext", broken)
    (broken / "model.safetensors").write_bytes(b"this is not a safetensors file")
    with pytest.raises(CheckpointError) as info:
        spec.load(ModelSource(SourceKind.HUGGINGFACE, str(broken)))
    assert "damaged" in _message_ok(info.value)

    other = tmp_path / "vit"
    _save_hf("compare/hf-vit", other)
    with pytest.raises(CheckpointError) as info:
        spec.load(ModelSource(SourceKind.HUGGINGFACE, str(other)))
    assert "'vit' model" in _message_ok(info.value)

    with pytest.raises(CheckpointError) as info:
        spec.load(ModelSource(SourceKind.HUGGINGFACE, str(tmp_path / "missing" / "folder")))
    assert "not a model folder" in _message_ok(info.value)


def test_hf_folder_that_loads_but_cannot_run_says_so(tmp_path):
    """transformers builds this Swin (a 4-token window on a 2x2 last stage) but its forward fails."""
    T.SwinForImageClassification(T.SwinConfig(image_size=64, patch_size=4, embed_dim=8, depths=[1, 1, 2, 1],
                                              num_heads=[1, 1, 1, 2], window_size=4, num_labels=3)).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError) as info:
        get("compare/hf-swin").load(ModelSource(SourceKind.HUGGINGFACE, str(tmp_path)))
    assert "loads but does not run on a 64x64 image" in _message_ok(info.value)


def test_hf_id_not_cached_offline_says_so(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError) as info:
        get("compare/hf-vit").load(ModelSource(SourceKind.HUGGINGFACE, "no-such-org/no-such-vit-model"))
    text = _message_ok(info.value)
    assert "not in the local Hugging Face cache" in text and "offline" in text


# ---- timm -----------------------------------------------------------------------------------------------------

TIMM_CASES = {  # key -> (timm name, tiny model_args, expected grids, last prefix tokens, stage for Grad-CAM)
    "compare/timm-coatnet": ("coatnet_0_rw_224", dict(img_size=64, embed_dim=(8, 16, 24, 32), depths=(1, 1, 1, 1),
                                                      stem_width=8, transformer_dim_head=8, num_classes=3),
                             [(16, 16), (8, 8), (4, 4), (2, 2)], 0, 3),
    "compare/timm-convit": ("convit_tiny", dict(img_size=32, patch_size=8, embed_dim=16, depth=3, num_heads=2,
                                                local_up_to_layer=2, num_classes=3), [(4, 4)] * 3, 1, 2),
    "compare/timm-levit": ("levit_128s", dict(img_size=64, embed_dim=(16, 24, 32), key_dim=8, num_heads=(2, 2, 2),
                                              depth=(1, 1, 1), num_classes=3), [(4, 4), (2, 2), (1, 1)], 0, 1),
    "compare/timm-pvt-v2": ("pvt_v2_b0", dict(embed_dims=(8, 16, 24, 32), depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1),
                                              num_classes=3), [(16, 16), (8, 8), (4, 4), (2, 2)], 0, 3),
}
DATA_CONFIGS = {"compare/timm-pvt-v2": {"input_size": (3, 64, 64)}}  # PVT-v2 takes no img_size: its config says 64


def _save_timm(key: str, folder) -> None:
    from timm.models import save_for_hf

    name, args, *_ = TIMM_CASES[key]
    torch.manual_seed(0)
    save_for_hf(timm.create_model(name, pretrained=False, **args), str(folder), model_args=args, safe_serialization=True,
                data_config=DATA_CONFIGS.get(key))


@pytest.mark.parametrize("key", list(TIMM_CASES))
def test_timm_folder_loads_traces_and_explains(key, tmp_path):
    _save_timm(key, tmp_path)
    sm = get(key).load(ModelSource(SourceKind.CHECKPOINT, str(tmp_path)))
    _, _, grids, prefix, cam_stage = TIMM_CASES[key]
    stages = trace_stages(sm)
    assert [s.grid for s in stages] == grids and stages[-1].prefix_tokens == prefix
    assert len(sm.class_names) == 3
    assert _attribution_ok(sm, stages[cam_stage], "gradcam").max() > 0
    assert theoretical_rf(sm, stages[-1]) is None  # every one of them has global attention by the last stage
    if key == "compare/timm-convit":  # CLS token added after the local blocks: rollout over all of them
        assert len(attention_modules(sm)) == 3
        fused = [m for m in sm.model.modules() if hasattr(m, "fused_attn")]
        for method in ("rollout", "grad-rollout"):
            assert _attribution_ok(sm, stages[-1], method).max() == pytest.approx(1.0)
        assert all(not m.fused_attn for m in fused)  # as they were
    else:
        assert "not defined" in rollout_note(sm)


def test_timm_safetensors_state_dict_file(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = timm.create_model("pvt_v2_b0", pretrained=False)
    path = tmp_path / "pvt.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    sm = get("compare/timm-pvt-v2").load(ModelSource(SourceKind.CHECKPOINT, str(path)))
    assert [s.grid for s in trace_stages(sm)] == [(56, 56), (28, 28), (14, 14), (7, 7)]
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(sm.model(x), model.eval()((x - sm.model.mean) / sm.model.std), atol=1e-5)
    assert len(sm.class_names) == 1000 and sm.class_names[0] == "tench"


def test_timm_bad_folders_give_clear_errors(tmp_path):
    spec = get("compare/timm-convit")

    def fails(folder, expected: str) -> None:
        with pytest.raises(CheckpointError) as info:
            spec.load(ModelSource(SourceKind.CHECKPOINT, str(folder)))
        assert expected in _message_ok(info.value)

    good = tmp_path / "good"
    _save_timm("compare/timm-convit", good)
    cfg = json.loads((good / "config.json").read_text())
    for name, change, expected in (
            ("other", {"architecture": "resnet18", "model_args": {"num_classes": 3}}, "is a ResNet"),
            ("unknown", {"architecture": "no_such_net"}, "timm has no model named"),
            ("loads-file", {"model_args": {**cfg["model_args"], "checkpoint_path": "/tmp/x.pth"}}, "is refused")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({**cfg, **change}))
        (folder / "model.safetensors").write_bytes((good / "model.safetensors").read_bytes())
        fails(folder, expected)
    (good / "model.safetensors").write_bytes(b"garbage")
    fails(good, "not a readable safetensors file")
    (good / "config.json").write_text("{not json")
    fails(good, "not readable JSON")
    fails(tmp_path / "nowhere.safetensors", "does not exist")


def test_timm_pretrained_not_cached_offline_says_so(monkeypatch):
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache("timm/pvt_v2_b0.in1k", "model.safetensors"), str):
        pytest.skip("the pretrained pvt_v2_b0 is in this machine's cache")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError) as info:
        get("compare/timm-pvt-v2").load(ModelSource(SourceKind.TIMM, "pvt_v2_b0"))
    assert "offline" in _message_ok(info.value)


# ---- attention capture for rollout -----------------------------------------------------------------------------

def test_torchvision_vit_attention_capture_keeps_logits_and_gives_rollout():
    from torchvision.models.vision_transformer import VisionTransformer

    from models.compare.catalog import ImageNetClassifier

    torch.manual_seed(0)
    vit = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32,
                            num_classes=3)
    torch.nn.init.normal_(vit.heads.head.weight)  # torchvision zero-initialises the head: no gradient at all
    sm = StageModel(ImageNetClassifier(vit).eval(), ("net.encoder.layers.encoder_layer_0",
                                                     "net.encoder.layers.encoder_layer_1"),
                    ("a", "b", "c"), (32, 32), "tiny torchvision ViT", attention=TorchMultiheadAttention())
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        plain = sm.model(x)
        with TorchMultiheadAttention().capture(sm.model) as attn:
            captured = sm.model(x)
    assert torch.allclose(plain, captured, atol=1e-5)
    assert [tuple(a.shape) for a in attn] == [(1, 2, 17, 17)] * 2
    assert torch.allclose(attn[0].sum(-1), torch.ones(1, 2, 17))
    assert all("forward" not in vars(m) for m in TorchMultiheadAttention().modules(sm.model))  # restored
    stages = trace_stages(sm)
    for method in ("rollout", "grad-rollout"):
        assert _attribution_ok(sm, stages[-1], method).max() == pytest.approx(1.0)


def test_align_tokens_pads_blocks_that_ran_before_the_cls_token():
    early = torch.softmax(torch.randn(2, 4, 4), -1)  # (heads, N, N) without the CLS token
    late = torch.softmax(torch.randn(2, 5, 5), -1)
    (a0, a1), (g0, _) = align_tokens([early, late], [torch.ones(2, 4, 4), torch.ones(2, 5, 5)])
    assert a0.shape == (2, 5, 5) and torch.equal(a0[:, 1:, 1:], early) and torch.equal(a0[:, 0], torch.eye(5)[0].expand(2, 5))
    assert torch.equal(a0[:, 1:, 0], torch.zeros(2, 4)) and torch.equal(a1, late)
    assert g0[:, 0].abs().sum() == 0 and g0[:, :, 0].abs().sum() == 0
    with pytest.raises(ValueError, match="one token grid"):
        align_tokens([torch.softmax(torch.randn(1, 16, 4), -1), late], [])  # reduced keys (PVT)


def test_session_says_why_rollout_is_not_offered_for_swin(tmp_path):
    """The Compare session (Qt-free) with a transformers Swin and ViT: the ViT column offers both rollouts;
    the Swin column offers CAMs only and its attribution caption says why rollout is not defined."""
    from app.compare_session import CompareSession
    from models.compare.results import ColumnBase, ModelRef
    from models.jobs import run_to_completion

    _save_hf("compare/hf-swin", tmp_path / "swin")
    _save_hf("compare/hf-vit", tmp_path / "vit")
    s = CompareSession((ModelRef("compare/hf-swin", "huggingface", str(tmp_path / "swin")),
                        ModelRef("compare/hf-vit", "huggingface", str(tmp_path / "vit"))))
    s.set_image(np.full((64, 64, 3), 128, np.uint8))
    for req in s.requests():
        result, _ = run_to_completion(req.fn, *req.args)
        s.add_result(req.column, req.generation, req.kind, req.key, result)
    assert all(isinstance(c.base, ColumnBase) for c in s.columns)
    swin, vit = (col.attribution for col in s.render().columns)
    assert "rollout" not in swin.methods and "Attention rollout is not defined for Swin" in swin.caption
    assert {"rollout", "grad-rollout"} <= set(vit.methods) and "not defined" not in vit.caption
