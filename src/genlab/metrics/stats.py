"""Sample-quality statistics on precomputed features, logits and read classes.

Every metric takes features computed once per image set (by a judge or Inception), so no
network runs here. Moments and kernels are float64 (float32 accumulation makes FID depend on
the batch size); only the k-NN distances of PRDC are float32, where rounding can only move a
point lying within ~1e-6 relative of a ball's edge.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import logsumexp, xlogy
from torch import Tensor

from genlab.errors import EvalError

Array = Tensor | np.ndarray
_CHUNK_ELEMS = 2**24  # float32 distances held at once by prdc (64 MB)


def _features64(x: Array, what: str = "features") -> np.ndarray:
    """A finite float64 [N, D] numpy copy of features."""
    a = x.detach().cpu().double().numpy() if isinstance(x, Tensor) else np.asarray(x, np.float64)
    if a.ndim != 2:
        raise EvalError(f"{what} must be [N, D], got shape {tuple(a.shape)}: flatten each sample")
    if not np.isfinite(a).all():
        raise EvalError(f"{what} contain NaN or inf: check the generated images and the extractor")
    return a


def _check_pair(real: Array, fake: Array, min_n: int = 2) -> None:
    if real.shape[1] != fake.shape[1]:
        raise EvalError(f"real and fake features differ in size ({real.shape[1]} vs "
                        f"{fake.shape[1]}): compute both with the same extractor")
    if min(len(real), len(fake)) < min_n:
        raise EvalError(f"need at least {min_n} samples per set, got {len(real)} real and "
                        f"{len(fake)} fake: raise --n")


def feature_stats(features: Array) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and unbiased covariance [D, D] of features [N, D], in float64."""
    a = _features64(features)
    if len(a) < 2:
        raise EvalError(f"need at least 2 samples for a covariance, got {len(a)}: raise --n")
    return a.mean(axis=0), np.atleast_2d(np.cov(a, rowvar=False, ddof=1))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
    """Frechet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = (np.atleast_1d(np.asarray(m, np.float64)) for m in (mu1, mu2))
    s1, s2 = (np.atleast_2d(np.asarray(s, np.float64)) for s in (sigma1, sigma2))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != mu1.shape * 2:
        raise EvalError(f"statistics do not match (means {mu1.shape} and {mu2.shape}, covariances "
                        f"{s1.shape} and {s2.shape}): compute both with the same extractor")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * _trace_sqrt_product(s1, s2))


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr(sqrtm(s1 @ s2)) for symmetric PSD s1, s2.

    s1 @ s2 is similar to the symmetric PSD matrix sqrt(s1) @ s2 @ sqrt(s1), so the trace is
    the sum of the square roots of that matrix's eigenvalues: two symmetric eigen-solves, real
    by construction, ~10x faster than scipy's sqrtm on 2048-d Inception statistics (the tests
    check it against sqrtm). Round-off negatives are clipped to 0.
    """
    w, v = np.linalg.eigh(s1)
    for eig in (w, np.linalg.eigvalsh(s2)):
        if eig.min() < -1e-6 * max(1.0, abs(eig).max()):
            raise EvalError("feature statistics are not a valid covariance (negative "
                            "eigenvalues): compute them with feature_stats on real features")
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = root @ s2 @ root
    eig = np.linalg.eigvalsh((inner + inner.T) / 2)
    if not np.isfinite(eig).all():
        raise EvalError("feature statistics are not finite (NaN features?): check the images")
    return float(np.sqrt(np.clip(eig, 0, None)).sum())


def fid(real: Array, fake: Array) -> float:
    """Frechet distance between the Gaussian fits of two feature sets [N, D]."""
    r, f = _features64(real, "real features"), _features64(fake, "fake features")
    _check_pair(r, f)
    return frechet_distance(*feature_stats(r), *feature_stats(f))


def fid_bootstrap_se(real: Array, fake: Array, *, draws: int = 200, seed: int = 0) -> float:
    """Standard error of FID owed to which fake samples were drawn: the standard deviation
    of FID over `draws` resamples (with replacement) of the fake features, the real
    statistics held fixed (a results page compares rows against the same real set, so its
    noise is common to them). Resampling repeats images, which raises every draw's FID by
    about the same amount: the spread is the estimate, not the draws' centre."""
    r, f = _features64(real, "real features"), _features64(fake, "fake features")
    _check_pair(r, f)
    if draws < 2:
        raise EvalError(f"a bootstrap needs at least 2 draws, got {draws}")
    mu, sigma = feature_stats(r)
    rng = np.random.default_rng(seed)
    fids = [frechet_distance(mu, sigma, *feature_stats(f[rng.integers(0, len(f), len(f))]))
            for _ in range(draws)]
    return float(np.std(fids, ddof=1))


def _poly_kernel_sums(x: Tensor, y: Tensor) -> tuple[float, float]:
    """Sum and trace of the polynomial kernel matrix (x.y / d + 1)^3 of two [m, d] sets."""
    k = torch.addmm(torch.ones((), dtype=x.dtype), x, y.T, alpha=1.0 / x.shape[1]).pow_(3)
    return float(k.sum()), float(k.diagonal().sum())  # fused in place: 3x faster than numpy


def kid(real: Array, fake: Array, *, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float | None]:
    """Kernel Inception Distance: mean and std of the unbiased MMD^2 over random subsets.

    Polynomial kernel (x.y / d + 1)^3; each subset draws m = min(subset_size, n_real, n_fake)
    samples of each set without replacement, as torch-fidelity and clean-fid do. When both sets
    have at most subset_size samples every subset is both whole sets: the one MMD^2 is returned
    with std None, since a spread over identical subsets is rounding noise (~1e-16), not an
    uncertainty.
    """
    r, f = _features64(real, "real features"), _features64(fake, "fake features")
    _check_pair(r, f)
    if subsets < 1 or subset_size < 2:
        raise EvalError(f"KID needs subsets >= 1 and subset_size >= 2, got {subsets} and "
                        f"{subset_size}")
    m = min(subset_size, len(r), len(f))
    if m == len(r) == len(f):
        return _mmd2(torch.from_numpy(r), torch.from_numpy(f)), None
    rng = np.random.default_rng(seed)
    r_t, f_t = torch.from_numpy(r), torch.from_numpy(f)
    scores = np.empty(subsets)
    for i in range(subsets):
        x = r_t[torch.from_numpy(rng.choice(len(r), m, replace=False))]
        y = f_t[torch.from_numpy(rng.choice(len(f), m, replace=False))]
        scores[i] = _mmd2(x, y)
    return float(scores.mean()), float(scores.std())


def _mmd2(x: Tensor, y: Tensor) -> float:
    """Unbiased MMD^2 of two [m, d] sets under the KID kernel."""
    m = len(x)
    (s_xx, t_xx), (s_yy, t_yy) = _poly_kernel_sums(x, x), _poly_kernel_sums(y, y)
    # Unbiased: the within-set sums leave out the k(x, x) terms on the diagonal.
    within = (s_xx - t_xx + s_yy - t_yy) / (m * (m - 1))
    return within - 2.0 * _poly_kernel_sums(x, y)[0] / (m * m)


def inception_score(logits: Array, *, splits: int = 10) -> tuple[float, float]:
    """Inception Score (mean, std over `splits` consecutive chunks) from classifier logits [N, K].

    Chunks are consecutive, so pass samples in random order, not sorted by class.
    """
    a = _features64(logits, "logits")
    if len(a) < 1 or splits < 1:
        raise EvalError(f"Inception Score needs samples and splits >= 1, got {len(a)} samples "
                        f"and splits={splits}")
    log_p = a - logsumexp(a, axis=1, keepdims=True)
    p = np.exp(log_p)
    n, splits = len(a), min(splits, len(a))
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        p_y = p[lo:hi].mean(axis=0)
        # mean_x KL(p(y|x) || p(y)) = mean_x sum p log p - sum p(y) log p(y); xlogy: 0 log 0 = 0.
        kl = (p[lo:hi] * log_p[lo:hi]).sum(axis=1).mean() - xlogy(p_y, p_y).sum()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def _as_points(x: Array, what: str) -> Tensor:
    """Finite float32 [N, D] features (float32 is plenty for k-NN distances)."""
    t = (x.detach() if isinstance(x, Tensor) else torch.from_numpy(np.asarray(x))).float()
    if t.dim() != 2:
        raise EvalError(f"{what} must be [N, D], got shape {tuple(t.shape)}: flatten each sample")
    if not torch.isfinite(t).all():
        raise EvalError(f"{what} contain NaN or inf: check the generated images and the extractor")
    return t.contiguous()


def _kth_nn_radii(x: Tensor, k: int, chunk: int) -> Tensor:
    """Distance from each point to its k-th nearest other point of the same set."""
    out = [torch.cdist(x[i:i + chunk], x).topk(k + 1, dim=1, largest=False).values[:, -1]
           for i in range(0, len(x), chunk)]
    return torch.cat(out)  # topk k + 1: the smallest distance is the point itself


def prdc(real: Array, fake: Array, *, k: int = 5) -> dict[str, float]:
    """Precision, recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020).

    Each point's k-NN ball has the radius to its k-th nearest other point of its own set;
    a point on a ball's boundary is inside (<=), so identical sets score 1, 1, (k+1)/k, 1.
    """
    if k < 1:
        raise EvalError(f"prdc needs k >= 1, got {k}")
    r, f = _as_points(real, "real features"), _as_points(fake, "fake features")
    _check_pair(r, f, k + 1)  # each set needs k other points for its radii
    # Centre on the real mean: distances are unchanged, and smaller norms lose less precision
    # in cdist's float32 ||x||^2 + ||y||^2 - 2 x.y expansion.
    shift = r.mean(dim=0)
    r, f = r - shift, f.to(r.device) - shift
    chunk = max(1, _CHUNK_ELEMS // max(len(r), len(f)))
    radii_f = _kth_nn_radii(f, k, chunk)
    in_real_ball = torch.zeros(len(f), dtype=torch.bool, device=f.device)
    recalled = covered = in_balls = 0
    for i in range(0, len(r), chunk):
        # The same call shape for real-real and real-fake distances, so identical sets give
        # bitwise-identical rows and boundary ties resolve the same way in both.
        rows = r[i:i + chunk]
        radii_r = torch.cdist(rows, r).topk(k + 1, dim=1, largest=False).values[:, -1]
        d = torch.cdist(rows, f)
        inside = d <= radii_r[:, None]
        in_real_ball |= inside.any(dim=0)
        in_balls += int(torch.count_nonzero(inside))  # density needs only the total
        covered += int((d.min(dim=1).values <= radii_r).sum())
        recalled += int((d <= radii_f[None, :]).any(dim=1).sum())
    return {"precision": int(in_real_ball.sum()) / len(f), "recall": recalled / len(r),
            "density": in_balls / (k * len(f)), "coverage": covered / len(r)}


def _labels(pred: Tensor, what: str) -> Tensor:
    t = torch.as_tensor(pred).detach().cpu().long().flatten()
    if len(t) == 0:
        raise EvalError(f"no {what} to score: generate at least one image")
    return t


def class_histogram(pred: Tensor, num_classes: int) -> np.ndarray:
    """Fraction of readable predictions per class (sums to 1; all zeros if none is readable).

    Entries equal to -1 (unreadable images) are left out.
    """
    t = torch.as_tensor(pred).detach().cpu().long().flatten()
    t = t[t != -1]
    if len(t) and (t.min() < 0 or t.max() >= num_classes):
        raise EvalError(f"class predictions outside 0..{num_classes - 1}: the class reader does "
                        "not match this dataset's classes")
    counts = np.bincount(t.numpy(), minlength=num_classes).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def class_stats(fake_pred: Tensor, real_pred: Tensor,
                num_classes: int) -> dict[str, float | list[float]]:
    """Class balance of generated images against real ones.

    `classes_covered` counts the classes present in the real set whose fake fraction is at
    least 10% of their real fraction; `class_kl` is KL(real || fake) in nats on the histograms
    floored at 1e-6; `unreadable` is the fraction of fake predictions equal to -1.
    """
    fake, real = _labels(fake_pred, "fake class predictions"), _labels(real_pred, "real labels")
    h_fake, h_real = class_histogram(fake, num_classes), class_histogram(real, num_classes)
    covered = int(((h_real > 0) & (h_fake >= 0.1 * h_real)).sum())
    p, q = np.maximum(h_real, 1e-6), np.maximum(h_fake, 1e-6)
    return {"hist_fake": h_fake.tolist(), "hist_real": h_real.tolist(),
            "classes_covered": covered, "num_classes": num_classes,
            "class_kl": float((p * np.log(p / q)).sum()),
            "unreadable": float((fake == -1).double().mean())}


def conditional_accuracy(pred: Tensor, requested: Tensor) -> float:
    """Fraction of generated images read as the class they were asked for (-1 counts as wrong)."""
    p, want = _labels(pred, "class predictions"), _labels(requested, "requested classes")
    if p.shape != want.shape:
        raise EvalError(f"{len(p)} predictions for {len(want)} requested classes: pass one "
                        "requested class per generated image")
    return float((p == want).double().mean())
