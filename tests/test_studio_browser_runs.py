"""The Runs tab's Evaluate button in a real browser (the studio and its runs:
tests/studio_pages.py): a bad n and a run that trains are refused in one line; then
`genlab eval` runs on the tiny GAN with its parts shown as they run, and the new report (FID
& co.) and its samples appear with the command that writes the same files.

The judge of the tiny run's data (256 shapes at 16 px) is trained on the first click (about
a second) into the studio's own judge cache (studio_pages.start_studio sets GENLAB_CACHE)."""

import json
import re

import pytest
from filelock import FileLock

from genlab.engine.run_dir import LOCK
from studio_pages import WAIT_MS, last_step, require_chromium, screenshot

pytestmark = pytest.mark.slow
expect = pytest.importorskip("playwright.sync_api").expect

require_chromium()

# every text the status takes, in order (the parts come and go faster than a poll)
WATCH_STATUS = """() => {
  window.seen = [];
  const root = document.querySelector('#eval-status');
  const note = () => {
    const text = root.innerText;
    if (window.seen[window.seen.length - 1] !== text) window.seen.push(text);
  };
  new MutationObserver(note).observe(root, {subtree: true, childList: true,
                                            characterData: true});
}"""


def click_evaluate(page, n, seed):
    page.locator("#eval-n input").fill(str(n))
    page.locator("#eval-seed input").fill(str(seed))
    page.locator("#eval-button").click()


def test_evaluate_a_run_with_progress_then_see_its_report(studio, page):
    run = studio.runs["tiny"]
    page.goto(studio.url)
    expect(page.locator("#run-summary")).to_contain_text("gan on shapes", timeout=WAIT_MS)
    expect(page.locator("#run-report")).to_contain_text("No evaluation yet")

    click_evaluate(page, 5, 0)
    expect(page.locator("#eval-status")).to_have_text(
        "refused: number of images 5 is out of range: give 10 to 10,000", timeout=WAIT_MS)
    with FileLock(str(run / LOCK), timeout=0):  # what `genlab train` holds
        click_evaluate(page, 50, 1)
        expect(page.locator("#eval-status")).to_have_text(
            "refused: the run is training: evaluate it after it finishes", timeout=WAIT_MS)
    assert not (run / "eval").exists()

    page.evaluate(WATCH_STATUS)
    click_evaluate(page, 50, 1)
    expect(page.locator("#eval-command textarea")).to_have_value(
        f"genlab eval {run} --n 50 --seed 1", timeout=WAIT_MS)
    status = page.locator("#eval-status")
    step = last_step(run)
    expect(status).to_contain_text(
        re.compile(rf"done in [\d.]+ s: eval/step-{step:07d}: fid "))
    for part in ("looking for the judge of shapes at 16 px", "generating 50 images",
                 "measuring the generated images", "the floor: real train images"):
        expect(status).to_contain_text(part)
    seen = page.evaluate("window.seen")
    assert any("running (" in text for text in seen), seen  # shown while it ran

    report = page.locator("#run-report")
    expect(report).to_contain_text(f"eval/step-{step:07d}")
    expect(report).to_contain_text("FID")
    expect(report).to_contain_text("n_generated = 50")
    expect(page.locator("#run-eval-samples img")).to_be_visible()
    written = json.loads((run / "eval" / f"step-{step:07d}" / "eval.json").read_text())
    assert written["protocol"]["n_generated"] == 50 and written["protocol"]["seed"] == 1
    screenshot(page, "studio-eval")
