"""Inference on loaded runs: sample grids, interpolation, steering, img2img, inpainting,
text-to-image and text-driven editing. Loading a run is `genlab.runs.load`."""
