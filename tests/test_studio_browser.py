"""genlab studio in a real browser: headless Chromium (Debian's package) driven by Playwright
clicks through a studio started with `genlab studio` over a tiny trained run: pick a run,
sample, see the image (the pixels the command line writes); a path outside RUNS_DIR is
refused. The screenshots in docs/images/studio-*.png are taken here, from the real page, but
only when GENLAB_STUDIO_SCREENSHOTS=1 is set (so a plain test run leaves the tree clean):

    GENLAB_STUDIO_SCREENSHOTS=1 pytest tests/test_studio_browser.py"""

import io
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import PYTHON, ROOT, run_cli, subprocess_env, tiny

pytestmark = pytest.mark.slow
expect = pytest.importorskip("playwright.sync_api").expect

CHROMIUM = os.environ.get("GENLAB_CHROMIUM", "/usr/bin/chromium")
IMAGES = ROOT / "docs" / "images"
SCREENSHOTS = os.environ.get("GENLAB_STUDIO_SCREENSHOTS") == "1"
WAIT_MS = 90_000  # a loaded 2-core machine: generous, only waited for when something is slow

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"no {CHROMIUM}: .ci/run installs Debian's chromium package")
    pytest.skip(f"no {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


def screenshot(page, name):
    """docs/images/NAME.png from the page, only when GENLAB_STUDIO_SCREENSHOTS=1."""
    if SCREENSHOTS:
        page.screenshot(path=IMAGES / f"{name}.png", full_page=True)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Playwright's own browser download cannot work here: the system's Chromium."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def diffusion_run(base: Path) -> Path:
    """A tiny class-conditional DDPM, trained 2 steps, for the Edit tab."""
    from genlab import train
    from genlab.runs.config import load_config

    cfg = load_config(ROOT / "configs" / "ddpm-shapes.yaml",
                      tiny(base / "ddpm", "train.steps=2", "name=ddpm", "method.timesteps=50",
                           method="ddpm"))
    return train(cfg, show_progress=False).run_dir


@pytest.fixture(scope="module")
def studio(trained_run, tmp_path_factory):
    """`genlab studio RUNS --port P` over a copy of the tiny run (runs/tiny), a tiny DDPM
    (runs/x-ddpm), with a link
    runs/escape to a run outside RUNS; yields (url, runs folder, the outside run)."""
    base = tmp_path_factory.mktemp("studio")
    runs = base / "runs"
    shutil.copytree(trained_run, runs / "tiny")
    shutil.copytree(diffusion_run(base), runs / "x-ddpm")  # sorts after tiny, the first shown
    (runs / "escape").symlink_to(trained_run)
    port = free_port()
    env = {**subprocess_env(), "GRADIO_TEMP_DIR": str(base / "gradio"), "TMPDIR": str(base),
           "OMP_NUM_THREADS": "1"}
    log = open(base / "studio.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([PYTHON, "-m", "genlab", "studio", str(runs), "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the studio did not start: "
                                   + (base / "studio.log").read_text()[-2000:]) from None
            time.sleep(0.5)
    yield url, runs, trained_run
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_pick_a_run_sample_and_see_the_image_the_command_writes(studio, page, tmp_path,
                                                                 capsys):
    url, runs, _ = studio
    page.goto(url)
    expect(page.locator("#run-summary")).to_contain_text("gan on shapes", timeout=WAIT_MS)
    expect(page.locator("#run-summary")).to_contain_text("steps: 4 of 4")
    expect(page.locator("#run-grids img").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#run-losses canvas, #run-losses svg").first).to_be_visible()
    screenshot(page, "studio-runs")

    page.get_by_role("tab", name="Sample").click()
    page.locator("#sample-seed input").fill("3")
    page.locator("#sample-n input[type=number]").fill("8")
    page.locator("#sample-n input[type=number]").press("Enter")
    page.locator("#sample-class input").click()
    page.get_by_role("option", name="square").click()
    page.locator("#sample-button").click()
    command = f"genlab sample {runs / 'tiny'} --n 8 --seed 3 --label square"
    expect(page.locator("#sample-command textarea")).to_have_value(command, timeout=WAIT_MS)

    # the grid on the page is, pixel for pixel, the PNG the shown command writes
    src = page.locator("#sample-grid img").get_attribute("src")
    shown = Image.open(io.BytesIO(page.request.get(src).body()))
    out = tmp_path / "cli.png"
    code, _, err = run_cli([*shlex.split(command)[1:], "--out", out], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(shown.convert("RGB")), np.asarray(Image.open(out)))

    page.get_by_label("Thumbnail 3 of 8").click()
    expect(page.locator("#sample-picked")).to_contain_text(
        "image 2 (row 1, column 3) of seed 3, class square", timeout=WAIT_MS)
    page.keyboard.press("Escape")
    screenshot(page, "studio-sample")


@pytest.mark.parametrize("name", ["../tiny", "escape", "/etc", "ABSOLUTE"])
def test_a_path_outside_the_runs_folder_is_refused(studio, page, name):
    url, runs, outside = studio
    name = str(outside) if name == "ABSOLUTE" else name
    page.goto(url)
    expect(page.locator("#run-summary")).to_contain_text("gan on shapes", timeout=WAIT_MS)
    box = page.locator("#run input")
    box.fill(name)
    box.press("Enter")
    expect(page.locator("#run-status")).to_contain_text(
        re.compile(r"refused: .* outside the runs folder"), timeout=WAIT_MS)
    expect(page.locator("#run-summary")).to_contain_text("refused")
    page.get_by_role("tab", name="Sample").click()
    expect(page.locator("#sample-button")).to_be_disabled(timeout=WAIT_MS)
    if name == "../tiny":
        screenshot(page, "studio-refused")


def test_no_file_of_a_run_or_elsewhere_is_served(studio, page):
    url, runs, _ = studio
    for path in [runs / "tiny" / "config.yaml", runs / "tiny" / "samples" / "final.png",
                 Path("/etc/passwd"), runs / ".." / ".." / "etc" / "passwd"]:
        response = page.request.get(f"{url}/gradio_api/file={path}")
        assert response.status in (403, 404), (path, response.status)


def test_explore_shows_the_walk_as_an_animation(studio, page):
    url, runs, _ = studio
    page.goto(url)
    expect(page.locator("#run-summary")).to_contain_text("gan on shapes", timeout=WAIT_MS)
    page.get_by_role("tab", name="Explore").click()
    page.locator("#explore-button").click()
    expect(page.locator("#explore-command textarea")).to_have_value(
        f"genlab interpolate {runs / 'tiny'} --steps 16 --rows 4 --seed 0", timeout=WAIT_MS)
    src = page.locator("#explore-gif img").get_attribute("src")
    animation = Image.open(io.BytesIO(page.request.get(src).body()))
    assert animation.format == "GIF" and animation.n_frames == 30  # 16 there, 14 back
    screenshot(page, "studio-explore")


def open_edit_on_the_diffusion_run(page, url):
    page.goto(url)
    expect(page.locator("#run-summary")).to_contain_text("gan on shapes", timeout=WAIT_MS)
    page.get_by_role("tab", name="Edit").click()
    expect(page.locator("#edit-status")).to_contain_text("needs a diffusion run",
                                                         timeout=WAIT_MS)
    box = page.locator("#run input")
    box.fill("x-ddpm")
    box.press("Enter")
    expect(page.locator("#edit-button")).to_be_enabled(timeout=WAIT_MS)


def test_edit_refuses_a_non_image_in_one_line_and_edits_an_image(studio, page, tmp_path):
    url, runs, _ = studio
    open_edit_on_the_diffusion_run(page, url)
    text = tmp_path / "notes.png"
    text.write_text("not an image\n")
    page.locator("#edit-upload input[type=file]").set_input_files(text)
    page.locator("#edit-button").click()
    expect(page.locator("#edit-status")).to_contain_text(
        re.compile(r"refused: .*not a readable image"), timeout=WAIT_MS)
    assert "Traceback" not in page.content()

    open_edit_on_the_diffusion_run(page, url)  # the upload box holds the first file
    picture = tmp_path / "shape.png"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(picture)
    page.locator("#edit-upload input[type=file]").set_input_files(picture)
    page.locator("#edit-button").click()
    expect(page.locator("#edit-command textarea")).to_have_value(
        re.compile(r"^genlab img2img .*x-ddpm --init .*shape\.png --strength 0\.6"),
        timeout=WAIT_MS)
    expect(page.locator("#edit-result img")).to_be_visible()
    screenshot(page, "studio-edit")
