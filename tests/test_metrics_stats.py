"""Metrics on features, checked against independent float64 references and hand-worked cases."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.special import softmax
from scipy.stats import entropy

from genlab.errors import EvalError
from genlab.metrics import stats
from genlab.metrics.stats import (
    class_histogram,
    class_stats,
    conditional_accuracy,
    feature_stats,
    fid,
    frechet_distance,
    inception_score,
    kid,
    prdc,
)


def gaussian(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) * scale  # correlated dimensions
    return rng.normal(size=(n, d)) @ mix + shift


# ---------------------------------------------------------------- FID

def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_fid_matches_scipy_reference():
    a, b = gaussian(500, 16, seed=1), gaussian(600, 16, seed=2, shift=0.3, scale=1.5)
    expected = reference_fid(a, b)
    assert expected > 1
    assert fid(a, b) == pytest.approx(expected, rel=1e-6)
    # Tensors (float32 features) take the same float64 path.
    t_a, t_b = torch.from_numpy(a).float(), torch.from_numpy(b).float()
    assert fid(t_a, t_b) == pytest.approx(reference_fid(t_a.double().numpy(),
                                                        t_b.double().numpy()), rel=1e-6)


def test_fid_with_fewer_samples_than_dimensions_matches_torch_fidelity():
    # Rank-deficient covariances: scipy's sqrtm returns a large imaginary part here; the
    # symmetric eigen-solve stays real. torch-fidelity sums sqrt(eigvals(s1 s2)).
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(4, 32)) * 100, rng.normal(size=(4, 32)) * 100 + 1
    stats_a, stats_b = ({"mu": m, "sigma": c} for m, c in (feature_stats(a), feature_stats(b)))
    expected = fid_statistics_to_metric(stats_a, stats_b, False)["frechet_inception_distance"]
    assert fid(a, b) == pytest.approx(expected, rel=1e-6)


def test_fid_of_a_set_with_itself_is_zero():
    a = gaussian(400, 12, seed=3)
    assert abs(fid(a, a)) < 1e-6


def test_fid_of_unit_gaussians_is_the_squared_mean_shift():
    rng = np.random.default_rng(4)
    shift = np.array([1.0, 2.0, 0.0, -1.0])
    a, b = rng.normal(size=(40_000, 4)), rng.normal(size=(40_000, 4)) + shift
    assert fid(a, b) == pytest.approx(float(shift @ shift), abs=0.03)


def test_frechet_distance_of_diagonal_gaussians_has_closed_form():
    # Commuting covariances: Tr(s1 + s2 - 2 sqrt(s1 s2)) = sum (sd1 - sd2)^2.
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = 1 + 4 + (1 + 0 + 4)
    got = frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_feature_stats_are_float64_mean_and_unbiased_cov():
    x = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    mu, cov = feature_stats(x)
    assert mu.dtype == cov.dtype == np.float64
    np.testing.assert_allclose(mu, [2.0, 2.0])
    np.testing.assert_allclose(cov, [[4.0, 3.0], [3.0, 3.0]])  # ddof=1, by hand


def test_fid_errors_a_user_can_cause():
    a = gaussian(50, 4, seed=5)
    with pytest.raises(EvalError, match="at least 2"):
        fid(a, a[:1])
    with pytest.raises(EvalError, match="differ in size"):
        fid(a, a[:, :3])
    bad = a.copy()
    bad[3, 1] = np.nan
    with pytest.raises(EvalError, match="NaN"):
        fid(a, bad)
    # A "covariance" with a negative eigenvalue is no covariance.
    with pytest.raises(EvalError, match="not a valid covariance"):
        frechet_distance(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2))


# ---------------------------------------------------------------- KID

def hand_mmd(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written as explicit loops."""
    m, d = len(x), x.shape[1]

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (float(a @ b) / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_with_one_full_subset_equals_hand_computed_mmd():
    x, y = gaussian(30, 5, seed=6), gaussian(30, 5, seed=7, shift=0.5)
    mean, std = kid(x, y, subsets=1, subset_size=30)
    assert mean == pytest.approx(hand_mmd(x, y), rel=1e-10)
    assert std is None  # one subset, the whole set: no spread
    # torch-fidelity's own estimator agrees too.
    from torch_fidelity.metric_kid import kernel_poly, mmd2

    kw = {"kid_kernel_poly_degree": 3, "kid_kernel_poly_gamma": None, "kid_kernel_poly_coef0": 1}
    ref = mmd2(kernel_poly(x, x, **kw), kernel_poly(x, y, **kw), kernel_poly(y, y, **kw))
    assert mean == pytest.approx(ref, rel=1e-10)


def test_kid_subsets_average_to_the_full_sample_estimate():
    # The unbiased MMD is a U-statistic: averaged over random subsets it equals the full-sample
    # value, up to Monte-Carlo error std / sqrt(subsets).
    x, y = gaussian(40, 4, seed=8), gaussian(40, 4, seed=9, shift=0.4)
    full = hand_mmd(x, y)
    mean, std = kid(x, y, subsets=2000, subset_size=10, seed=1)
    assert std > 0
    assert abs(mean - full) < 4 * std / math.sqrt(2000)
    assert kid(x, y, subsets=20, subset_size=10, seed=1) == kid(x, y, subsets=20, subset_size=10,
                                                                 seed=1)
    assert kid(x, y, subsets=20, subset_size=10, seed=2) != kid(x, y, subsets=20, subset_size=10,
                                                                 seed=1)


def test_kid_subset_size_is_capped_by_the_smaller_set():
    x, y = gaussian(25, 3, seed=10), gaussian(25, 3, seed=11)
    # subsets larger than the sets: every subset is the whole set, so no spread (None, not
    # the ~1e-16 rounding noise of 5 identical subsets that reports printed as "± 4e-16").
    mean, std = kid(x, y, subsets=5, subset_size=1000)
    assert mean == pytest.approx(hand_mmd(x, y), rel=1e-10)
    assert std is None
    # one set larger than the subsets: its subsets differ, so there is a spread.
    mean, std = kid(x, gaussian(40, 3, seed=12), subsets=5, subset_size=1000)
    assert isinstance(std, float) and std > 0
    with pytest.raises(EvalError):
        kid(x, y[:1])


# ---------------------------------------------------------------- Inception Score

def test_is_of_one_confident_class_is_one():
    logits = torch.zeros(50, 10)
    logits[:, 3] = 100.0
    mean, std = inception_score(logits)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_is_of_uniform_confident_classes_is_the_class_count():
    k = 4
    logits = 100.0 * torch.eye(k)[torch.arange(40) % k]  # every chunk of 4 holds each class once
    for splits in (1, 10):
        mean, std = inception_score(logits, splits=splits)
        assert mean == pytest.approx(k, rel=1e-12)
        assert std == pytest.approx(0.0, abs=1e-12)


def test_is_splits_are_consecutive_chunks():
    # First half all class 0 (IS 1), second half alternating 0/1 (IS 2).
    labels = torch.tensor([0, 0, 0, 0, 0, 1, 0, 1])
    logits = 100.0 * torch.eye(2)[labels]
    mean, std = inception_score(logits, splits=2)
    assert mean == pytest.approx(1.5, rel=1e-12)
    assert std == pytest.approx(0.5, rel=1e-12)
    # More splits than samples: one sample per chunk, each scoring 1.
    assert inception_score(logits[:3], splits=10)[0] == pytest.approx(1.0, abs=1e-12)


def test_is_of_soft_predictions_matches_scipy():
    logits = np.random.default_rng(12).normal(size=(30, 6)) * 2
    p = softmax(logits, axis=1)
    expected = math.exp(np.mean([entropy(row, p.mean(axis=0)) for row in p]))
    assert inception_score(logits, splits=1)[0] == pytest.approx(expected, rel=1e-10)


# ---------------------------------------------------------------- PRDC

def reference_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Brute force in float64 with full distance matrices (Naeem et al. 2020, with <=)."""
    def dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    r_rad = np.sort(dist(real, real), axis=1)[:, k]  # index 0 is the point itself
    f_rad = np.sort(dist(fake, fake), axis=1)[:, k]
    d = dist(real, fake)
    return {"precision": (d <= r_rad[:, None]).any(axis=0).mean(),
            "recall": (d <= f_rad[None, :]).any(axis=1).mean(),
            "density": (d <= r_rad[:, None]).sum() / (k * len(fake)),
            "coverage": (d.min(axis=1) <= r_rad).mean()}


@pytest.mark.parametrize("chunk_elems", [stats._CHUNK_ELEMS, 1000])
def test_prdc_matches_brute_force(monkeypatch, chunk_elems):
    monkeypatch.setattr(stats, "_CHUNK_ELEMS", chunk_elems)  # 1000: many chunks of 3 rows
    real, fake = gaussian(300, 6, seed=13), gaussian(250, 6, seed=14, shift=0.5, scale=1.3)
    got, want = prdc(real, fake, k=3), reference_prdc(real, fake, k=3)
    assert 0 < want["precision"] < 1 and 0 < want["coverage"] < 1
    for key in want:  # float32 distances may flip one boundary case at most
        assert got[key] == pytest.approx(want[key], abs=1.5 / 250), key


def test_prdc_of_identical_sets():
    x = torch.from_numpy(gaussian(5000, 8, seed=15)).float()  # two chunks of rows
    got = prdc(x, x.clone(), k=5)
    assert got["precision"] == got["recall"] == got["coverage"] == 1.0
    # Each real point's ball holds itself and its k neighbours: (k + 1) / k.
    assert got["density"] == pytest.approx(6 / 5, abs=1e-12)


def test_prdc_of_far_apart_sets_is_zero():
    real = gaussian(100, 4, seed=16)
    got = prdc(real, gaussian(120, 4, seed=17) + 1000.0)
    assert got == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


@pytest.mark.parametrize("fake, expected", [
    # real 0, 1, 3, 4 all have radius 1 (k = 1).
    ([0.5, 1.5, 8, 9], {"precision": 0.5, "recall": 0.5, "density": 0.75, "coverage": 0.5}),
    # fake 5 lies exactly on real 4's ball (distance 1 = radius): inside.
    ([0.5, 1.5, 5, 9], {"precision": 0.75, "recall": 1.0, "density": 1.0, "coverage": 0.75}),
])
def test_prdc_hand_worked_1d(fake, expected):
    real = torch.tensor([[0.0], [1.0], [3.0], [4.0]])
    assert prdc(real, torch.tensor(fake).unsqueeze(1), k=1) == expected


def test_prdc_needs_more_than_k_samples():
    with pytest.raises(EvalError, match="at least 6"):
        prdc(gaussian(5, 3, seed=18), gaussian(50, 3, seed=19), k=5)


# ---------------------------------------------------------------- classes

def test_class_histogram_ignores_unreadable():
    hist = class_histogram(torch.tensor([0, 0, 1, -1, 2, 2, 2, -1]), 4)
    np.testing.assert_allclose(hist, [2 / 6, 1 / 6, 3 / 6, 0.0])
    np.testing.assert_array_equal(class_histogram(torch.tensor([-1, -1]), 3), [0.0, 0.0, 0.0])
    with pytest.raises(EvalError, match="outside"):
        class_histogram(torch.tensor([0, 3]), 3)


def test_class_stats_by_hand():
    real = torch.tensor([0, 1, 2] * 4)
    fake = torch.tensor([0] * 8 + [1] + [-1] * 3)
    out = class_stats(fake, real, 3)
    np.testing.assert_allclose(out["hist_fake"], [8 / 9, 1 / 9, 0.0])
    np.testing.assert_allclose(out["hist_real"], [1 / 3] * 3)
    assert out["classes_covered"] == 2 and out["num_classes"] == 3
    third = 1 / 3
    kl = third * (math.log(third / (8 / 9)) + math.log(third / (1 / 9)) + math.log(third / 1e-6))
    assert out["class_kl"] == pytest.approx(kl, rel=1e-12)
    assert out["unreadable"] == 0.25


def test_class_stats_identical_histograms():
    labels = torch.tensor([0, 1, 1, 2, 2, 2])
    out = class_stats(labels, labels.flip(0), 3)
    assert out["class_kl"] == 0.0 and out["classes_covered"] == 3 and out["unreadable"] == 0.0


def test_classes_covered_needs_ten_percent_of_the_real_fraction():
    real = torch.tensor([0, 1] * 50)  # 50% each: a class needs >= 5% of the fakes
    just_in = torch.tensor([0] * 95 + [1] * 5)
    just_out = torch.tensor([0] * 96 + [1] * 4)
    assert class_stats(just_in, real, 2)["classes_covered"] == 2
    assert class_stats(just_out, real, 2)["classes_covered"] == 1
    # A class absent from the real set is not counted.
    assert class_stats(torch.tensor([0, 0, 2]), real, 3)["classes_covered"] == 1


def test_conditional_accuracy():
    pred, requested = torch.tensor([0, 1, 2, -1]), torch.tensor([0, 1, 1, 3])
    assert conditional_accuracy(pred, requested) == 0.5  # -1 (unreadable) counts as wrong
    with pytest.raises(EvalError, match="requested"):
        conditional_accuracy(pred, requested[:3])


def test_fid_bootstrap_se_matches_the_delta_method():
    """1-d features, real N(0, 1) fixed, fake N(m, 1): FID ~ (mean - 0)^2 + (sd - 1)^2, whose
    standard error over fake samples is about 2 m / sqrt(n) (the mean's SE is 1 / sqrt(n))."""
    rng = np.random.default_rng(0)
    real, m, n = rng.standard_normal((20_000, 1)), 1.0, 2000
    fake = rng.standard_normal((n, 1)) + m
    se = stats.fid_bootstrap_se(real, fake, draws=400, seed=1)
    assert se == pytest.approx(2 * m / math.sqrt(n), rel=0.15)
    assert stats.fid_bootstrap_se(real, fake, draws=400, seed=1) == se  # seeded
    # four times the samples: half the error
    quarter = stats.fid_bootstrap_se(real, fake[:500], draws=400, seed=1)
    assert quarter / se == pytest.approx(2.0, rel=0.2)
    with pytest.raises(EvalError, match="at least 2 draws"):
        stats.fid_bootstrap_se(real, fake, draws=1)
