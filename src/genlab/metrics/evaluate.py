"""Evaluation of generated images against a dataset's real images, in one feature space.

An `Evaluator` is built once per dataset: it holds the feature extractor (the dataset's judge,
or Inception from a local file), the class reader (the analytic reader for `shapes`, else the
judge) and the real features, so each evaluation only featurises the generated images.
Every report carries the real-vs-real floor: the test split against the train split at the
same n, the best score achievable with this protocol, and says how the split was drawn (a
folder without train/ and test/ holds out a part; a tiny one is compared with itself).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.data.base import split_facts
from genlab.data.config import DataConfig
from genlab.engine.progress import progress_bar
from genlab.errors import EvalError
from genlab.metrics.stats import (
    class_stats,
    conditional_accuracy,
    fid,
    fid_bootstrap_se,
    inception_score,
    kid,
    prdc,
)

PRDC_K = 5  # neighbours of the k-NN manifolds (Kynkaanniemi et al.'s and Naeem et al.'s value)
KID_SUBSET_SIZE = 1000  # torch-fidelity's and clean-fid's default

# Images featurised per call, so a bar can move: a multiple of the judge's (1024) and
# Inception's (64) own batches, so the batches and hence the features are the same as in one
# call over all the images.
FEATURE_CHUNK = 1024


@dataclass
class FeatureSet:
    """What the metrics need from one set of images."""

    features: Tensor  # [N, D]
    logits: Tensor | None  # [N, K] of the extractor (for the Inception Score)
    classes: Tensor | None  # [N] class read from each image (-1: unreadable), if labelled


class Evaluator:
    def __init__(self, data_cfg: DataConfig, *, n: int = 10_000, seed: int = 0,
                 features: str = "judge", inception_weights: str | Path | None = None,
                 device: str = "cpu", train_judge: bool = True, progress: bool = True) -> None:
        if features not in ("judge", "inception"):
            raise EvalError(f"unknown feature space {features!r}: use judge or inception")
        self.data_cfg, self.n, self.seed, self.feature_space = data_cfg, n, seed, features
        real_cfg = data_cfg.model_copy(deep=True)
        if data_cfg.name == "shapes":  # procedural: make as many real images as asked for
            real_cfg.shapes.n_test = max(n, data_cfg.shapes.n_test)
            real_cfg.shapes.n_train = max(n, data_cfg.shapes.n_train)
        train, test = real_cfg.load("train", seed=seed), real_cfg.load("test", seed=seed)
        self.class_names = list(test.class_names) if test.labels is not None else []
        self.split = split_facts(test)
        self.judge = None
        needs_judge = features == "judge" or (test.labels is not None and data_cfg.name != "shapes")
        if needs_judge:
            from genlab.metrics.judge import load_judge

            self.judge = load_judge(data_cfg, seed=0, train_if_missing=train_judge,
                                    device=device, progress=progress)
        self.inception = None
        if features == "inception":
            if inception_weights is None:
                raise EvalError("--features inception needs --inception-weights FILE (torch-"
                                "fidelity's weights-inception-2015-12-05-6726825d.pth)")
            from genlab.metrics.inception import InceptionFeatures

            self.inception = InceptionFeatures(inception_weights, device=device)
        gen = torch.Generator().manual_seed(seed)
        self.n_real = min(n, len(test), len(train))
        pick = lambda data: data.images[torch.randperm(len(data), generator=gen)[: self.n_real]]  # noqa: E731
        self.real = self._featurise_with_bar(pick(test), "real features", progress)
        self._train_real = pick(train)
        self._floor: dict[str, Any] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def featurise(self, images: Tensor,
                  on_progress: Callable[[float], None] | None = None) -> FeatureSet:
        """Features, extractor logits and read classes of uint8 images, FEATURE_CHUNK at a
        time; `on_progress(images)`: how many are done, after each chunk."""
        parts = []
        for start in range(0, max(len(images), 1), FEATURE_CHUNK):
            parts.append(self._featurise(images[start:start + FEATURE_CHUNK]))
            if on_progress is not None:
                on_progress(min(start + FEATURE_CHUNK, len(images)))
        return parts[0] if len(parts) == 1 else _join(parts)

    def _featurise_with_bar(self, images: Tensor, label: str, progress: bool) -> FeatureSet:
        with progress_bar(len(images), label=label, unit="images", enabled=progress) as report:
            return self.featurise(images, report)

    def _featurise(self, images: Tensor) -> FeatureSet:
        judge_logits = judge_feats = None
        if self.judge is not None:
            judge_logits, judge_feats = self.judge.predict(images)
        if self.inception is not None:
            feats, logits = self.inception(images)
        else:
            feats, logits = judge_feats, judge_logits
        classes = None
        if self.data_cfg.name == "shapes":
            from genlab.metrics.shapes_reader import read_shapes, reader_labels

            attrs = read_shapes(images, background=self.data_cfg.shapes.background)
            classes = reader_labels(attrs, self.data_cfg.shapes.label)
        elif judge_logits is not None and self.num_classes:
            classes = judge_logits.argmax(1)
        return FeatureSet(feats.float(), logits, classes)  # type: ignore[union-attr]

    def compare(self, fake: FeatureSet, requested: Tensor | None = None, *,
                fid_draws: int = 0) -> dict[str, Any]:
        """All metrics of `fake` against the real test features; with `fid_draws`, also
        `fid_se`: FID's bootstrap standard error over that many resamples of `fake`."""
        if len(fake.features) < 2:
            raise EvalError("evaluation needs at least 2 generated images: raise --n")
        out: dict[str, Any] = {"fid": fid(self.real.features, fake.features)}
        if fid_draws:
            out["fid_se"] = fid_bootstrap_se(self.real.features, fake.features,
                                             draws=fid_draws, seed=self.seed)
        # kid_std is None when every subset is both whole sets (n <= the subset size)
        out["kid"], out["kid_std"] = kid(self.real.features, fake.features,
                                         subset_size=KID_SUBSET_SIZE, seed=self.seed)
        if fake.logits is not None:
            out["is"], out["is_std"] = inception_score(fake.logits)
        out.update(prdc(self.real.features, fake.features, k=PRDC_K))
        if fake.classes is not None and self.real.classes is not None:
            stats = class_stats(fake.classes, self.real.classes, self.num_classes)
            out.update(stats)
            if requested is not None:
                out["cond_acc"] = conditional_accuracy(fake.classes, requested)
        return out

    def evaluate(self, images: Tensor, requested: Tensor | None = None, *,
                 progress: bool = False, fid_draws: int = 0) -> dict[str, Any]:
        """All metrics of uint8 `images` (`fid_draws`: see `compare`); `progress`: a bar
        while they are featurised (off inside training: its own bar is live)."""
        return self.compare(self._featurise_with_bar(images, "features", progress), requested,
                            fid_draws=fid_draws)

    def floor(self, *, progress: bool = False) -> dict[str, Any]:
        """The same metrics for real train images against real test images (same n)."""
        if self._floor is None:
            self._floor = self.compare(
                self._featurise_with_bar(self._train_real, "floor features", progress))
        return self._floor

    def protocol(self) -> dict[str, Any]:
        held_out = self.split["rule"] != "whole-folder"
        out: dict[str, Any] = {
            "features": self.feature_space, "feature_dim": int(self.real.features.shape[1]),
            "n_real": self.n_real, "real_split": "test",
            "split_rule": self.split["rule"], "split": self.split["summary"],
            "floor": "train split vs test split" if held_out else
                     "the whole folder against itself (nothing held out)",
            "prdc_k": PRDC_K, "kid_subset_size": KID_SUBSET_SIZE}
        if self.inception is not None:
            out["inception_weights"] = self.inception.describe()
        if self.judge is not None:
            out["judge_test_accuracy"] = self.judge.test_accuracy
            out["judge_fingerprint"] = self.judge.fingerprint[:16]
        if self.data_cfg.name == "shapes":
            out["classes_read_by"] = "analytic shapes reader"
        return out


def _join(parts: list[FeatureSet]) -> FeatureSet:
    """The feature sets of consecutive chunks as one."""
    def cat(tensors: list[Tensor | None]) -> Tensor | None:
        return None if tensors[0] is None else torch.cat(tensors)  # type: ignore[arg-type]

    features = cat([p.features for p in parts])
    assert features is not None
    return FeatureSet(features, cat([p.logits for p in parts]), cat([p.classes for p in parts]))


def headline(results: dict[str, Any]) -> dict[str, float]:
    """The scalar metrics worth logging (drops histograms and nan)."""
    return {k: float(v) for k, v in results.items()
            if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))}
