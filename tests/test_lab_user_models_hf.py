"""Data lab, "your own images": a Hugging Face classifier fine-tuned on a folder is also saved with save_pretrained
(id2label / label2id set, an image processor that resizes and normalises as the app does), and
transformers.pipeline("image-classification", model=folder) gives the same top class as the app. Offline: tiny
configs saved locally, loaded through the app's Hugging Face entries as tests/test_compare_hf_timm.py does."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

transformers = pytest.importorskip("transformers")

from models.compare.jobs import to_input  # noqa: E402  (how the app feeds an image to a Compare model)
from models.jobs import run_to_completion  # noqa: E402
from models.lab.image_folder import index_folder_job  # noqa: E402
from models.lab.user_model_store import register_user_models  # noqa: E402
from models.lab.user_models import FineTuneConfig, fine_tune_folder_job  # noqa: E402
from models.registry import ModelSource, SourceKind, get  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # small ops: 2 threads wait on each other on a busy machine
T = transformers
COLOURS = {"blue": (40, 60, 220), "green": (40, 200, 60), "red": (220, 40, 40)}


def make_folder(root, per_class):
    """Three classes: a coloured disc on a random background, images of mixed sizes."""
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            im = Image.new("RGB", (int(rng.integers(30, 70)), int(rng.integers(30, 70))),
                           tuple(int(v) for v in rng.integers(0, 255, 3)))
            ImageDraw.Draw(im).ellipse((2, 2, 28, 28), fill=colour)
            im.save(root / name / f"{i}.png")
    return root


CASES = {
    "compare/hf-vit": lambda: T.ViTForImageClassification(T.ViTConfig(
        image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        num_labels=5)),
    "compare/hf-convnext": lambda: T.ConvNextForImageClassification(T.ConvNextConfig(
        depths=[1, 1, 1, 1], hidden_sizes=[8, 8, 16, 16], image_size=32, num_labels=5)),
    "compare/hf-mobilevit": lambda: T.MobileViTForImageClassification(T.MobileViTConfig(
        image_size=64, hidden_sizes=[16, 24, 32], neck_hidden_sizes=[8, 8, 16, 16, 24, 24, 32], num_labels=5)),
}
PROCESSORS = {  # saved with the base, as the hub's MobileViT has one: BGR, pixels in [0, 1], cropped
    "compare/hf-mobilevit": lambda: T.MobileViTImageProcessor(size={"shortest_edge": 64},
                                                              crop_size={"height": 64, "width": 64}),
}


@pytest.mark.parametrize("key", list(CASES))
def test_fine_tuned_hf_model_is_saved_pretrained_and_pipeline_agrees_with_the_app(key, tmp_path, monkeypatch):
    torch.manual_seed(0)
    CASES[key]().save_pretrained(tmp_path / "base")  # without a processor the app uses the config's size
    if key in PROCESSORS:
        PROCESSORS[key]().save_pretrained(tmp_path / "base")
    data = make_folder(tmp_path / "colours", per_class=6)
    index = run_to_completion(index_folder_job, data)[0]
    out = tmp_path / "models"
    result = run_to_completion(fine_tune_folder_job, key, ModelSource(SourceKind.HUGGINGFACE, str(tmp_path / "base")),
                               index, FineTuneConfig(steps=6, batch=6, eval_every=3, mode="all", lr=3e-3), None, out,
                               "cpu")[0]
    assert result.hf_folder and result.saved_path.endswith("model.safetensors")
    config = json.loads((tmp_path / result.hf_folder / "config.json").read_text())
    assert config["id2label"] == {"0": "blue", "1": "green", "2": "red"}
    assert config["label2id"] == {"blue": 0, "green": 1, "red": 2}

    calls: list[dict] = []
    original = T.AutoConfig.from_pretrained.__func__
    monkeypatch.setattr(T.AutoConfig, "from_pretrained",
                        classmethod(lambda c, *a, **k: (calls.append(k), original(c, *a, **k))[1]))
    assert register_user_models(out).registered == (result.model_key,)
    sm = get(result.model_key).load()  # the app's path: the base's HF loader on hf/, then the safetensors
    assert calls and all(k.get("trust_remote_code") is False for k in calls)
    assert sm.class_names == ("blue", "green", "red")

    pipe = T.pipeline("image-classification", model=result.hf_folder, device="cpu")
    tops = []
    for path in sorted(data.rglob("*.png")):
        image = np.asarray(Image.open(path).convert("RGB"))
        with torch.no_grad():
            x = torch.from_numpy(to_input(image, sm.image_size).astype(np.float32) / 255.0).permute(2, 0, 1)[None]
            probs = torch.softmax(sm.model(x)[0], 0)
        app_top = sm.class_names[int(probs.argmax())]
        best = pipe(str(path), top_k=1)[0]
        assert best["label"] == app_top, path
        assert best["score"] == pytest.approx(float(probs.max()), abs=2e-3)
        tops.append(app_top)
    assert len(tops) == 18
