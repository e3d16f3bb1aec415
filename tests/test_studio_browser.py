"""genlab studio in a real browser: headless Chromium (Debian's package) driven by Playwright
clicks through a studio started with `genlab studio` over a tiny trained run: pick a run,
sample, see the image (the pixels the command line writes); a path outside RUNS_DIR is
refused. The studio, its runs and the screenshots: tests/studio_pages.py."""

import io
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from studio_pages import WAIT_MS, require_chromium, screenshot, steps_line

pytestmark = pytest.mark.slow
expect = pytest.importorskip("playwright.sync_api").expect

require_chromium()


def test_pick_a_run_sample_and_see_the_image_the_command_writes(studio, page, tmp_path,
                                                                 capsys):
    url, runs = studio.url, studio.runs_dir
    page.goto(url)
    expect(page.locator("#run-summary")).to_contain_text("gan on shapes", timeout=WAIT_MS)
    expect(page.locator("#run-summary")).to_contain_text(steps_line(runs / "tiny"))
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
    url, outside = studio.url, studio.outside
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
    url, runs = studio.url, studio.runs_dir
    for path in [runs / "tiny" / "config.yaml", runs / "tiny" / "samples" / "final.png",
                 Path("/etc/passwd"), runs / ".." / ".." / "etc" / "passwd"]:
        response = page.request.get(f"{url}/gradio_api/file={path}")
        assert response.status in (403, 404), (path, response.status)


def test_a_diffusion_sample_with_empty_boxes_takes_the_runs_own_settings(studio, page):
    """Empty sampler, steps and CFG boxes mean the run's own values: none of them reaches the
    command (an emptied gradio number must not become 0)."""
    page.goto(studio.url)
    expect(page.locator("#run-summary")).to_contain_text("gan on shapes", timeout=WAIT_MS)
    box = page.locator("#run input")
    box.fill("x-ddpm")
    box.press("Enter")
    page.get_by_role("tab", name="Sample").click()
    expect(page.locator("#sample-sampler")).to_be_visible(timeout=WAIT_MS)
    page.locator("#sample-n input[type=number]").fill("4")
    page.locator("#sample-n input[type=number]").press("Enter")
    page.locator("#sample-steps input").fill("3")
    page.locator("#sample-steps input").fill("")  # typed, then emptied
    page.locator("#sample-button").click()
    expect(page.locator("#sample-command textarea")).to_have_value(
        f"genlab sample {studio.runs['x-ddpm']} --n 4 --seed 0", timeout=WAIT_MS)


def test_an_upload_over_8_mb_is_refused_by_the_server(studio, page):
    """gradio's upload route refuses a file over the studio's limit while it arrives; one
    under it is taken (and would then meet guard.check_upload)."""
    from genlab.studio.guard import UPLOAD_BYTES

    def upload(size):
        return page.request.post(f"{studio.url}/gradio_api/upload", multipart={
            "files": {"name": "big.png", "mimeType": "image/png", "buffer": b"\0" * size}})

    assert upload(UPLOAD_BYTES + 1024).status == 413
    small = upload(1024)
    assert small.status == 200 and small.json()[0].endswith("big.png")
