"""The jobs the Diffusion tab submits to the worker. Each imports its models/ module when it runs, on
the worker thread, so torch is never imported on the GUI thread before the first paint."""
from __future__ import annotations


def load_model(ctx, key, source):
    from models.diffusion.app_jobs import load_model_job
    return (yield from load_model_job(ctx, key, source))


def sample(ctx, key, source, req):
    from models.diffusion.app_jobs import sample_with_job
    return (yield from sample_with_job(ctx, key, source, req))


def train(ctx, holder, settings):
    from models.diffusion.live import LiveSession, train_job
    if holder.get("session") is None:
        holder["session"] = LiveSession()
    return (yield from train_job(ctx, holder["session"], settings))


def save_live(ctx, holder, path):
    from models.diffusion.live import save_job
    return (yield from save_job(ctx, holder["session"], path))


def load_live(ctx, holder, path):
    from models.diffusion.live import LiveSession, load_job
    holder["session"] = holder.get("session") or LiveSession()
    return (yield from load_job(ctx, holder["session"], path))


def use_live_weights(ctx, holder):
    from models.diffusion.app_jobs import live_weights_job
    return (yield from live_weights_job(ctx, holder["session"]))


def live_settings(start_from: str):
    from models.diffusion.live import LiveSettings
    # fine-tuning trained weights with the from-scratch rate and a fresh optimiser raised the loss 3x
    return LiveSettings(start_from=start_from, lr=1e-4 if start_from == "bundled" else 1e-3)
