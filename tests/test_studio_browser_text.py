"""The Text to image tab in a real browser (the studio and its runs: tests/studio_pages.py):
CLIP + VQGAN runs a few steps and the image on the page changes while it runs, ending on the
PNG the shown `genlab text2img` command writes; a text-conditioned run samples a prompt."""

import io
import re
import shlex

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from studio_pages import WAIT_MS, require_chromium, screenshot

pytestmark = pytest.mark.slow
expect = pytest.importorskip("playwright.sync_api").expect

require_chromium()

# every src the result image takes, in order (gradio sends a new file for each update)
WATCH_IMAGE = """() => {
  window.seen = [];
  const root = document.querySelector('#text-image');
  const note = () => root.querySelectorAll('img').forEach(img => {
    if (img.src && window.seen[window.seen.length - 1] !== img.src) window.seen.push(img.src);
  });
  new MutationObserver(note).observe(root, {subtree: true, childList: true, attributes: true});
}"""


def pixels(page, src):
    return np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB"))


def test_text_to_image_updates_the_image_as_it_runs(studio, page, tmp_path, capsys):
    url, runs = studio.url, studio.runs_dir
    page.goto(url)
    page.get_by_role("tab", name="Text to image").click()
    expect(page.locator("#text-clip input")).to_have_value("x-clip", timeout=WAIT_MS)
    expect(page.locator("#text-vqgan input")).to_have_value("x-vqgan")
    page.locator("#text-prompt textarea").fill("a red circle")
    page.locator("#text-steps input").fill("12")
    page.locator("#text-cutouts input[type=number]").fill("4")
    page.locator("#text-cutouts input[type=number]").press("Enter")
    page.locator("#text-seed input").fill("5")
    page.evaluate(WATCH_IMAGE)
    page.locator("#text-run").click()

    command = (f"genlab text2img --clip {runs / 'x-clip'} --vqgan {runs / 'x-vqgan'} "
               "--steps 12 --cutouts 4 --lr 0.1 --seed 5 --device cpu 'a red circle'")
    expect(page.locator("#text-status")).to_contain_text("done: step 12/12", timeout=WAIT_MS)
    expect(page.locator("#text-status")).to_contain_text("CLIP similarity")
    expect(page.locator("#text-command textarea")).to_have_value(command)
    seen = page.evaluate("window.seen")
    assert len(seen) >= 3, seen  # the first step's image, later ones, the final image
    final = page.locator("#text-image img").get_attribute("src")
    assert seen[-1] == final
    assert not np.array_equal(pixels(page, seen[0]), pixels(page, final))
    # the last image is, pixel for pixel, the PNG the shown command writes
    out = tmp_path / "cli.png"
    code, _, err = run_cli([*shlex.split(command)[1:], "--out", out], capsys)
    assert code == 0, err
    assert np.array_equal(pixels(page, final), np.asarray(Image.open(out).convert("RGB")))

    # a text-conditioned diffusion run: the prompt gives a grid and its command
    expect(page.locator("#text-ldm-run input")).to_have_value("x-text-ldm")
    expect(page.locator("#text-ldm-cfg input")).to_have_value("3")  # the run's own
    page.locator("#text-ldm-prompt textarea").fill("a red circle")
    page.locator("#text-ldm-n input[type=number]").fill("4")
    page.locator("#text-ldm-n input[type=number]").press("Enter")
    page.locator("#text-ldm-steps input").fill("2")
    page.locator("#text-ldm-cfg input").fill("2.5")
    page.locator("#text-ldm-button").click()
    expect(page.locator("#text-ldm-command textarea")).to_have_value(
        f"genlab sample {runs / 'x-text-ldm'} --n 4 --seed 0 --steps 2 --cfg 2.5 "
        "--prompt 'a red circle'", timeout=WAIT_MS)
    expect(page.locator("#text-ldm-grid img")).to_be_visible()
    screenshot(page, "studio-text")


@pytest.mark.parametrize("box, value, refusal", [
    ("#text-prompt textarea", "a red circle:heavy", "refused: bad weight"),
    ("#text-steps input", "5000", "refused: steps 5,000 is out of range"),
])
def test_a_bad_value_is_refused_on_the_page(studio, page, box, value, refusal):
    page.goto(studio.url)
    page.get_by_role("tab", name="Text to image").click()
    expect(page.locator("#text-clip input")).to_have_value("x-clip", timeout=WAIT_MS)
    page.locator("#text-prompt textarea").fill("a red circle")
    page.locator(box).fill(value)
    page.locator("#text-run").click()
    expect(page.locator("#text-status")).to_contain_text(refusal, timeout=WAIT_MS)


def test_stop_ends_a_long_run_and_the_next_one_runs(studio, page):
    page.goto(studio.url)
    page.get_by_role("tab", name="Text to image").click()
    expect(page.locator("#text-clip input")).to_have_value("x-clip", timeout=WAIT_MS)
    page.locator("#text-prompt textarea").fill("a blue square")
    page.locator("#text-steps input").fill("1000")
    page.locator("#text-cutouts input[type=number]").fill("1")
    page.locator("#text-cutouts input[type=number]").press("Enter")
    page.locator("#text-run").click()
    expect(page.locator("#text-status")).to_contain_text("/1000, loss", timeout=WAIT_MS)
    page.locator("#text-stop").click()
    expect(page.locator("#text-status")).to_contain_text(
        re.compile(r"stopped at step \d+/1000"), timeout=WAIT_MS)
    page.locator("#text-steps input").fill("3")
    page.locator("#text-run").click()
    expect(page.locator("#text-status")).to_contain_text("done: step 3/3", timeout=WAIT_MS)
