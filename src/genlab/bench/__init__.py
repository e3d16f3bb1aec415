"""Benchmarks: each trains or loads models under one protocol, keeps every finished row's
numbers in raw JSON files beside its results page (so an interrupted benchmark resumes), and
writes the page from those files.

One module runs a benchmark (`gan`, `diffusion`, `text2img`, `image2image`, `stylegan`), its
`*_page` module writes the page (`*_tasks`: what it trains; `*_claims`: its verdicts); a page
never imports its benchmark. What several share lives in `common` (presets, machine, judges,
raw-row cache, worker pool, FID curve) and `verdicts` (mean ± std, Welch's t-test, verdicts).
"""
