"""Benchmarks: each trains or loads models under one protocol, keeps every finished row's
numbers in raw JSON files beside its results page (so an interrupted benchmark resumes), and
writes the page from those files.

One module runs a benchmark (`gan`, `diffusion`, `text2img`, `image2image`), its `*_page`
module writes the page; a page never imports its benchmark, and what several share lives in
`common`.
"""
