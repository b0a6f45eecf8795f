"""Diffusion models: noise schedules, a small class-conditional UNet, DDPM/DDIM samplers with full
trajectory capture, training of the bundled sprite model, and loaders for diffusers checkpoints.

No Qt here; only results.py is importable without torch. Importing .specs registers the models.
"""
