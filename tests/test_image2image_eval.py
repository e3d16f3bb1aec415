"""Evaluation of image-to-image runs and `genlab bench image2image`: metrics against hand-worked
values, the verdict logic, the paired / unpaired / super-resolution dispatch on tiny runs, and
the quick benchmark's page."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from conftest import assert_one_line_error, run_cli
from genlab.bench.image2image_page import (
    NOT_RESOLVED,
    TASKS,
    Part,
    better,
    claims,
    verdict,
    welch,
)
from genlab.bench.image2image_tasks import TASKS as BENCH_TASKS
from genlab.data.config import DataConfig
from genlab.metrics.image2image import (
    PSNR_CAP,
    bicubic,
    l1,
    psnr,
    sharpness_ratio,
    ssim,
)

SHAPES16 = ["data.name=shapes", "data.image_size=16", "data.shapes.n_train=48",
            "data.shapes.n_test=24"]


# --- pixel metrics ------------------------------------------------------------------------
def test_l1_and_psnr_of_known_images() -> None:
    black = torch.full((2, 3, 8, 8), -1.0)  # 0 on the [0, 1] scale
    grey = torch.full((2, 3, 8, 8), -0.8)  # 0.1 on the [0, 1] scale: MSE 0.01
    assert l1(grey, black) == pytest.approx(0.1)
    assert psnr(grey, black) == pytest.approx(20.0, abs=1e-4)  # 10 log10(1 / 0.01)
    half = black.clone()
    half[..., :4] = 1.0  # half the pixels differ by the full range
    assert l1(half, black) == pytest.approx(0.5)
    assert psnr(half, black) == pytest.approx(10 * math.log10(2), abs=1e-4)  # MSE 0.5
    assert psnr(black, black) == PSNR_CAP
    # uint8 and [-1, 1] inputs are the same scale
    u8 = torch.full((1, 1, 4, 4), 255, dtype=torch.uint8)
    assert l1(u8, torch.zeros(1, 1, 4, 4, dtype=torch.uint8)) == pytest.approx(1.0)


def test_ssim_identity_is_one_and_noise_lowers_it() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 16, 16, generator=gen) * 2 - 1
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-5)
    noisy = (x + 0.5 * torch.randn(x.shape, generator=gen)).clamp(-1, 1)
    assert ssim(noisy, x) < 0.9
    assert ssim(x[..., :7, :7], x[..., :7, :7]) == pytest.approx(1.0, abs=1e-5)  # small window


def test_sharpness_ratio_sees_blur() -> None:
    from kornia.filters import gaussian_blur2d

    gen = torch.Generator().manual_seed(1)
    x = torch.rand(4, 1, 16, 16, generator=gen) * 2 - 1
    assert sharpness_ratio(x, x) == pytest.approx(1.0)
    blurred = gaussian_blur2d(x, (5, 5), (1.5, 1.5))
    assert sharpness_ratio(blurred, x) < 0.2


def test_bicubic_keeps_a_flat_image_flat() -> None:
    flat = torch.full((2, 1, 4, 4), 100, dtype=torch.uint8)
    up = bicubic(flat, 16)
    assert up.shape == (2, 1, 16, 16)
    assert torch.allclose(up, torch.full_like(up, 100 / 255 * 2 - 1), atol=1e-5)


def test_shape_mismatch_is_an_eval_error() -> None:
    from genlab.errors import EvalError

    with pytest.raises(EvalError, match="differ"):
        l1(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 16, 16))


# --- the evaluator with hand-made "models" ------------------------------------------------------
class _Fake:
    """A method-like object: translate is a given function, both directions."""

    directions = ("AtoB", "BtoA")

    def __init__(self, fn, domains=("circle", "square")) -> None:
        self.fn = fn
        self.device = torch.device("cpu")
        from genlab.methods.base import DataInfo

        self.info = DataInfo(3, 16, domains=list(domains), paired=False)

    def translate(self, x, direction="AtoB"):
        return self.fn(x, direction)

    def translation_grid(self, inputs, targets):
        return [inputs, self.translate(inputs), targets]


def _unaligned_shapes() -> DataConfig:
    from genlab.runs.config import load_config

    return load_config(None, [*SHAPES16, "data.pairs=unaligned",
                              "data.domains=[circle,square]"]).data


def test_identity_model_keeps_content_and_cycles_exactly() -> None:
    from genlab.evaluation.image2image import TranslationEvaluator

    ev = TranslationEvaluator(_unaligned_shapes(), n=24, seed=0, judge=False)
    out = ev.measure(_Fake(lambda x, d: x))
    assert out["cycle_l1"] == pytest.approx(0.0, abs=1e-6)
    assert out["cycle_l1_BtoA"] == pytest.approx(0.0, abs=1e-6)
    # an identity keeps every colour and position but never changes the shape
    assert out["colour_kept"] >= 0.9 and out["position_kept"] >= 0.9
    assert out["target_acc"] <= 0.1 and out["target_acc_BtoA"] <= 0.1
    # one direction brightens by 0.2 (0.1 on the [0, 1] scale), the other is the identity:
    # the cycle error is exactly what the forward step added, where it did not clip
    shift = _Fake(lambda x, d: (x + 0.2).clamp(-1, 1) if d == "AtoB" else x)
    inputs = ev.inputs.float() / 127.5 - 1
    expected = float(((inputs + 0.2).clamp(-1, 1) - inputs).abs().mean() / 2)
    assert ev.unpaired_metrics(shift, "AtoB")["cycle_l1"] == pytest.approx(expected, abs=1e-3)


def test_paired_metrics_of_the_targets_themselves() -> None:
    from genlab.evaluation.image2image import TranslationEvaluator
    from genlab.runs.config import load_config

    cfg = load_config(None, [*SHAPES16, "data.pairs=grey"]).data
    ev = TranslationEvaluator(cfg, n=24, seed=0, judge=False)
    out = ev.paired_metrics(ev.targets)
    assert out["l1"] == 0.0 and out["psnr"] == PSNR_CAP
    assert out["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert out["sharpness"] == pytest.approx(1.0)
    assert out["shape_acc"] >= 0.9 and out["colour_acc"] >= 0.9  # the reader on real images
    assert "fid" not in out  # no judge for shapes unless one is cached


# --- statistics and verdicts ---------------------------------------------------------------
def test_welch_against_a_hand_worked_case() -> None:
    t, df, p = welch([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])  # type: ignore[misc]
    assert t == pytest.approx(-3 / math.sqrt(2 / 3))
    assert df == pytest.approx(4.0)  # (2/3)^2 / (2 (1/3)^2 / 2)
    assert p == pytest.approx(0.02131, abs=1e-4)
    assert welch([1.0], [2.0, 3.0]) is None  # one seed: no test
    t, _, p = welch([0.5, 0.5], [0.7, 0.7])  # type: ignore[misc]
    assert p == 0.0 and t < 0  # no spread: the difference is exact
    _, df, _ = welch([0.8, 0.9, 0.7], 1.0)  # type: ignore[misc]
    assert df == pytest.approx(2.0)  # a constant: the one-sample test


def _rows(values: dict[str, list[float]], key: str) -> dict[str, list[dict]]:
    return {v: [{"metrics": {key: x}} for x in xs] for v, xs in values.items()}


def test_better_and_verdicts() -> None:
    res = {"sr": _rows({"srresnet": [24.0, 24.2, 24.1], "srgan": [22.0, 22.1, 21.9]}, "psnr")}
    assert better(res, "sr", "srresnet", "srgan", "psnr").holds is True
    assert better(res, "sr", "srgan", "srresnet", "psnr").holds is False
    close = {"sr": _rows({"srresnet": [24.0, 22.0, 23.0], "srgan": [23.1, 22.5, 23.6]}, "psnr")}
    assert better(close, "sr", "srresnet", "srgan", "psnr").holds is None
    lower = {"sr": _rows({"srgan": [3.0, 3.1, 3.2], "srresnet": [5.0, 5.1, 5.2]}, "fid")}
    assert better(lower, "sr", "srgan", "srresnet", "fid").holds is True  # lower FID wins
    assert verdict([Part(True, ""), Part(True, "")]) == "supported"
    assert verdict([Part(True, ""), Part(False, "")]) == "refuted"
    assert verdict([Part(True, ""), Part(None, "")]) == NOT_RESOLVED
    one_seed = {"sr": _rows({"srresnet": [24.0], "srgan": [22.0]}, "psnr")}
    sr_claims = dict(claims(one_seed)["sr"])
    assert verdict(sr_claims["SRResNet has the higher PSNR"]) == NOT_RESOLVED


# --- dispatch on tiny runs -------------------------------------------------------------------
def _tiny_run(tmp_path: Path, method: str, *extra: str) -> Path:
    from genlab.methods.registry import tiny_overrides
    from genlab.runs.config import load_config
    from genlab.runs.train import train

    cfg = load_config(None, [*tiny_overrides(method), *SHAPES16, *extra, "train.steps=2",
                             "train.batch_size=4", "train.sample_every=0",
                             "train.ckpt_every=0", "train.tensorboard=false",
                             f"train.out_dir={tmp_path}", f"name={method}"])
    result = train(cfg, show_progress=False)
    assert result.run_dir is not None
    return result.run_dir


@pytest.mark.parametrize(("method", "extra", "keys", "absent"), [
    ("pix2pix", ["data.pairs=labels"], {"l1", "psnr", "ssim", "sharpness", "shape_acc"},
     {"cycle_l1"}),
    ("cyclegan", [], {"target_acc", "cycle_l1", "colour_kept", "position_kept", "size_kept",
                      "cycle_l1_BtoA"}, {"psnr"}),
    ("srgan", ["data.pairs=sr2"], {"l1", "psnr", "ssim", "sharpness"}, {"cycle_l1"}),
])
def test_eval_dispatch(tmp_path: Path, method: str, extra: list[str], keys: set[str],
                       absent: set[str]) -> None:
    from genlab.evaluation.run import evaluate_run, training_evaluator
    from genlab.runs.load import load_run

    run = _tiny_run(tmp_path, method, *extra)
    results, report = evaluate_run(run, n=16)
    assert keys <= set(results) and not absent & set(results)
    saved = json.loads((report.parent / "eval.json").read_text())
    assert set(saved["results"]) == set(results)
    assert (report.parent / "samples.png").is_file()
    text = report.read_text()
    assert ("| bicubic |" in text) == (method == "srgan")
    loaded = load_run(run)
    live = training_evaluator(loaded.cfg)(loaded.method, 0)  # the trainer's periodic one
    assert keys <= set(live)


def test_genlab_eval_of_a_translating_run(tmp_path: Path, capsys) -> None:
    run = _tiny_run(tmp_path, "pix2pix", "data.pairs=grey")
    code, out, err = run_cli(["eval", run, "--n", "16", "--out", tmp_path / "e"], capsys)
    assert code == 0, err
    assert "wrote" in out and (tmp_path / "e" / "report.md").is_file()
    report = (tmp_path / "e" / "report.md").read_text()
    assert "| colour read |" in report and "analytic shapes reader" in report
    code, _, err = run_cli(["eval", run, "--features", "inception"], capsys)
    assert_one_line_error(code, err, "judge")


# --- the quick benchmark -------------------------------------------------------------------
def test_bench_quick_writes_every_section(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from genlab.cli import app

    page = tmp_path / "results" / "image2image.md"
    result = CliRunner().invoke(app, ["bench", "image2image", "--quick", "--out", str(page),
                                      "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    text = page.read_text()
    for title, _, _ in TASKS.values():
        assert f"## {title}" in text
    assert "Machine:" in text and "Budget:" in text and "Command:" in text
    assert text.count(f"): **{NOT_RESOLVED}**.") == 9  # one seed: every claim undecided
    grids = sorted(p.name for p in (page.parent / "image2image").glob("*.png"))
    assert "edges-l1-gan.png" in grids and "sr-srgan.png" in grids
    assert len(grids) == sum(len(t.variants) for t in BENCH_TASKS)  # one per trained variant
    raw = sorted((page.parent / "image2image" / "raw").glob("*-s0.json"))
    assert len(raw) == len(grids)  # a row per trained run
    assert "bicubic" in text
    assert not any((page.parent).glob("runs*"))  # run folders go to the scratch folder
    # a rerun trains nothing, even with the scratch run folders gone
    import shutil

    shutil.rmtree(tmp_path / "runs" / "quick" / "sr-srresnet-s0")
    again = CliRunner().invoke(app, ["bench", "image2image", "--quick", "--out", str(page),
                                     "--runs", str(tmp_path / "runs")])
    assert again.exit_code == 0 and again.output.count("done earlier") == len(grids)
