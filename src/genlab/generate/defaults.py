"""Measured defaults of the text-driven tools (a light module: the CLI reads them for --help).

Default strength of a CLIP guide. Measured on shapes (runs/ddpm-shapes-v steered by
runs/clip-shapes, DDIM 50, 36 short prompts, read by the shapes reader): scale 100 -> colour
0.58 / shape 0.42 correct, 300 -> 0.67 / 0.61, 1000 -> 0.47 / 0.50 (unguided: 0.25 / 0.42).

`genlab edit`'s mask: relevance >= threshold, grown by dilate pixels. On 20 two-object shapes
scenes (benchmarks/edit_shapes.py) 0.3 / 2 covered the whole selected object in 19 and never
touched the other; 0.5 / 1 covered it whole in 1 (its rim stayed, so did the object).
"""

CLIP_GUIDE_SCALE = 300.0
EDIT_THRESHOLD, EDIT_DILATE = 0.3, 2
