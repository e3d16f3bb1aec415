"""`genlab bench stylegan`: its measures and verdicts on hand-made numbers, and the quick
benchmark end to end (every section, row and verdict line of the page, and a rerun that
trains nothing)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from genlab.bench.common import judge_folder
from genlab.bench.stylegan_claims import (
    SHAPES_CHANCE,
    best_split,
    dcgan_claims,
    mix_fraction,
    mixing_claims,
    mixing_regularisation_claims,
    progressive_claims,
    time_to_target,
    truncation_claims,
)
from genlab.bench.stylegan_tasks import DATA, ROWS
from genlab.bench.verdicts import NOT_RESOLVED
from genlab.data.config import DataConfig


# --- measures ------------------------------------------------------------------------------
def test_time_to_target_interpolates_between_the_points_around_the_crossing() -> None:
    curve = [(180.0, 4.0), (60.0, 10.0), (120.0, 6.0)]  # any order
    assert time_to_target(curve, 5.0, 600.0) == (pytest.approx(150.0), True)
    assert time_to_target(curve, 6.0, 600.0) == (pytest.approx(120.0), True)  # on a point
    assert time_to_target(curve, 12.0, 600.0) == (60.0, True)  # already there at the first
    assert time_to_target(curve, 3.0, 600.0) == (600.0, False)  # never: the whole budget
    assert time_to_target([], 3.0, 600.0) == (600.0, False)


def _attrs(shape: list[int], colour: list[int], position: list[int],
           found: list[bool] | None = None) -> dict[str, torch.Tensor]:
    return {"shape": torch.tensor(shape), "colour": torch.tensor(colour),
            "position": torch.tensor(position), "size": torch.zeros(len(shape), dtype=torch.long),
            "found": torch.tensor(found if found is not None else [True] * len(shape))}


def test_mix_fraction_counts_only_pairs_that_can_tell_a_from_b() -> None:
    # pairs 0-3 count (A and B differ in shape or position, and in colour); 4: same colour;
    # 5: same shape and position; 6: nothing read in the mix
    a = _attrs([0, 0, 1, 2, 0, 1, 0], [0, 0, 1, 2, 3, 4, 5], [0, 4, 4, 8, 1, 2, 3])
    b = _attrs([1, 0, 2, 2, 1, 1, 1], [1, 1, 2, 3, 3, 5, 0], [0, 5, 4, 0, 1, 2, 3])
    mixed = _attrs([0, 0, 1, 0, 0, 1, 0], [1, 1, 1, 3, 3, 5, 0], [0, 4, 4, 8, 1, 2, 3],
                   found=[True] * 6 + [False])
    out = mix_fraction(mixed, a, b)
    assert out["pairs"] == 4
    # pair 0, 1: all three as asked; 2: B's colour missed; 3: A's shape missed
    assert out["all"] == pytest.approx(2 / 4)
    assert out["shape"] == pytest.approx(3 / 4)
    assert out["position"] == pytest.approx(4 / 4)
    assert out["colour"] == pytest.approx(3 / 4)
    # the mix being A itself or B itself reads 0 by construction
    assert mix_fraction(a, a, b)["all"] == 0 and mix_fraction(b, a, b)["all"] == 0
    none = _attrs([0], [0], [0])
    assert math.isnan(mix_fraction(none, none, none)["all"])  # no pair counts


def test_judge_folder_names_the_padding_and_the_side() -> None:
    out = Path("results")
    assert judge_folder(out, DataConfig(name="fashion-mnist", pad=2)).name == \
        "fashion-mnist-pad2"
    assert judge_folder(out, DataConfig(name="shapes", image_size=64)).name == "shapes-64px"
    assert judge_folder(out, DataConfig(name="fashion-mnist")).name == "fashion-mnist"


# --- verdicts on hand-made rows ---------------------------------------------------------------
def _run(fid: float, curve: list[tuple[float, float]] | None = None, **extra: object) -> dict:
    return {"metrics": {"fid": fid, "precision": 0.5, "recall": 0.5}, "budget_s": 600.0,
            "steps": 100, **({"curve": curve} if curve else {}), **extra}


def _line(lines: list[str], needle: str) -> str:
    found = [line for line in lines if needle in line]
    assert len(found) == 1, lines
    return found[0]


def test_progressive_verdict_from_time_to_target() -> None:
    # progressive: reaches FID 20 after ~2.6 min; fixed: ends at 20 on average (the target:
    # the worse mean end) near the end of its 10 min, one seed never gets there
    grow = [_run(f, [(60, 40), (180, f + 5), (600, f)]) for f in (10.0, 11.0, 12.0)]
    fixed = [_run(f, [(60, 80), (540, 30), (600, f)]) for f in (19.0, 20.0, 21.0)]
    res = {"fashion-progan": grow, "fashion-progan-fixed": fixed}
    lines = progressive_claims(res)
    sooner = _line(lines, "reaches a given FID sooner")
    assert "**supported**" in sooner and "CPU minutes to FID 20 " in sooner
    assert "never reached, counted as the whole budget: 1 progan-fixed seed(s)" in sooner
    assert "**supported**" in _line(lines, "ends at a lower FID")
    swapped = progressive_claims({"fashion-progan": fixed, "fashion-progan-fixed": grow})
    assert all("**refuted**" in line for line in swapped)
    one = progressive_claims({"fashion-progan": grow[:1], "fashion-progan-fixed": fixed[:1]})
    assert all(f"**{NOT_RESOLVED}**" in line for line in one) and "one seed" in one[0]
    assert progressive_claims({"fashion-progan": grow}) == []  # the control is missing


def test_dcgan_and_mixing_regularisation_verdicts_on_fid() -> None:
    res = {"fashion-stylegan": [_run(f) for f in (30.0, 31.0, 32.0)],
           "fashion-dcgan": [_run(f) for f in (50.0, 52.0, 54.0)],
           "fashion-cstylegan": [_run(f) for f in (30.0, 40.0, 50.0)],
           "fashion-cdcgan": [_run(f) for f in (35.0, 40.0, 45.0)],
           "fashion-stylegan-nomix": [_run(f) for f in (20.0, 21.0, 22.0)]}
    lines = dcgan_claims(res)
    assert "**supported**" in _line(lines, "stylegan reaches a lower FID than dcgan")
    assert f"**{NOT_RESOLVED}**" in _line(lines, "cstylegan reaches")
    assert "no significant difference" in lines[0]  # precision and recall shown, equal here
    assert "**refuted**" in mixing_regularisation_claims(res)[0]


def _sweep(values: dict[float, tuple[float, float]]) -> dict[str, dict[str, float]]:
    return {str(psi): {"fid": 10.0, "precision": p, "recall": r}
            for psi, (p, r) in values.items()}


def test_truncation_verdicts_need_precision_up_and_recall_down() -> None:
    trade = [_run(10, truncation=_sweep({0.25: (0.9 + d, 0.1), 0.5: (0.8 + d, 0.2 + d),
                                         0.75: (0.7, 0.3), 1.0: (0.6 - d, 0.4 - d)}))
             for d in (0.0, 0.01, 0.02)]
    # z: recall falls, precision falls too (the GAN page's finding); not monotone in seed 2
    shell = [_run(10, truncation=_sweep({0.25: (0.3, 0.1), 0.5: (0.4 + d, 0.2),
                                         0.75: (0.5 if d < 0.02 else 0.3, 0.3),
                                         1.0: (0.6 + d, 0.4 + d)}))
             for d in (0.0, 0.01, 0.02)]
    lines = truncation_claims({"fashion-stylegan": trade, "fashion-dcgan": shell})
    w = _line(lines, "in W (StyleGAN)")
    assert "**supported**" in w and "never falls as psi shrinks over the whole sweep in 3 of 3" in w
    z = _line(lines, "in z (DCGAN)")
    assert "**refuted**" in z and "never falls as psi shrinks over the whole sweep in 0 of 3" in z


def _mixing(fractions: dict[int, float], chance: float) -> dict:
    splits = {str(k): {"all": f, "shape": f, "position": f, "colour": f, "pairs": 500.0}
              for k, f in fractions.items()}
    return {"num_ws": 5, "pairs": 1000, "splits": splits,
            "groups": {"coarse": [0, 2], "middle": [2, 4], "fine": [4, 5]},
            "baselines": {"independent": chance, "k0": 0.0, "k5": 0.0}}


def test_mixing_verdict_tests_the_named_coarse_split_and_only_reports_the_best() -> None:
    rows = [_run(10, mixing=_mixing({1: 0.1, 2: 0.4 + d, 3: 0.45, 4: 0.05}, 0.01 + d / 10))
            for d in (0.0, 0.02, 0.04)]
    assert best_split(rows) == 3
    line = mixing_claims({"shapes-stylegan": rows})[0]
    assert "**supported**" in line and "coarse styles from A (k = 2: styles 0..1)" in line
    assert "the best split, chosen on these same numbers, is k = 3" in line
    assert "coarse + middle from A, fine from B (4)" in line
    assert f"uniform chance {SHAPES_CHANCE:.3g}" in line
    # a high best split does not decide the claim: the coarse split at chance leaves it open
    chance = [_run(10, mixing=_mixing({2: 0.01 + d, 3: 0.5 + d}, 0.01 + d)) for d in
              (0.0, 0.01, 0.02)]
    assert f"**{NOT_RESOLVED}**" in mixing_claims({"shapes-stylegan": chance})[0]
    assert mixing_claims({}) == []


def test_paired_comparison_lets_each_seeds_own_level_cancel() -> None:
    from genlab.bench.verdicts import compare, compare_paired

    high = [0.82, 0.65, 0.72]  # three runs at different levels, each up by about 0.12
    low = [0.68, 0.55, 0.61]
    assert compare(high, low, lower=False, text="x").holds is None  # Welch: seeds' spread
    assert compare_paired(high, low, lower=False, text="x").holds is True
    assert compare_paired(low, high, lower=False, text="x").holds is False


# --- the quick benchmark --------------------------------------------------------------------
@pytest.fixture
def judge_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))  # never the user's judges


def test_bench_quick_writes_every_section_and_reuses_its_runs(tmp_path: Path,
                                                               judge_cache: None) -> None:
    from typer.testing import CliRunner

    from genlab.cli import app

    page = tmp_path / "results" / "stylegan.md"
    args = ["bench", "stylegan", "--quick", "--out", str(page), "--runs", str(tmp_path / "runs")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = page.read_text()
    for title, _ in DATA.values():
        assert f"## {title}" in text
    for section in ("Command: `genlab bench stylegan --quick", "Machine:", "Budget:",
                    "Protocol:", "## Truncation sweep", "## Style mixing", "## Samples (seed 0)",
                    "## What the numbers say", "real vs real (floor)", "Baselines (all three)"):
        assert section in text, section
    for row in ROWS:
        assert f"| {row.key} | `{row.preset}`" in text, row.id
    verdicts = [line for line in text.splitlines() if line.startswith("- *")]
    # progressive x 2 data x (sooner, ends lower), 2 vs DCGAN, 2 truncation, mixing, regulariser
    assert len(verdicts) == 10, verdicts
    assert all(line.endswith(f"**{NOT_RESOLVED}**.") for line in verdicts)  # one seed
    assets = page.parent / "stylegan"
    raw = sorted(p.name for p in (assets / "raw").glob("*-s0.json"))
    assert raw == sorted(f"{r.id}-s0.json" for r in ROWS)
    for row in ROWS:
        assert (assets / f"{row.id}.png").is_file()
    assert (assets / "shapes-stylegan-style-mixing.png").is_file()
    assert (assets / "shapes-stylegan-noise.png").is_file()
    assert (assets / "fid-vs-time-fashion.png").is_file()
    assert (assets / "fid-vs-time-shapes.png").is_file()
    assert (page.parent / "judges" / "fashion-mnist-12px-pad2").is_dir()
    assert (page.parent / "judges" / "shapes-16px").is_dir()
    stylegan = json.loads((assets / "raw" / "fashion-stylegan-s0.json").read_text())
    assert set(stylegan["truncation"]) == {"0.25", "0.5", "0.75", "1.0"}
    mixing = json.loads((assets / "raw" / "shapes-stylegan-s0.json").read_text())["mixing"]
    assert set(mixing["splits"]) == {str(k) for k in range(1, mixing["num_ws"])}
    progan = json.loads((assets / "raw" / "shapes-progan-s0.json").read_text())
    assert progan["curve"] and progan["curve"][-1][0] == pytest.approx(progan["train_seconds"])
    # a rerun trains nothing, even with the scratch run folders gone
    import shutil

    shutil.rmtree(tmp_path / "runs" / "quick" / "fashion-stylegan-s0")
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("done earlier") == len(ROWS)


def test_bench_refuses_bad_options_in_one_line(capsys) -> None:
    from conftest import assert_one_line_error, run_cli

    code, _, err = run_cli(["bench", "stylegan", "--minutes", "0"], capsys)
    assert_one_line_error(code, err, "--minutes")
    code, _, err = run_cli(["bench", "stylegan", "--out", "page.txt"], capsys)
    assert_one_line_error(code, err, ".md")


def test_rows_of_one_data_share_its_config_or_the_bench_refuses(tmp_path: Path,
                                                                 monkeypatch) -> None:
    from genlab.bench import stylegan
    from genlab.bench.stylegan_tasks import Row
    from genlab.errors import ConfigError

    bench = stylegan._Bench(tmp_path / "page.md", tmp_path / "runs", False, None, 1.0, 100,
                            progress=False)
    assert bench.data_config("fashion").pad == 2  # the shipped rows agree
    assert bench.data_config("shapes").image_size == 64
    monkeypatch.setattr(stylegan, "ROWS", (Row("a", "shapes", "stylegan-shapes"), Row(
        "b", "shapes", "stylegan-shapes", ("data.shapes.n_train=5",))))
    with pytest.raises(ConfigError, match="shapes-b"):
        bench.data_config("shapes")


def test_mean_std_leaves_out_seeds_with_nothing_to_measure():
    from genlab.bench.verdicts import mean_std

    assert mean_std([0.003, 0.0, float("nan")]) == pytest.approx((0.0015, 0.0021213), abs=1e-6)
    mean, std = mean_std([float("nan")])
    assert math.isnan(mean) and std == 0.0
