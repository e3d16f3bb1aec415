"""The GAN benchmark's page written from raw files alone (`rewrite_gan_page`): one verdict per
claim from hand-made raw numbers, by Welch's t-test over seeds (paired for the truncation
sweep), and one-line errors when the files it needs are missing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from genlab.bench.gan_page import rewrite_gan_page
from genlab.bench.verdicts import NOT_RESOLVED
from genlab.errors import ConfigError

JUDGE_WEIGHTS = b"not really weights"
JUDGE = hashlib.sha256(JUDGE_WEIGHTS).hexdigest()[:16]
BASE = {"fid": 10.0, "kid": 0.1, "is": 2.0, "precision": 0.7, "recall": 0.5, "coverage": 0.2,
        "classes_covered": 10, "class_kl": 0.2, "steps": 1000, "images_per_s": 100.0}


def _write(out: Path, rows: dict[str, list[dict]], with_judge: bool = True) -> None:
    """Raw rows, protocol and pinned judge of a benchmark on the "toy" data, as the bench
    leaves them."""
    raw = out / "gan-toy" / "raw"
    raw.mkdir(parents=True)
    for method, seeds in rows.items():
        for seed, values in enumerate(seeds):
            row = {**BASE, **values, "grid": f"samples-{method}-s{seed}.png", "judge": JUDGE,
                   "clock": "cpu", "machine": "test machine"}
            (raw / f"{method}-s{seed}.json").write_text(json.dumps(row))
    (raw / "protocol.json").write_text(json.dumps({
        "data": "toy", "seeds": 3, "n": 100, "minutes": 1.0, "clock": "cpu", "judge": JUDGE,
        "machine": "test machine", "floor": {"fid": 0.01}}))
    if with_judge:
        judge = out / "judges" / "toy"
        judge.mkdir(parents=True)
        (judge / "weights.safetensors").write_bytes(JUDGE_WEIGHTS)
        (judge / "judge.json").write_text(json.dumps({"class_names": ["a", "b"]}))


def _seeds(**values: list[float]) -> list[dict]:
    """One row per seed from per-seed lists of each key."""
    n = len(next(iter(values.values())))
    return [{key: v[i] for key, v in values.items()} for i in range(n)]


def _sweep(precision: tuple[float, float], recall: tuple[float, float]) -> dict:
    return {"0.5": {"fid": 9.0, "precision": precision[0], "recall": recall[0]},
            "1.0": {"fid": 8.0, "precision": precision[1], "recall": recall[1]}}


def _verdicts(page: str) -> dict[str, str]:
    """Claim (its italic title) -> verdict, for every claim line of the page."""
    out = {}
    for line in page.splitlines():
        if line.startswith("- *"):
            out[line[3:line.index("*", 3)]] = line[line.rindex("**", 0, -3) + 2:-3]
    return out


def test_each_claim_gets_a_verdict_from_the_raw_numbers(tmp_path: Path) -> None:
    rows = {
        # WGAN-GP: clearly higher recall and coverage and lower class KL than the GAN...
        "gan": _seeds(recall=[0.2, 0.21, 0.19], coverage=[0.1, 0.11, 0.09],
                      class_kl=[0.9, 1.0, 0.8]),
        # ...but the DCGAN is clearly better than WGAN-GP on all three
        "dcgan": [{**r, "truncation": _sweep(p, q)} for r, p, q in zip(
            _seeds(recall=[0.8, 0.81, 0.79], coverage=[0.5, 0.51, 0.49],
                   class_kl=[0.1, 0.2, 0.15], fid=[8.0, 8.5, 9.0]),
            [(0.80, 0.70), (0.82, 0.71), (0.79, 0.70)],  # precision up at psi 0.5, each seed
            [(0.40, 0.50), (0.41, 0.52), (0.38, 0.49)], strict=True)],  # recall down
        "wgan": _seeds(fid=[18.0, 18.1, 17.9]),
        "wgan-gp": _seeds(recall=[0.5, 0.52, 0.48], coverage=[0.3, 0.31, 0.29],
                          class_kl=[0.3, 0.31, 0.29], fid=[12.0, 12.1, 11.9]),
        "cdcgan": _seeds(class_kl=[0.12, 0.22, 0.13], fid=[5.0, 5.1, 4.9]),  # KL within noise
        "ddpm": _seeds(fid=[7.0, 7.1, 6.9]),  # diffusion clearly worse: refuted
        "vae": _seeds(fid=[9.0]),  # one seed: nothing to test
    }
    _write(tmp_path, rows)
    page = rewrite_gan_page(tmp_path, "toy").read_text()
    verdicts = _verdicts(page)
    assert verdicts == {
        "BCE GANs collapse modes, WGAN-GP does not (gan against wgan-gp: higher recall and "
        "coverage, lower class KL)": "supported",
        "BCE GANs collapse modes, WGAN-GP does not (dcgan against wgan-gp: higher recall and "
        "coverage, lower class KL)": "refuted",
        "The gradient penalty trains better than weight clipping": "supported",
        "Conditioning on the class balances the classes": NOT_RESOLVED,
        "Diffusion beats GANs on sample quality (same CPU time, conditional models)": "refuted",
        "GAN samples are sharper than a VAE's (FID)": NOT_RESOLVED,
        "Truncation trades diversity for fidelity: precision rises and recall falls as psi "
        "shrinks (dcgan, 3 seed(s))": "supported",
    }
    # the test figures: fid means 12 vs 18, variances 0.01 / 3 each: t = -6 / sqrt(0.02 / 3)
    assert "fid wgan-gp 12 ± 0.1 (12, 12.1, 11.9) vs wgan 18 ± 0.1 (18, 18.1, 17.9) (Welch " \
           "t = -73.5, df = 4, p = " in page
    assert "fid dcgan 8.5 ± 0.5 (8, 8.5, 9) vs vae 9 (one seed: no test)" in page
    assert "precision at psi 0.5" in page and "(paired t = " in page
    assert "the other way" in page and "holds" in page  # each condition of a 3-part claim
    assert "A claim is **supported** when every condition holds at p < 0.05" in page
    assert "Precision is not seen to rise" not in page  # it rose here
    assert "| 0.5 | 9.000 ± 0.000 | 0.803 ± 0.015 | 0.397 ± 0.015 |" in page
    assert "| vae | 1 |" in page and "| dcgan | 3 |" in page
    assert (tmp_path / "gan-toy" / "fid-vs-time.png").is_file()


def test_within_noise_is_not_resolved_and_a_flat_precision_says_why(tmp_path: Path) -> None:
    _write(tmp_path, {
        "wgan": _seeds(fid=[17.0, 18.5, 16.0]),
        "wgan-gp": _seeds(fid=[16.5, 18.0, 15.8]),
        "dcgan": [{"truncation": _sweep((0.75, 0.74), (0.5, 0.6))},
                  {"truncation": _sweep((0.73, 0.76), (0.51, 0.6))},
                  {"truncation": _sweep((0.77, 0.75), (0.49, 0.58))}],
    })
    page = rewrite_gan_page(tmp_path, "toy").read_text()
    verdicts = _verdicts(page)
    assert verdicts["The gradient penalty trains better than weight clipping"] == NOT_RESOLVED
    # the truncation claim too, and dcgan against wgan-gp: equal numbers, nothing to tell
    assert set(verdicts.values()) == {NOT_RESOLVED} and len(verdicts) == 3
    assert "precision at psi 0.5" in page and "not resolved; recall" in page
    assert "Precision is not seen to rise. A likely reason" in page


def test_rewriting_needs_the_protocol_and_the_judge(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="protocol.json not found"):
        rewrite_gan_page(tmp_path, "toy")
    _write(tmp_path, {"dcgan": _seeds(fid=[8.0])}, with_judge=False)
    with pytest.raises(ConfigError, match=f"no judge {JUDGE}"):
        rewrite_gan_page(tmp_path, "toy")
