"""Names and plain-language descriptions of the GAN losses and datasets, importable without torch
(the GUI builds its menus from these before torch is loaded). losses.py and data.py register the
implementations under the same keys."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BUNDLED_FILE = "gan_dcgan_sprites32.safetensors"  # the bundled run (G, D, optimisers, curves)
BUNDLED_RUN = Path(__file__).resolve().parents[2] / "assets" / "weights" / BUNDLED_FILE
CONDITIONAL_FILE = "gan_conditional_sprites32.safetensors"  # the bundled class-conditional run
CONDITIONAL_RUN = BUNDLED_RUN.parent / CONDITIONAL_FILE

LOSS_INFO: dict[str, tuple[str, str]] = {  # key -> (title, 2-3 sentences for a student)
    "bce": ("Non-saturating BCE",
            "D is a classifier trained with binary cross-entropy to say 'real' for data and 'fake' for samples. "
            "G maximises log D(G(z)) instead of minimising log(1 - D(G(z))), so its gradient stays strong early on."),
    "hinge": ("Hinge",
              "D only learns from samples it scores on the wrong side of a margin of 1, which keeps it from "
              "becoming over-confident. G raises D's score of its samples (used by SAGAN and BigGAN)."),
    "lsgan": ("Least squares",
              "D regresses its score to 1 for real and 0 for fake images; G pushes the score of its samples to 1. "
              "Squared errors give smooth gradients even for samples D classifies easily."),
    "wgan-gp": ("WGAN-GP",
                "D becomes a critic whose score difference between real and fake estimates the Wasserstein "
                "distance. A gradient penalty keeps the critic's slope near 1; the D loss then tracks sample quality."),
}

AUGMENT_INFO: dict[str, str] = {  # DiffAugment op -> what it does (models.gan.augment implements them)
    "color": "random brightness, saturation and contrast",
    "translation": "shifts by up to 1/8 of the image",
    "cutout": "a blank square over half the image side",
}

DATASET_INFO: dict[str, tuple[str, int, bool]] = {  # key -> (title, channels, needs a folder)
    "shapes": ("Shape sprites (generated, offline)", 3, False),
    "folder": ("A folder of images", 3, True),
    "mnist": ("MNIST digits (torchvision)", 1, False),
    "fashion-mnist": ("Fashion-MNIST (torchvision)", 1, False),
    "cifar10": ("CIFAR-10 (torchvision)", 3, False),
}


@dataclass(frozen=True)
class NeedsFolder:
    """What loading a run trained on a folder of images answers when no folder was given: a run file never
    names the folder it reads, so the tab asks the user and loads again with that folder (data_ref)."""
    path: str
    title: str
    dataset: str
