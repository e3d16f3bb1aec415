"""The Edit tab in a real browser: img2img of an upload (a non-image refused in one line), a
mask painted with the mouse and inpainted, an edit by text with the mask CLIP found. The
studio and its runs: tests/studio_pages.py (x-ddpm: a class-conditional DDPM of 50 timesteps,
x-clip: a CLIP)."""

import io
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from studio_pages import WAIT_MS, require_chromium, screenshot

pytestmark = pytest.mark.slow
expect = pytest.importorskip("playwright.sync_api").expect

require_chromium()


def open_edit_on_the_diffusion_run(page, url, part=None):
    page.goto(url)
    expect(page.locator("#run-summary")).to_contain_text("gan on shapes", timeout=WAIT_MS)
    page.get_by_role("tab", name="Edit").click()
    expect(page.locator("#edit-status")).to_contain_text("need a diffusion run",
                                                         timeout=WAIT_MS)
    box = page.locator("#run input")
    box.fill("x-ddpm")
    box.press("Enter")
    expect(page.locator("#edit-button")).to_be_enabled(timeout=WAIT_MS)
    if part:
        page.get_by_role("tab", name=part, exact=True).click()


def a_picture(path):
    """A grey 16 x 16 PNG with a dark square (the model's size)."""
    pixels = np.full((16, 16, 3), 128, np.uint8)
    pixels[3:8, 3:8] = 40
    Image.fromarray(pixels).save(path)
    return path


def shown_image(page, selector):
    src = page.locator(f"{selector} img").get_attribute("src")
    return Image.open(io.BytesIO(page.request.get(src).body()))


def test_edit_refuses_a_non_image_in_one_line_and_edits_an_image(studio, page, tmp_path):
    url = studio.url
    open_edit_on_the_diffusion_run(page, url)
    text = tmp_path / "notes.png"
    text.write_text("not an image\n")
    page.locator("#edit-upload input[type=file]").set_input_files(text)
    page.locator("#edit-button").click()
    expect(page.locator("#edit-status")).to_contain_text(
        re.compile(r"refused: .*not an image"), timeout=WAIT_MS)
    assert "Traceback" not in page.content()

    open_edit_on_the_diffusion_run(page, url)  # the upload box holds the first file
    picture = a_picture(tmp_path / "shape.png")
    page.locator("#edit-upload input[type=file]").set_input_files(picture)
    page.locator("#edit-button").click()
    expect(page.locator("#edit-command textarea")).to_have_value(
        re.compile(r"^genlab img2img .*x-ddpm --init .*shape\.png --strength 0\.6"),
        timeout=WAIT_MS)
    expect(page.locator("#edit-result img")).to_be_visible()
    screenshot(page, "studio-edit")


def image_box(page, canvas, tries=20):
    """Where the uploaded picture is drawn on the editor's canvas (x, y, width, height in
    page pixels): the bounding box of its grey pixels in a screenshot of the canvas, taken
    every half second until the picture is there (None if it never comes)."""
    for _ in range(tries):
        shot = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"))
        ys, xs = np.nonzero((shot == 128).all(axis=2))  # the picture's grey, not the icons'
        if len(xs) > 100:
            box = canvas.bounding_box()
            scale = shot.shape[1] / box["width"]  # screenshot pixels per page pixel
            return (box["x"] + xs.min() / scale, box["y"] + ys.min() / scale,
                    (xs.max() - xs.min() + 1) / scale, (ys.max() - ys.min() + 1) / scale)
        page.wait_for_timeout(500)
    return None


def upload_to_editor(page, editor, picture):
    """Upload `picture` into the image editor; where the picture is on its canvas.
    On a loaded machine an upload made while the canvas still starts can be lost: upload
    again, under a new name (the same file again would not count as a change)."""
    expect(editor.get_by_text("Upload an image")).to_be_visible(timeout=WAIT_MS)
    canvas = editor.locator("canvas").first
    for attempt in range(WAIT_MS // 10_000):
        again = picture.with_name(f"{picture.stem}-{attempt}{picture.suffix}")
        again.write_bytes(picture.read_bytes())
        editor.locator("input[type=file]").set_input_files(again)
        if box := image_box(page, canvas):
            return box
    raise AssertionError("the uploaded picture never appeared on the editor's canvas")


def paint(page, box, points):
    """Drag the mouse over the picture (at `box` on the page) through `points`, in the
    picture's pixels (16 x 16)."""
    x, y, width, height = box
    xy = [(x + (px + 0.5) * width / 16, y + (py + 0.5) * height / 16) for px, py in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for to in xy[1:]:
        page.mouse.move(*to, steps=8)
    page.mouse.up()


def test_paint_a_mask_and_inpaint(studio, page, tmp_path, capsys):
    open_edit_on_the_diffusion_run(page, studio.url, "inpaint")
    editor = page.locator("#inpaint-editor")
    box = upload_to_editor(page, editor, a_picture(tmp_path / "scene.png"))
    paint(page, box, [(2, 11), (12, 11)])  # a stroke along row 11, columns 2 to 12
    for name, value in [("steps", "10"), ("jumps", "1"), ("jump-length", "5")]:
        page.locator(f"#inpaint-{name} input").fill(value)
    page.locator("#inpaint-button").click()
    expect(page.locator("#inpaint-command textarea")).to_have_value(
        re.compile(r"^genlab inpaint .*x-ddpm --image \S+ --mask \S+ --jumps 1 "
                   r"--jump-length 5 --steps 10 --n 1 --seed 0 --label circle$"),
        timeout=WAIT_MS)
    expect(page.locator("#inpaint-result img")).to_be_visible()
    expect(page.locator("#inpaint-mask img")).to_be_visible()
    words = shlex.split(page.locator("#inpaint-command textarea").input_value())
    mask = np.asarray(Image.open(Path(words[words.index("--mask") + 1])))
    assert mask.shape == (16, 16) and mask[11, 7] == 255  # inside the stroke
    assert mask[0, 15] == 0 and mask[5, 7] == 0 and mask[11, 15] == 0
    assert np.array_equal(np.asarray(shown_image(page, "#inpaint-mask").convert("L")), mask)
    # the result on the page is, pixel for pixel, the PNG the shown command writes
    code, _, err = run_cli([*words[1:], "--out", tmp_path / "cli.png"], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(shown_image(page, "#inpaint-result").convert("RGB")),
                          np.asarray(Image.open(tmp_path / "cli.png")))
    screenshot(page, "studio-inpaint")


def test_edit_by_text_shows_the_result_and_the_mask_found(studio, page, tmp_path, capsys):
    open_edit_on_the_diffusion_run(page, studio.url, "by text")
    page.locator("#textedit-upload input[type=file]").set_input_files(
        a_picture(tmp_path / "scene.png"))
    expect(page.locator("#textedit-clip input")).to_have_value("x-clip", timeout=WAIT_MS)
    page.locator("#textedit-select textarea").fill("the dark square")
    page.locator("#textedit-prompt textarea").fill("a circle")
    page.get_by_text("more settings").click()
    for name, value in [("steps", "10"), ("jumps", "1"), ("jump-length", "5")]:
        page.locator(f"#textedit-{name} input").fill(value)
    page.locator("#textedit-button").click()
    expect(page.locator("#textedit-command textarea")).to_have_value(
        re.compile(r"^genlab edit \S+ --select 'the dark square' --prompt 'a circle' "
                   r"--diffusion \S+x-ddpm --clip \S+x-clip "), timeout=WAIT_MS)
    expect(page.locator("#textedit-status")).to_contain_text("drew class 'circle'")
    for part in ("result", "relevance", "mask"):
        expect(page.locator(f"#textedit-{part} img")).to_be_visible()
    mask = np.asarray(shown_image(page, "#textedit-mask").convert("L"))
    assert (mask == 255).any()
    command = page.locator("#textedit-command textarea").input_value()
    code, _, err = run_cli([*shlex.split(command)[1:], "--out", tmp_path / "cli.png"], capsys)
    assert code == 0, err
    assert np.array_equal(mask, np.asarray(Image.open(tmp_path / "cli-mask.png")))
    assert np.array_equal(np.asarray(shown_image(page, "#textedit-result").convert("RGB")),
                          np.asarray(Image.open(tmp_path / "cli.png")))
    screenshot(page, "studio-text-edit")
