"""What the studio's browser tests share: the system's Chromium, the runs the page serves
(tiny runs trained once per session, one of each kind a tab needs), the studio started as
`genlab studio RUNS --port P` in its own process, and screenshots for the README.

The screenshots in docs/images/studio-*.png are taken by the tests from the real page, only
when GENLAB_STUDIO_SCREENSHOTS=1 is set (so a plain test run leaves the tree clean):

    GENLAB_STUDIO_SCREENSHOTS=1 pytest -m slow tests/test_studio_browser*.py

With it, the runs train longer (SCREENSHOT_STEPS) so the pictures show shapes, not noise."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from conftest import PYTHON, ROOT, subprocess_env, tiny

CHROMIUM = os.environ.get("GENLAB_CHROMIUM", "/usr/bin/chromium")
IMAGES = ROOT / "docs" / "images"
SCREENSHOTS = os.environ.get("GENLAB_STUDIO_SCREENSHOTS") == "1"
WAIT_MS = 90_000  # a loaded 2-core machine: generous, only waited for when something is slow
STEPS = 2
SCREENSHOT_STEPS = 300
GAN_STEPS = SCREENSHOT_STEPS if SCREENSHOTS else 4  # the `tiny` run's (conftest.trained_run)


def require_chromium() -> None:
    """Skip a browser test module where Chromium is missing; in CI that is an error."""
    import pytest

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"no {CHROMIUM}: .ci/run installs Debian's chromium package")
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


def screenshot(page, name: str) -> None:
    """docs/images/NAME.png from the page, only when GENLAB_STUDIO_SCREENSHOTS=1."""
    if SCREENSHOTS:
        page.screenshot(path=IMAGES / f"{name}.png", full_page=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(base: Path, name: str, config: str | None, method: str, *extra: str) -> Path:
    from genlab import train
    from genlab.runs.config import load_config

    steps = SCREENSHOT_STEPS if SCREENSHOTS else STEPS
    cfg = load_config(ROOT / "configs" / config if config else None,
                      tiny(base, f"train.steps={steps}", f"name={name}",
                           f"train.sample_every={max(2, steps // 4)}",
                           f"train.ckpt_every={steps}", *extra, method=method))
    return train(cfg, show_progress=False).run_dir


def make_runs(base: Path, gan_run: Path) -> dict[str, Path]:
    """The runs the studio serves, by name under RUNS (names sort after `tiny`, the run the
    page opens first): a copy of the session's tiny conditional GAN, an unconditional DCGAN
    (Explore: steering toward a class), a class-conditional DDPM
    (Edit: img2img, inpainting, edit by text), a CLIP and a VQGAN (Text to image, edit by
    text), a pix2pix (Translate) and a text-conditioned LDM with its VAE and CLIP."""
    out = base / "trained"
    if SCREENSHOTS:  # the session's 4-step GAN draws noise: one that draws shapes
        gan_run = _train(out, "tiny", "demo.yaml", "gan")
    made = {
        "x-dcgan": _train(out, "dcgan", "dcgan.yaml", "gan"),  # unconditional: steerable
        "x-ddpm": _train(out, "ddpm", "ddpm-shapes.yaml", "ddpm", "method.timesteps=50"),
        "x-clip": _train(out, "clip", None, "clip"),
        "x-vqgan": _train(out, "vqgan", "vqgan-shapes.yaml", "vqgan", "method.disc_start=1",
                          "method.dead_code_steps=1"),
        "x-pix2pix": _train(out, "pix2pix", None, "pix2pix"),
    }
    vae = _train(out, "vae", "vae-latent.yaml", "vae", "data.name=shapes",
                 "method.downsamples=1", "method.z_channels=4")
    made["x-text-ldm"] = _train(out, "tldm", "ldm-text-shapes.yaml", "ldm", "method.heads=2",
                                "method.name=text-ldm", f"method.vae_run={vae}",
                                f"method.clip_run={made['x-clip']}")
    runs = base / "runs"
    shutil.copytree(gan_run, runs / "tiny")
    for name, path in made.items():
        shutil.copytree(path, runs / name)
    (runs / "escape").symlink_to(gan_run)  # a link to a run outside RUNS: refused
    return {"tiny": runs / "tiny", **{name: runs / name for name in made}}


@dataclass
class StudioPage:
    """A running studio: its address, its runs folder and the runs in it by name, and the
    run outside the folder that `escape` links to."""

    url: str
    runs_dir: Path
    runs: dict[str, Path]
    outside: Path


def start_studio(base: Path, runs_dir: Path) -> tuple[subprocess.Popen, str]:
    """`genlab studio RUNS --port P` in its own process, waited for until it answers."""
    port = free_port()
    env = {**subprocess_env(), "GRADIO_TEMP_DIR": str(base / "gradio"), "TMPDIR": str(base),
           "OMP_NUM_THREADS": "1", "GENLAB_CACHE": str(base / "cache")}  # judges it trains
    log = base / "studio.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([PYTHON, "-m", "genlab", "studio", str(runs_dir), "--port",
                                 str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the studio did not start: {log.read_text()[-2000:]}"
                                   ) from None
            time.sleep(0.5)
