"""eval.json and report.md: a table against the real-vs-real floor, samples, class histogram."""

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


def fmt(value: Any, std: Any = None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.4g}"
        return f"{text} ± {std:.2g}" if isinstance(std, float) else text
    return str(value)


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
            std_key = {"kid": "kid_std", "is": "is_std"}.get(key)
            lines.append(f"| {label} | {fmt(results.get(key), results.get(std_key or ''))} | "
                         f"{fmt(floor.get(key), floor.get(std_key or ''))} | {better} |")
    lines += ["", "Protocol: " + ", ".join(f"{k} = {v}" for k, v in protocol.items()) + ".", ""]
    if samples_png:
        lines += ["## Samples", "", f"![samples]({samples_png})", ""]
    if "hist_fake" in results:
        plot_class_histogram(results["hist_fake"], results["hist_real"], class_names,
                             out_dir / "class_histogram.png")
        lines += ["## Class histogram", "", "![class histogram](class_histogram.png)", ""]
    (out_dir / "report.md").write_text("\n".join(lines))
    return out_dir / "eval.json", out_dir / "report.md"
