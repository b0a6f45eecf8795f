"""Why did the model choose its class? One map per method, for any architecture.

- Convolutional (and any map-shaped) stages: Grad-CAM, HiResCAM, Grad-CAM++ and LayerCAM from the
  `grad-cam` package (pytorch-grad-cam), with the target layer and the token reshape chosen automatically
  (models.compare.stages).
- Token stages of a CLS-token ViT: attention rollout (Abnar & Zuidema 2020, models.vit.rollout) and
  gradient-weighted attention rollout (Chefer et al., CVPR 2021): per block A_bar = mean over heads of
  (dL/dA * A) clamped at 0, R = R + A_bar R from the identity, the CLS row over the patch tokens.
The attention weights are read from the model itself by its capture (models.compare.rollout_capture:
the bundled ViTs' softmax modules, timm, torchvision and transformers attention), so a model is explained
with its own numbers. Blocks that ran before the CLS token was added (ConViT) are padded to the last
block's tokens; attention over windows or reduced keys (Swin, PVT) has no rollout, and says why.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..vit.rollout import box_density_ratio, rollout
from .rollout_capture import align_tokens, capture_of
from .stages import StageInfo, StageModel, reshape_transform

CAM_METHODS = ("gradcam", "hirescam", "gradcam++", "layercam")
TOKEN_METHODS = ("rollout", "grad-rollout")
METHOD_TITLES = {"gradcam": "Grad-CAM", "hirescam": "HiResCAM", "gradcam++": "Grad-CAM++", "layercam": "LayerCAM",
                 "rollout": "Attention rollout", "grad-rollout": "Gradient-weighted rollout (Chefer)"}


@dataclass(frozen=True)
class Attribution:
    method: str
    stage: int  # index of the target stage (CAM) or -1 (rollout over all blocks)
    class_index: int
    heatmap: np.ndarray  # (H, W) float32 in [0, 1], at the input resolution
    probabilities: np.ndarray  # (classes,) softmax of the logits


def _cam_class(method: str):
    from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM

    return {"gradcam": GradCAM, "hirescam": HiResCAM, "gradcam++": GradCAMPlusPlus, "layercam": LayerCAM}[method]


def cam_target(sm: StageModel, stage: StageInfo) -> torch.nn.Module:
    """The layer a CAM reads at `stage`: the stage itself, except in a ViT with prefix tokens, where the
    block's first LayerNorm (the normalised input of its attention) is used: after the last block only the
    CLS token reaches the head, so the patch tokens of a block's output can have no gradient at all."""
    module = sm.module(stage.path)
    if stage.kind == "tokens" and stage.prefix_tokens > 0:
        norm = next((m for m in module.modules() if isinstance(m, torch.nn.LayerNorm)), None)
        if norm is not None:
            return norm
    return module


def _through(out, probe: torch.nn.Module):
    """The module output with its first tensor passed through `probe` (tuples rebuilt around it)."""
    if isinstance(out, torch.Tensor):
        return probe(out)
    if isinstance(out, (tuple, list)) and out:
        first = _through(out[0], probe)
        return None if first is None else type(out)([first, *out[1:]])
    return None


def cam_map(sm: StageModel, image: torch.Tensor, stage: StageInfo, method: str, class_index: int) -> np.ndarray:
    """(H, W) CAM in [0, 1] of `class_index` at `stage` for one image (1, 3, H, W).

    pytorch-grad-cam reads a target layer's output tensor; transformers blocks return tuples, so the
    target's first output tensor runs through an identity probe that pytorch-grad-cam hooks instead."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam_cls = _cam_class(method)
    was_training = sm.model.training
    probe = torch.nn.Identity()
    handle = cam_target(sm, stage).register_forward_hook(lambda _m, _i, out: _through(out, probe))
    cam = cam_cls(model=sm.model, target_layers=[probe], reshape_transform=reshape_transform(stage))
    try:
        with torch.enable_grad():
            out = cam(input_tensor=image, targets=[ClassifierOutputTarget(int(class_index))])  # (1, H, W)
    finally:
        handle.remove()
        cam.activations_and_grads.release()
        sm.model.train(was_training)
    heat = np.nan_to_num(out[0].astype(np.float32))
    return heat / heat.max() if heat.max() > 0 else heat


def attention_modules(sm: StageModel) -> list[torch.nn.Module]:
    """The attention modules rollout reads, in forward order (empty: nothing to roll out)."""
    return capture_of(sm.attention).modules(sm.model)


def rollout_note(sm: StageModel) -> str:
    """Why rollout is not offered for this model, when it has attention ("" otherwise)."""
    return capture_of(sm.attention).reason


def _attentions(sm: StageModel, image: torch.Tensor, class_index: int | None, with_grads: bool):
    """Logits (C,), attentions [(heads, N, N)] per block, and their gradients w.r.t. the class logit."""
    with capture_of(sm.attention).capture(sm.model, keep_grad=with_grads) as captured:
        with torch.set_grad_enabled(with_grads):
            logits = sm.model(image)[0]  # (C,)
            if with_grads:
                sm.model.zero_grad(set_to_none=True)
                logits[int(class_index)].backward()
    attn = [a[0].detach().float().cpu() for a in captured]  # (heads, N, N) each
    grads = [(a.grad[0] if a.grad is not None else torch.zeros_like(a[0])).float().cpu()
             for a in captured] if with_grads else []
    return logits.detach(), attn, grads


def grad_rollout(attn: list[torch.Tensor], grads: list[torch.Tensor]) -> np.ndarray:
    """Chefer et al. 2021, eq. (5)-(6): R = I; R += mean_h((grad * A)^+) @ R per block. (N, N)"""
    n = attn[0].shape[-1]
    R = torch.eye(n, dtype=attn[0].dtype)
    for a, g in zip(attn, grads):
        a_bar = (g * a).clamp(min=0).mean(dim=0)  # (N, N)
        R = R + a_bar @ R
    return R.numpy()


def token_map(sm: StageModel, image: torch.Tensor, method: str, class_index: int, grid: tuple[int, int],
              prefix: int) -> np.ndarray:
    """(H, W) map in [0, 1] from rollout or gradient-weighted rollout over all attention blocks."""
    _, attn, grads = _attentions(sm, image, class_index, with_grads=method == "grad-rollout")
    if not attn:
        raise ValueError(rollout_note(sm) or f"{sm.title or 'this model'} has no attention blocks to roll out")
    try:
        attn, grads = align_tokens(attn, grads)
    except ValueError as exc:
        raise ValueError(rollout_note(sm) or f"{sm.title or 'this model'}: {exc}") from None
    if method == "rollout":
        joint = rollout(np.stack([a.numpy() for a in attn])[None], "mean", 0.0)[0]  # (N, N)
    else:
        joint = grad_rollout(attn, grads)
    h, w = grid
    cls_row = joint[0, prefix:prefix + h * w].reshape(h, w)
    heat = torch.from_numpy(np.ascontiguousarray(cls_row, dtype=np.float32))[None, None]
    heat = F.interpolate(heat, size=tuple(image.shape[-2:]), mode="bilinear", align_corners=False)[0, 0].numpy()
    heat = heat - heat.min()
    return heat / heat.max() if heat.max() > 0 else heat


def methods_for(stage: StageInfo, has_cls_attention: bool) -> tuple[str, ...]:
    """Every method applies to a map; rollout needs a CLS token and attention blocks, and is then the default
    (first): a token stage is explained by where its attention sends the CLS token, a map by a CAM."""
    if stage.kind == "tokens" and has_cls_attention:
        return TOKEN_METHODS + CAM_METHODS
    return CAM_METHODS


def explain(sm: StageModel, image: torch.Tensor, stage: StageInfo, method: str,
            class_index: int | None = None) -> Attribution:
    """The map of `method` for one image (1, 3, H, W); class_index None explains the top class."""
    with torch.no_grad():
        probs = torch.softmax(sm.model(image)[0].float(), dim=0).cpu().numpy()
    cls = int(np.argmax(probs)) if class_index is None else int(class_index)
    if method in CAM_METHODS:
        heat, stage_index = cam_map(sm, image, stage, method, cls), stage.index
    elif method in TOKEN_METHODS:
        heat, stage_index = token_map(sm, image, method, cls, stage.grid, stage.prefix_tokens), -1
    else:
        raise ValueError(f"unknown attribution method {method!r}")
    return Attribution(method, stage_index, cls, heat.astype(np.float32), probs)


def in_box_ratio(heatmap: np.ndarray, box: np.ndarray) -> float:
    """Mean map density inside the object's [x, y, w, h] box / outside it (the Attention tab's figure)."""
    return float(box_density_ratio(heatmap[None], np.asarray(box, np.float32)[None], heatmap.shape[0]))
