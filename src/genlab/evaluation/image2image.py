"""Measuring image-to-image runs (Pix2Pix, CycleGAN, SRGAN) on the test split of their data.

Paired data: L1, PSNR, SSIM and a sharpness ratio against the targets, FID of outputs against
targets in the judge's feature space, and for `shapes` the analytic reader's accuracy on what
was drawn. Super-resolution (inputs smaller than targets) adds the bicubic baseline. Unpaired
data: how often translations are read as the target domain's class, the cycle L1
|F(G(a)) - a| when the run translates both ways, and for `shapes` whether the input's colour
and position survived. `genlab eval RUN` and the trainer's periodic evaluation both use it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.data.config import DataConfig
from genlab.data.pairs import class_index
from genlab.engine.progress import console
from genlab.errors import ConfigError, EvalError, GenlabError
from genlab.files import write_json, write_text
from genlab.images import save_grid, side_by_side, to_float, to_uint8
from genlab.methods.base import Method
from genlab.metrics.image2image import SCALE_NOTE, bicubic, l1, pixel_metrics
from genlab.metrics.judge import Judge, load_judge
from genlab.metrics.stats import fid
from genlab.runs.load import LoadedRun

BATCH = 256  # images translated per call: bounds memory at any n
# metric -> (label, which way is better), in the order reports list them
LABELS = {"l1": ("L1", "lower"), "psnr": ("PSNR (dB)", "higher"), "ssim": ("SSIM", "higher"),
          "sharpness": ("sharpness ratio (outputs / targets)", "closer to 1"),
          "fid": ("judge FID vs targets", "lower"), "shape_acc": ("shape read", "higher"),
          "colour_acc": ("colour read", "higher"), "target_acc": ("read as target class",
                                                                   "higher"),
          "cycle_l1": ("cycle L1", "lower"), "colour_kept": ("input colour kept", "higher"),
          "position_kept": ("input position kept", "higher"),
          "size_kept": ("input size kept", "higher")}


def find_judge(data_cfg: DataConfig, progress: bool = False) -> Judge | None:
    """The judge of the data's images: shipped or cached, trained when missing for named
    datasets but `shapes` (there the reader measures and a judge would cost ~15 CPU-minutes)
    and for no folder (its sub-folders may be the two domains, not classes: a judge is trained
    only on request, `genlab judge train`). None when there is none or can be none (no labels)."""
    train = data_cfg.name != "shapes" and not data_cfg.name.startswith("folder:")
    try:
        return load_judge(data_cfg.plain(), train_if_missing=train, progress=progress)
    except GenlabError:
        return None


@torch.no_grad()
def translate_all(method: Method, inputs: Tensor, direction: str = "AtoB") -> Tensor:
    """Translate uint8 or [-1, 1] images BATCH at a time; [-1, 1] float outputs on the CPU."""
    parts = []
    for chunk in inputs.split(BATCH):
        x = to_float(chunk) if chunk.dtype == torch.uint8 else chunk.float()
        parts.append(method.translate(x.to(method.device), direction).float().cpu())
    return torch.cat(parts) if parts else torch.empty(0)


def _first(attr: Tensor) -> Tensor:
    """Per-image attribute [N] (shapes keeps per-object [N, K]: the first object)."""
    return attr[:, 0] if attr.ndim == 2 else attr


class TranslationEvaluator:
    """Holds a seeded sample of n test examples and the judge, so each evaluation only
    translates and measures. Call it as the trainer's evaluator: (method, step) -> floats."""

    def __init__(self, data_cfg: DataConfig, *, n: int = 2000, seed: int = 0,
                 data_seed: int | None = None, judge: Judge | None | bool = True,
                 progress: bool = False) -> None:
        """`seed` draws the n test examples; `data_seed` (default: seed) is the run's seed,
        which the test split of seeded data (shapes, unpaired domains) is made with."""
        test = data_cfg.load("test", seed=seed if data_seed is None else data_seed)
        if test.inputs is None:
            raise EvalError(f"{data_cfg.name} test data has no inputs: evaluate an image-to-image "
                            "run with its own data config (data.pairs)")
        pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]
        self.data_cfg, self.n, self.seed, self.paired = data_cfg, len(pick), seed, test.paired
        self.data_seed = seed if data_seed is None else data_seed
        self.inputs, self.targets = test.inputs[pick], test.images[pick]
        self.attributes = {k: v[pick] for k, v in test.attributes.items()}
        self.class_names = list(test.class_names)
        self.judge = (find_judge(data_cfg, progress) if judge is True else
                      judge if isinstance(judge, Judge) else None)
        self._features: dict[str, Tensor] = {}
        self.sr = self.inputs.shape[-1] < self.targets.shape[-1]

    def __call__(self, method: Method, step: int) -> dict[str, float]:
        del step
        return self.measure(method)

    # --- pieces ---
    def _judge_features(self, images: Tensor, key: str | None = None) -> Tensor:
        assert self.judge is not None
        if key is not None and key in self._features:
            return self._features[key]
        features = self.judge.predict(to_uint8(images) if images.is_floating_point()
                                      else images)[1]
        if key is not None:
            self._features[key] = features
        return features

    def _fid(self, outputs: Tensor, real: Tensor, key: str) -> dict[str, float]:
        if self.judge is None or len(outputs) < 2:
            return {}
        return {"fid": fid(self._judge_features(real, key), self._judge_features(outputs))}

    def _read(self, images: Tensor) -> dict[str, Tensor]:
        from genlab.metrics.shapes_reader import read_shapes

        return read_shapes(to_uint8(images) if images.is_floating_point() else images,
                           background=self.data_cfg.shapes.background)

    def _classes(self, images: Tensor) -> Tensor | None:
        """The class each image is read as, in the data's class indices."""
        if self.data_cfg.name == "shapes" and images.shape[1] == 3:
            from genlab.metrics.shapes_reader import reader_labels

            return reader_labels(self._read(images), self.data_cfg.shapes.label)
        if self.judge is not None and self.judge.class_names == self.class_names:
            return self.judge.predict(to_uint8(images))[0].argmax(1)
        return None

    # --- measurements ---
    def paired_metrics(self, outputs: Tensor) -> dict[str, float]:
        """Outputs (one per test example, in order) against the targets."""
        out = pixel_metrics(outputs, self.targets)
        out.update(self._fid(outputs, self.targets, "targets"))
        if self.data_cfg.name == "shapes" and "shape" in self.attributes and \
                outputs.shape[1] == 3:  # the reader reads colour images
            read = self._read(outputs)
            for key in ("shape", "colour"):
                want = _first(self.attributes[key])
                out[f"{key}_acc"] = float((read[key] == want).double().mean())
        return out

    def bicubic(self) -> dict[str, float]:
        """The super-resolution baseline: the same metrics for bicubic upscaling."""
        return self.paired_metrics(bicubic(self.inputs, self.targets.shape[-1]))

    def unpaired_metrics(self, method: Method, direction: str) -> dict[str, float]:
        """Translate one domain's test images the given way and read the results."""
        forward = direction == "AtoB"
        source, other = (self.inputs, self.targets) if forward else (self.targets, self.inputs)
        domains = list(method.info.domains)
        outputs = translate_all(method, source, direction)
        out = self._fid(outputs, other, "targets" if forward else "inputs")
        try:
            target: int | None = class_index(self.class_names, str(domains[1 if forward else 0]))
        except ConfigError:  # a folder's domains are no classes
            target = None
        classes = self._classes(outputs) if target is not None else None
        if classes is not None:
            out["target_acc"] = float((classes == target).double().mean())
        back = "BtoA" if forward else "AtoB"
        if back in method.directions:
            out["cycle_l1"] = l1(translate_all(method, outputs, back), source)
        if self.data_cfg.name == "shapes" and outputs.shape[1] == 3:
            prefix = "input_" if forward else ""
            read = self._read(outputs)
            for key, name in (("colour", "colour_kept"), ("position", "position_kept"),
                              ("size", "size_kept")):
                if f"{prefix}{key}" in self.attributes:
                    want = _first(self.attributes[f"{prefix}{key}"])
                    out[name] = float((read[key] == want).double().mean())
        return out

    def measure(self, method: Method) -> dict[str, float]:
        """Every metric of this kind of task; unpaired runs that translate both ways add the
        BtoA ones with a `_BtoA` suffix."""
        if self.paired:
            return self.paired_metrics(translate_all(method, self.inputs, "AtoB"))
        out = self.unpaired_metrics(method, "AtoB")
        if "BtoA" in method.directions:
            out.update({f"{k}_BtoA": v for k, v in self.unpaired_metrics(method, "BtoA").items()})
        return out

    def grid(self, method: Method, rows: int = 8) -> tuple[Tensor, int]:
        """Rows of the first test examples in the training grid's form (input | output |
        target, or the method's own columns) and the number of columns."""
        with torch.no_grad():
            columns = method.translation_grid(to_float(self.inputs[:rows]).to(method.device),
                                              to_float(self.targets[:rows]).to(method.device))
        return side_by_side([c.cpu() for c in columns]), len(columns)

    def protocol(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": self.n, "split": "test", "seed": self.seed,
                               "data_seed": self.data_seed,
                               "pixels": SCALE_NOTE, "paired": self.paired}
        if self.judge is not None:
            out["fid"] = "judge features of outputs vs the test targets (or domain-B images)"
            out["judge_fingerprint"] = self.judge.fingerprint[:16]
            out["judge_test_accuracy"] = self.judge.test_accuracy
        if self.data_cfg.name == "shapes":
            out["read_by"] = "analytic shapes reader"
        return out


def evaluate_translation(loaded: LoadedRun, *, n: int = 10_000, seed: int = 0,
                         checkpoint: str = "last", ema: bool = True,
                         out_dir: Path | None = None,
                         progress: bool = False) -> tuple[dict[str, Any], Path]:
    """`genlab eval` of a translating run: eval.json, report.md and samples.png (input |
    output | target rows) in out_dir (default: RUN/eval/step-NNNNNNN)."""
    t0 = time.perf_counter()
    if progress:
        console.print(f"translating up to {n} test images", highlight=False, markup=False)
    ev = TranslationEvaluator(loaded.cfg.data, n=n, seed=seed, data_seed=loaded.cfg.seed,
                              progress=progress)
    results: dict[str, Any] = ev.measure(loaded.method)
    baseline = ev.bicubic() if ev.sr else {}
    results["seconds"] = time.perf_counter() - t0
    out = out_dir or loaded.path / "eval" / f"step-{loaded.step:07d}"
    images, columns = ev.grid(loaded.method)
    save_grid(images, out / "samples.png", nrow=columns)
    protocol = {**ev.protocol(), "checkpoint": checkpoint, "step": loaded.step,
                "weights": "EMA" if ema else "live"}
    write_json(out / "eval.json", {"title": f"Evaluation of {loaded.path.name}",
                                   "protocol": protocol, "results": results,
                                   "bicubic": baseline})
    return results, _write_report(out, loaded.path.name, results, baseline, protocol)


def _write_report(out: Path, name: str, results: dict[str, Any], baseline: dict[str, Any],
                  protocol: dict[str, Any]) -> Path:
    head = "| metric | run | bicubic | better |" if baseline else "| metric | run | better |"
    lines = [f"# Evaluation of {name}", "", head, "|---|---|---|---|" if baseline else
             "|---|---|---|"]
    for key in sorted(results, key=lambda k: list(LABELS).index(k.removesuffix("_BtoA"))
                      if k.removesuffix("_BtoA") in LABELS else len(LABELS)):
        base = key.removesuffix("_BtoA")
        if base not in LABELS:
            continue
        label, better = LABELS[base]
        label += " (B to A)" if key.endswith("_BtoA") else ""
        cells = [f"{results[key]:.4g}"] + ([f"{baseline[key]:.4g}" if key in baseline else "-"]
                                           if baseline else [])
        lines.append(f"| {label} | {' | '.join(cells)} | {better} |")
    lines += ["", "Protocol: " + ", ".join(f"{k} = {v}" for k, v in protocol.items()) + ".", "",
              "## Examples (input | output | target, or the method's own columns)", "",
              "![examples](samples.png)", ""]
    return write_text(out / "report.md", "\n".join(lines))


def check_translation_options(features: str) -> None:
    """Options of `genlab eval` that mean nothing for a translating run."""
    if features != "judge":
        raise ConfigError("image-to-image runs are measured in the judge's feature space: drop "
                          "--features")
