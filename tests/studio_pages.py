"""What the studio's browser tests share: the system's Chromium, the runs the page serves
(tiny runs trained once per session, one of each kind a tab needs), the studio started as
`genlab studio RUNS --port P` in its own process, and screenshots for the README.

The screenshots in docs/images/studio-*.png are taken by the tests from the real page, only
when GENLAB_STUDIO_SCREENSHOTS=1 is set (so a plain test run leaves the tree clean):

    GENLAB_STUDIO_SCREENSHOTS=1 pytest -m slow tests/test_studio_browser*.py

With it, the runs train their presets' nets for a minute each (SHOT_MINUTES), so the pictures
show shapes, not noise: about 10 minutes in all on 2 cores."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from conftest import PYTHON, ROOT, TINY_TRAIN, subprocess_env, tiny

CHROMIUM = os.environ.get("GENLAB_CHROMIUM", "/usr/bin/chromium")
IMAGES = ROOT / "docs" / "images"
SCREENSHOTS = os.environ.get("GENLAB_STUDIO_SCREENSHOTS") == "1"
WAIT_MS = 90_000  # a loaded 2-core machine: generous, only waited for when something is slow
STEPS = 2
# screenshot mode: each run trains its preset's nets this long
SHOT_MINUTES = float(os.environ.get("GENLAB_STUDIO_SHOT_MINUTES", "1"))


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
    """A run trained STEPS steps with tiny nets; in screenshot mode, the preset's own nets on
    16 px shapes for SHOT_MINUTES (so the pictures show shapes, not noise)."""
    from genlab import train
    from genlab.methods.registry import tiny_overrides
    from genlab.runs.config import load_config

    out = [f"train.out_dir={base / 'runs'}", f"name={name}"]
    if SCREENSHOTS:
        keep = ("data.name", "data.image_size", "train.device", "train.precision",
                "train.log_every")
        overrides = [*(k for k in TINY_TRAIN if k.startswith(keep)), *out,
                     f"method.name={method}", *(k for k in tiny_overrides(method)
                                                 if k.startswith("data.")),
                     "train.steps=100000", f"train.max_minutes={SHOT_MINUTES}",
                     "train.sample_every=200", "train.ckpt_every=100000", *extra]
    else:
        overrides = tiny(base, f"train.steps={STEPS}", f"name={name}", "train.sample_every=2",
                         "train.ckpt_every=2", *extra, method=method)
    return train(load_config(ROOT / "configs" / config if config else None, overrides),
                 show_progress=False).run_dir


def steps_line(run: Path) -> str:
    """What the Runs tab says of a run's steps: `steps: DONE of PLANNED`."""
    from genlab.runs.folder import read_run

    return f"steps: {last_step(run):,} of {read_run(run)[1].train.steps:,}"


def last_step(run: Path) -> int:
    from genlab.engine.checkpoint import checkpoint_step, list_checkpoints

    return checkpoint_step(list_checkpoints(run / "checkpoints")[-1])


def _judge(cache: Path, run: Path) -> None:
    """The judge of a run's data, trained into the studio's judge cache."""
    from genlab.metrics.judge import load_judge
    from genlab.runs.folder import read_run

    before = os.environ.get("GENLAB_CACHE")
    os.environ["GENLAB_CACHE"] = str(cache)
    try:
        load_judge(read_run(run)[1].data, progress=False)
    finally:
        if before is None:
            del os.environ["GENLAB_CACHE"]
        else:
            os.environ["GENLAB_CACHE"] = before


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
        "x-pix2pix": _train(out, "pix2pix", None, "pix2pix",  # 16 px: 4 halvings at most
                            *(["method.depth=4", "method.d_layers=2"] if SCREENSHOTS else [])),
    }
    vae = _train(out, "vae", "vae-latent.yaml", "vae", "data.name=shapes",
                 "method.downsamples=1", "method.z_channels=4")
    made["x-text-ldm"] = _train(out, "tldm", "ldm-text-shapes.yaml", "ldm", "method.heads=2",
                                "method.name=text-ldm", f"method.vae_run={vae}",
                                f"method.clip_run={made['x-clip']}")
    if SCREENSHOTS:  # the 20,000-image judge the studio would refuse to train on a click
        _judge(base / "cache", made["x-dcgan"])
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
