"""Evaluation of generated images against a dataset's real images, in one feature space.

An `Evaluator` is built once per dataset: it holds the feature extractor (the dataset's judge,
or Inception from a local file), the class reader (the analytic reader for `shapes`, else the
judge) and the real features, so each evaluation only featurises the generated images.
Every report carries the real-vs-real floor: the test split against the train split at the
same n, the best score achievable with this protocol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.data.config import DataConfig
from genlab.errors import EvalError
from genlab.metrics.stats import class_stats, conditional_accuracy, fid, inception_score, kid, prdc


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
        self.real = self.featurise(pick(test))
        self._train_real = pick(train)
        self._floor: dict[str, Any] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def featurise(self, images: Tensor) -> FeatureSet:
        """Features, extractor logits and read classes of uint8 images."""
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

    def compare(self, fake: FeatureSet, requested: Tensor | None = None) -> dict[str, Any]:
        """All metrics of `fake` against the real test features."""
        if len(fake.features) < 2:
            raise EvalError("evaluation needs at least 2 generated images: raise --n")
        out: dict[str, Any] = {"fid": fid(self.real.features, fake.features)}
        out["kid"], out["kid_std"] = kid(self.real.features, fake.features,
                                         subset_size=min(1000, len(fake.features)),
                                         seed=self.seed)
        if fake.logits is not None:
            out["is"], out["is_std"] = inception_score(fake.logits)
        out.update(prdc(self.real.features, fake.features, k=5))
        if fake.classes is not None and self.real.classes is not None:
            stats = class_stats(fake.classes, self.real.classes, self.num_classes)
            out.update(stats)
            if requested is not None:
                out["cond_acc"] = conditional_accuracy(fake.classes, requested)
        return out

    def evaluate(self, images: Tensor, requested: Tensor | None = None) -> dict[str, Any]:
        return self.compare(self.featurise(images), requested)

    def floor(self) -> dict[str, Any]:
        """The same metrics for real train images against real test images (same n)."""
        if self._floor is None:
            self._floor = self.evaluate(self._train_real)
        return self._floor

    def protocol(self) -> dict[str, Any]:
        out: dict[str, Any] = {"features": self.feature_space, "n_real": self.n_real,
                               "real_split": "test", "floor": "train split vs test split"}
        if self.judge is not None:
            out["judge_test_accuracy"] = self.judge.test_accuracy
            out["judge_fingerprint"] = self.judge.fingerprint[:16]
        if self.data_cfg.name == "shapes":
            out["classes_read_by"] = "analytic shapes reader"
        return out


def headline(results: dict[str, Any]) -> dict[str, float]:
    """The scalar metrics worth logging (drops histograms and nan)."""
    return {k: float(v) for k, v in results.items()
            if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))}
