"""eval.json and report.md: a table against the real-vs-real floor, how to read it, samples,
class histogram."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from genlab.files import write_json

# metric -> (label, which way is better)
TABLE = [("fid", "FID", "lower"), ("kid", "KID", "lower"), ("is", "Inception Score", "higher"),
         ("precision", "precision", "higher"), ("recall", "recall", "higher"),
         ("density", "density", "higher"), ("coverage", "coverage", "higher"),
         ("classes_covered", "classes covered", "higher"), ("class_kl", "class KL", "lower"),
         ("cond_acc", "conditional accuracy", "higher"), ("unreadable", "unreadable", "lower")]


# metric -> the key of its spread; a key present with None means the metric has no spread
STD_KEYS = {"kid": "kid_std", "is": "is_std"}


def fmt(value: Any, std: Any = None, *, no_spread: bool = False) -> str:
    """A table cell: value, "± std" when there is one, "± n/a" when the spread is undefined."""
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.4g}"
        if isinstance(std, float):
            return f"{text} ± {std:.2g}"
        return f"{text} ± n/a" if no_spread else text
    return str(value)


def _cell(row: dict[str, Any], key: str) -> str:
    std_key = STD_KEYS.get(key, "")
    return fmt(row.get(key), row.get(std_key), no_spread=std_key in row and row[std_key] is None)


def reading_notes(results: dict[str, Any], floor: dict[str, Any],
                  protocol: dict[str, Any]) -> list[str]:
    """How to read the table: what the numbers are measured in and against. Without it a
    precision of 0.03 beside good samples and a low FID reads as a contradiction; it is the
    tight k-NN balls of a small n in a compact feature space, and the floor shows that."""
    n_real, n_gen = protocol.get("n_real", "?"), protocol.get("n_generated", "?")
    dim, k = protocol.get("feature_dim", "?"), protocol.get("prdc_k", 5)
    if protocol.get("features") == "inception":
        space = (f"Inception-v3 pool3 features ({dim}-d; weights: "
                 f"{protocol.get('inception_weights', 'a local file')}), comparable with "
                 "torch-fidelity's numbers at the same n when the weights are torch-fidelity's")
    else:
        space = (f"the judge's {dim}-d features (a small classifier genlab trained on this "
                 "dataset's train split, not Inception): compare them only with evaluations by "
                 f"the same judge (fingerprint {protocol.get('judge_fingerprint', '?')}), never "
                 "with FIDs in papers")
    whole = protocol.get("split_rule") == "whole-folder"
    lines = ["## How to read these numbers", "",
             f"- **Feature space**: every metric is measured in {space}.",
             f"- **n**: {n_gen} generated images against {n_real} real test images. FID is "
             "biased upward at small n and the others are noisy: compare results only at the "
             "same n and feature space (papers use Inception and 50,000 images).",
             f"- **Precision, recall, density, coverage**: k-NN manifolds with k = {k}: each "
             f"image's ball reaches its {k}th nearest neighbour of its own set. Precision is the "
             "share of generated images inside some real ball (realism), recall the share of "
             "real images inside some generated ball (variety), coverage the share of real balls "
             "holding a generated image, density the mean count of real balls around a generated "
             "image over k (1 for real data). With few images in a compact space the balls are "
             "tight, so precision can be low (0.03) beside good samples and a low FID: read each "
             "number against the floor's, not against 1.",
             f"- **Floor**: the same metrics for {n_real} real train images against the real test "
             "images, what two samples of real data score under this protocol: the best any "
             "model can reach, so the gap to it is the result."
             + (" Here the split is the whole folder, so the floor compares the folder with "
                "itself and is no floor at all (FID near 0, precision near 1 by construction)."
                if whole else "")]
    if any(STD_KEYS["kid"] in row for row in (results, floor)):
        undefined = any(row.get(STD_KEYS["kid"], 0.0) is None for row in (results, floor))
        lines.append(f"- **KID ±**: the std of KID over 100 random subsets of "
                     f"min({protocol.get('kid_subset_size', 1000)}, n) images of each set, the "
                     "noise of drawing subsets (not the spread over seeds)."
                     + (" ± n/a: n is at most the subset size, so every subset is the whole set "
                        "and KID is one value with no spread." if undefined else ""))
    if "split" in protocol:
        accuracy = protocol.get("judge_test_accuracy")
        read = "" if accuracy is None else (
            f" The judge's test accuracy ({accuracy:.3g}) is measured on "
            + ("its own training images." if whole else "the held-out test split."))
        lines.append(f"- **Split**: {protocol['split']}.{read}")
    return [*lines, ""]


def plot_class_histogram(hist_fake: list[float], hist_real: list[float], names: list[str],
                         path: Path) -> Path:
    k = len(hist_real)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * k + 1.5), 3))
    xs = range(k)
    ax.bar([x - 0.2 for x in xs], hist_real, width=0.4, label="real (test)")
    ax.bar([x + 0.2 for x in xs], hist_fake, width=0.4, label="generated")
    ax.set_xticks(list(xs), names or [str(x) for x in xs], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("fraction")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(out_dir: Path, *, title: str, results: dict[str, Any], floor: dict[str, Any],
                 protocol: dict[str, Any], class_names: list[str],
                 samples_png: str | None = None) -> tuple[Path, Path]:
    """Write eval.json and report.md (plus class_histogram.png when classes were read)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"title": title, "protocol": protocol, "generated": results, "floor": floor}
    write_json(out_dir / "eval.json", payload)
    lines = [f"# {title}", "", "| metric | generated | real-vs-real floor | better |",
             "|---|---|---|---|"]
    for key, label, better in TABLE:
        if key in results or key in floor:
            lines.append(f"| {label} | {_cell(results, key)} | {_cell(floor, key)} | {better} |")
    lines += ["", "Protocol: " + ", ".join(f"{k} = {v}" for k, v in protocol.items()) + ".", ""]
    lines += reading_notes(results, floor, protocol)
    if samples_png:
        lines += ["## Samples", "", f"![samples]({samples_png})", ""]
    if "hist_fake" in results:
        plot_class_histogram(results["hist_fake"], results["hist_real"], class_names,
                             out_dir / "class_histogram.png")
        lines += ["## Class histogram", "", "![class histogram](class_histogram.png)", ""]
    (out_dir / "report.md").write_text("\n".join(lines))
    return out_dir / "eval.json", out_dir / "report.md"
