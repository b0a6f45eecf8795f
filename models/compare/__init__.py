"""Compare tab models: a ConvNeXt-style CNN, a CoAtNet-style hybrid and a plain (linear-patch) ViT, trained on
the widened shapes data beside the bundled conv-stem ViT (models/vit), with one recipe (train.py)."""
