"""Object detection: the bundled shapes DETR, Hugging Face DETR-family and torchvision detectors.

Importing this package loads nothing heavy (the GUI imports it before torch): `specs` registers the
detectors (task "detection"), `jobs` holds the worker jobs, `result` the DetectionResult.
"""
