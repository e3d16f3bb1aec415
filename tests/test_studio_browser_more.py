"""The Translate and Explore tabs in a real browser: an uploaded image translated by an
image-to-image run (the files the shown `genlab translate` writes), the walk between latents as
an animation, and noise steered toward a class, before beside after. The studio and its runs:
tests/studio_pages.py (x-pix2pix: a tiny pix2pix on shapes; tiny: a conditional GAN;
x-dcgan: an unconditional one, which steering needs)."""

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


def open_run(page, url, tab, name=None):
    """The studio on its first run (`tiny`), then `name` typed in the run box, then `tab`."""
    page.goto(url)
    expect(page.locator("#run-summary")).to_contain_text("gan on shapes", timeout=WAIT_MS)
    if name:
        box = page.locator("#run input")
        box.fill(name)
        box.press("Enter")
        expect(page.locator("#run-status")).to_contain_text(f"/runs/{name}", timeout=WAIT_MS)
    page.get_by_role("tab", name=tab, exact=True).click()


def shown_image(page, selector):
    src = page.locator(f"{selector} img").get_attribute("src")
    return Image.open(io.BytesIO(page.request.get(src).body()))


def test_translate_an_uploaded_image_and_see_the_files_the_command_writes(
        studio, page, tmp_path, monkeypatch, capsys):
    open_run(page, studio.url, "Translate")
    expect(page.locator("#translate-status")).to_contain_text("does not translate images",
                                                              timeout=WAIT_MS)
    expect(page.locator("#translate-button")).to_be_disabled()

    open_run(page, studio.url, "Translate", "x-pix2pix")
    expect(page.locator("#translate-button")).to_be_enabled(timeout=WAIT_MS)
    picture = tmp_path / "shapes.png"
    pixels = np.full((16, 16, 3), 255, np.uint8)
    pixels[4:12, 4:12] = (200, 30, 30)
    Image.fromarray(pixels).save(picture)
    page.locator("#translate-upload input[type=file]").set_input_files(picture)
    page.locator("#translate-button").click()
    command = page.locator("#translate-command textarea")
    expect(command).to_have_value(re.compile(
        rf"^genlab translate {re.escape(str(studio.runs['x-pix2pix']))} \S+/shapes\.png "
        r"--out translated --grid translated-grid\.png$"), timeout=WAIT_MS)
    expect(page.locator("#translate-grid img")).to_be_visible()

    # the input | output grid on the page is the one the shown command writes
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(shlex.split(command.input_value())[1:], capsys)
    assert code == 0, err
    shown = shown_image(page, "#translate-grid")
    assert np.array_equal(np.asarray(shown.convert("RGB")),
                          np.asarray(Image.open(tmp_path / "translated-grid.png").convert("RGB")))
    screenshot(page, "studio-translate")


def test_explore_shows_the_walk_as_an_animation(studio, page):
    url, runs = studio.url, studio.runs_dir
    open_run(page, url, "Explore")
    page.locator("#explore-button").click()
    expect(page.locator("#explore-command textarea")).to_have_value(
        f"genlab interpolate {runs / 'tiny'} --steps 16 --rows 4 --seed 0", timeout=WAIT_MS)
    animation = shown_image(page, "#explore-gif")
    assert animation.format == "GIF" and animation.n_frames == 30  # 16 there, 14 back
    # a conditional run is not steered: it takes a class directly
    expect(page.locator("#control-status")).to_contain_text("conditioned on classes")
    expect(page.locator("#control-button")).to_be_disabled()


def test_steer_toward_a_class_and_see_before_and_after(studio, page):
    steerable = studio.runs["x-dcgan"]
    open_run(page, studio.url, "Explore", "x-dcgan")
    page.locator("#explore-button").click()  # the walk too, for the screenshot
    expect(page.locator("#control-button")).to_be_enabled(timeout=WAIT_MS)
    page.locator("#control-target input").click()
    page.get_by_role("option", name="triangle").click()
    page.locator("#control-button").click()
    expect(page.locator("#control-command textarea")).to_have_value(
        f"genlab control {steerable} --target triangle --steps 50 --n 8 --restarts 2 "
        "--seed 0", timeout=WAIT_MS)
    expect(page.locator("#control-status")).to_contain_text(re.compile(
        r"mean probability of triangle: \d\.\d{3} before, \d\.\d{3} after"))
    before, after = (shown_image(page, f"#control-{s}") for s in ("before", "after"))
    assert before.size == after.size == (8 * 18 + 2, 18 + 2)  # 8 images of 16 px, a row
    expect(page.locator("#explore-gif img")).to_be_visible(timeout=WAIT_MS)
    screenshot(page, "studio-explore")
