"""benchmarks/fid_vs_n.py: FID over disjoint subsets, its spread, the 1/n extrapolation, the
table and plot, and its one-line argument errors; on synthetic Gaussian features whose FID is
known in closed form (no training, no judge)."""

import importlib.util
import math

import pytest
import torch

from conftest import ROOT, tiny

spec = importlib.util.spec_from_file_location("fid_vs_n", ROOT / "benchmarks" / "fid_vs_n.py")
fid_vs_n = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fid_vs_n)

D = 8


def gaussian(n, shift=0.0, seed=0):
    x = torch.randn(n, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x[:, 0] += shift
    return x


def test_one_fid_per_disjoint_pair_aligned_by_index():
    a = gaussian(10_000)
    assert len(fid_vs_n.subset_fids(a, a, 500)) == fid_vs_n.MAX_SUBSETS == 20
    assert len(fid_vs_n.subset_fids(a, a[:3000], 1000)) == 3  # the smaller side decides
    # pair i is a's subset i against b's subset i: identical sets score 0, a shuffled b not
    assert max(fid_vs_n.subset_fids(a, a.clone(), 1000)) < 1e-9
    assert min(fid_vs_n.subset_fids(a, a.flip(0), 1000)) > 1e-3
    # a held fixed: a[:n] against each of b's subsets, as many as b holds
    b = gaussian(4000, seed=9)
    fixed = fid_vs_n.subset_fids(a[:1000], b, 1000, fixed_a=True)
    assert fixed == [fid_vs_n.subset_fids(a[:1000], b[i * 1000:], 1000)[0] for i in range(4)]
    with pytest.raises(ValueError, match="n = 5000 needs 5000"):
        fid_vs_n.subset_fids(a, a[:4000], 5000)


def test_same_distribution_fid_falls_as_one_over_n_towards_zero():
    real, other = gaussian(10_000, seed=1), gaussian(10_000, seed=2)
    means = [fid_vs_n.spread(fid_vs_n.subset_fids(real, other, n))[0] for n in (500, 2000, 5000)]
    assert means[0] > means[1] > means[2] > 0
    # the bias is O(1/n): four times the images, about a quarter of the FID
    assert means[0] / means[1] == pytest.approx(4, rel=0.25)
    assert abs(fid_vs_n.fid_infinity([500, 2000, 5000], means)) < 0.1 * means[0]


def test_extrapolation_recovers_the_closed_form_fid_of_shifted_gaussians():
    # N(0, I) against N(shift e1, I): FID = shift^2 (equal covariances: no trace term)
    real, fake = gaussian(10_000, seed=3), gaussian(10_000, shift=1.5, seed=4)
    ns = [500, 1000, 2000, 5000, 10_000]
    means = [fid_vs_n.spread(fid_vs_n.subset_fids(real, fake, n))[0] for n in ns]
    assert means[0] > 2.25 + 0.02  # biased upward at small n
    assert fid_vs_n.fid_infinity(ns, means) == pytest.approx(2.25, abs=0.05)


def test_spread_and_fit_by_hand():
    assert fid_vs_n.spread([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2)))
    mean, std = fid_vs_n.spread([5.0])
    assert mean == 5.0 and math.isnan(std)
    ns = [500, 1000, 2000]
    assert fid_vs_n.fid_infinity(ns, [3 + 400 / n for n in ns]) == pytest.approx(3)


def test_table_and_plot(tmp_path):
    rows = {"gan": {500: [2.0, 4.0], 1000: [2.5]}, "floor": {500: [0.4, 0.6], 1000: [0.2]}}
    text = fid_vs_n.table(rows)
    assert "| 500 | 2 | 3.000 ± 1.414 | 0.500 ± 0.141 |" in text
    assert "| 1,000 | 1 | 2.500 | 0.200 |" in text  # one subset: no spread
    # lines through (1/500, 3) and (1/1000, 2.5): intercept 2; (0.5, 0.2): intercept -0.1
    assert text.splitlines()[-1] == "| inf (fit in 1/n) | | 2.000 | -0.100 |"
    extra = {"SE": {"gan": {500: 0.25, 1000: float("nan")}}}  # a column for one series only
    with_se = fid_vs_n.table(rows, extra).splitlines()
    assert with_se[0] == "| n | subsets | gan FID | SE | floor FID |"
    assert with_se[2:4] == ["| 500 | 2 | 3.000 ± 1.414 | 0.250 | 0.500 ± 0.141 |",
                            "| 1,000 | 1 | 2.500 | - | 0.200 |"]
    assert with_se[-1] == "| inf (fit in 1/n) | | 2.000 | | -0.100 |"
    png = fid_vs_n.plot(rows, tmp_path / "f.png", "title")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, message", [
    (["--minutes", "0"], "--minutes must be in (0, 60], got 0"),
    (["--minutes", "abc"], "argument --minutes: invalid float value: 'abc'"),
    (["--run", "RUN", "--minutes", "2"], "give --run or --minutes, not both"),
    (["--run", "RUN"], "not a run folder (no run.json)"),
    (["--seed", "-1"], "--seed must be >= 0, got -1"),
    (["--out", "FILE"], "is a file, not a folder"),
])
def test_bad_arguments_are_one_line_errors_with_exit_code_2(argv, message, tmp_path, capsys):
    (tmp_path / "FILE").write_text("x")
    argv = [str(tmp_path / a) if a in ("RUN", "FILE") else a for a in argv]
    with pytest.raises(SystemExit) as exit_:
        fid_vs_n.parse_args(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert message in err and err.count("\n") == 1 and err.startswith("fid_vs_n.py: error:")


def test_defaults_train_four_minutes_and_a_run_trains_nothing(tmp_path):
    assert fid_vs_n.parse_args([]).minutes == 4.0
    (tmp_path / "run.json").write_text("{}")
    args = fid_vs_n.parse_args(["--run", str(tmp_path)])
    assert args.minutes is None and args.run == tmp_path
    assert args.seed == 0 and args.out == ROOT / "docs" / "results" / "fid-vs-n"


def test_a_run_on_data_without_a_pinned_judge_is_refused_in_one_line(tmp_path, capsys):
    from genlab import train
    from genlab.runs.config import load_config

    # a tiny 16px shapes run: docs/results/judges pins only the pages' judges (no shapes-16px),
    # and the benchmark must not pin a new judge there
    cfg = load_config(ROOT / "configs" / "dcgan.yaml", tiny(tmp_path, "train.steps=2", "name=t"))
    run = train(cfg, show_progress=False).run_dir
    with pytest.raises(SystemExit) as exit_:
        fid_vs_n.main(["--run", str(run), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert "without a pinned judge" in err and "judges/shapes-16px" in err
    assert not (tmp_path / "out").exists()
    assert not (ROOT / "docs" / "results" / "judges" / "shapes-16px").exists()
