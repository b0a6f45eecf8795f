"""The bundled classifiers' figures: ``python -m models.compare.evaluate [ARCH ...]``.

For each bundled classifier (weights from assets/weights): accuracy on 2,000 fresh widened held-out images
(a seed no training or stopping rule used), accuracy on 600 plain-background images of the second renderer
(models.shapes_wide.render_second: shared no drawing code with the training generator) split into light-on-
dark and dark-on-light, the attribution in-box / out-of-box density ratio (Grad-CAM at the last stage for
CNNs and hybrids, attention rollout for ViTs; 200 images), the ERF radius per stage (16 images) and the
equivariance error per stage at an 8 px shift (16 images).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ..registry import ModelSource, SourceKind, get
from ..shapes_wide import second_renderer_arrays, wide_arrays
from ..vit.metrics import to_tensor
from . import catalog  # noqa: F401  (registers the compare models)
from .architectures import ARCHITECTURES
from .attribution import explain, in_box_ratio
from .equivariance import equivariance_errors
from .receptive_field import effective_rf, erf_radius
from .stages import StageModel, trace_stages

TEST_SEED = 2_000_003
SECOND_SEED = 3_000_017
PROBE_SEED = 4_000_001


@torch.no_grad()
def accuracy(sm: StageModel, images: np.ndarray, labels: np.ndarray, batch: int = 250) -> float:
    correct = sum(int((sm.model(to_tensor(images[i:i + batch])).argmax(1).numpy() == labels[i:i + batch]).sum())
                  for i in range(0, len(images), batch))
    return correct / len(images)


def attribution_ratio(sm: StageModel, images: np.ndarray, boxes: np.ndarray) -> tuple[str, float]:
    stages = trace_stages(sm)
    last = stages[-1]
    method = "rollout" if last.kind == "tokens" and last.prefix_tokens > 0 else "gradcam"
    ratios = [in_box_ratio(explain(sm, to_tensor(images[i:i + 1]), last, method).heatmap, boxes[i])
              for i in range(len(images))]
    return method, float(np.mean(ratios))


def figures(key: str, n_test: int = 2000, n_second: int = 600, n_attr: int = 200,
            source: ModelSource = ModelSource(SourceKind.BUNDLED)) -> dict:
    sm = get(f"compare/{key}").load(source)
    test_x, test_y, test_boxes = wide_arrays(n_test, TEST_SEED)
    light_x, light_y = second_renderer_arrays(n_second // 2, SECOND_SEED, dark_on_light=True)
    dark_x, dark_y = second_renderer_arrays(n_second // 2, SECOND_SEED + 1, dark_on_light=False)
    stages = trace_stages(sm)
    probe = to_tensor(wide_arrays(16, PROBE_SEED)[0])
    method, ratio = attribution_ratio(sm, test_x[:n_attr], test_boxes[:n_attr])
    return {
        "key": key, "parameters": sum(p.numel() for p in sm.model.parameters()),
        "test_accuracy": accuracy(sm, test_x, test_y),
        "second_dark_on_light": accuracy(sm, light_x, light_y),
        "second_light_on_dark": accuracy(sm, dark_x, dark_y),
        "attribution_method": method, "attribution_ratio": ratio,
        "erf_radius_px": [round(erf_radius(effective_rf(sm, probe, st)), 1) for st in stages],
        "equivariance_8px": [round(float(e), 3) for e in equivariance_errors(sm, probe, stages, [8])[0]],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("arch", nargs="*", default=list(ARCHITECTURES), choices=list(ARCHITECTURES) + [[]])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("| model | parameters | held-out (2,000 widened) | 2nd renderer dark-on-light / light-on-dark | "
          "attribution in-box ratio | ERF radius per stage (px) | equivariance error per stage @ 8 px |")
    print("|---|---|---|---|---|---|---|")
    for key in args.arch:
        t0 = time.time()
        f = figures(key)
        print(f"| {key} | {f['parameters']:,} | {f['test_accuracy'] * 100:.2f}% | "
              f"{f['second_dark_on_light'] * 100:.1f}% / {f['second_light_on_dark'] * 100:.1f}% | "
              f"{f['attribution_ratio']:.2f} ({f['attribution_method']}) | "
              f"{', '.join(map(str, f['erf_radius_px']))} | {', '.join(map(str, f['equivariance_8px']))} |",
              flush=True)
        print(f"  ({time.time() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
