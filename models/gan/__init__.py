"""DCGAN training (models.gan) and the 2-D GAN Lab mode (models.gan.toy2d). Pure torch, no Qt."""
