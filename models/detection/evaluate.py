"""COCO evaluation (pycocotools) of the bundled shapes detector on a fixed held-out set.

`python -m models.detection.evaluate [--weights PATH] [--n 500] [--seed S]` prints mAP@0.5, mAP@[.5:.95],
mAP@0.75 and each class's AP@0.5 and AP (COCOeval's own per-category precision tables).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np
import torch

from models.shapes import DETECTION, generate, to_coco

from .boxes import xyxy_to_xywh
from .data import images_tensor
from .detr_model import ShapesDETR
from .postprocess import softmax_postprocess

HELD_OUT_SEED = 20_261_125  # never used for training
HELD_OUT_SIZE = 500


@torch.no_grad()
def coco_metrics(model: ShapesDETR, n: int = HELD_OUT_SIZE, seed: int = HELD_OUT_SEED, batch: int = 50) -> dict[str, float]:
    """mAP@0.5 and mAP@[.5:.95] of the model on n held-out scenes (every query is a scored detection)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    samples = generate(n, seed, DETECTION)
    was_training = model.training
    model.eval()
    dets = []
    for start in range(0, n, batch):
        chunk = samples[start:start + batch]
        out = model(images_tensor(np.stack([s.image for s in chunk])))
        logits, boxes = out["logits"][-1].numpy(), out["boxes"][-1].numpy()  # (B, Q, C+1), (B, Q, 4)
        for j, s in enumerate(chunk):
            h, w = s.image.shape[:2]
            scores, labels, xyxy, _ = softmax_postprocess(logits[j], boxes[j], w, h)
            for sc, lab, bx in zip(scores, labels, xyxy_to_xywh(xyxy)):
                dets.append({"image_id": start + j, "category_id": int(lab), "bbox": [float(v) for v in bx],
                             "score": float(sc)})
    model.train(was_training)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = to_coco(samples)
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    metrics = {"map": float(ev.stats[0]), "map50": float(ev.stats[1]), "map75": float(ev.stats[2])}
    precision = ev.eval["precision"]  # (IoU thresholds, recall points, classes, areas, max dets); -1: no data
    for k, cat in enumerate(ev.params.catIds):
        name = gt.cats[cat]["name"]
        all_iou, at50 = precision[:, :, k, 0, -1], precision[0, :, k, 0, -1]
        metrics[f"ap/{name}"] = float(all_iou[all_iou > -1].mean()) if np.any(all_iou > -1) else float("nan")
        metrics[f"ap50/{name}"] = float(at50[at50 > -1].mean()) if np.any(at50 > -1) else float("nan")
    return metrics


def main() -> None:
    from .bundled import load_bundled_model

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=None, help="safetensors file (default: the bundled weights)")
    parser.add_argument("--n", type=int, default=HELD_OUT_SIZE)
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED,
                        help=f"scene seed (default {HELD_OUT_SEED}, the held-out set; any other: fresh scenes)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_bundled_model(args.weights)
    t0 = time.perf_counter()
    m = coco_metrics(model, args.n, args.seed)
    print(f"held-out scenes: {args.n} (seed {args.seed}), {time.perf_counter() - t0:.1f} s")
    print(f"mAP@0.5 = {m['map50']:.3f}")
    print(f"mAP@[.5:.95] = {m['map']:.3f}")
    print(f"mAP@0.75 = {m['map75']:.3f}")
    print("class      AP@0.5   AP@[.5:.95]")
    for key in m:
        if key.startswith("ap50/"):
            name = key.split("/", 1)[1]
            print(f"{name:10s} {m[key]:.3f}    {m['ap/' + name]:.3f}")


if __name__ == "__main__":
    main()
