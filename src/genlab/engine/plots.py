"""Plots written at the end of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SKIP = {"step", "time", "images_per_s", "lr", "train_seconds"}


def plot_losses(records: list[dict[str, Any]], path: Path, title: str = "") -> Path | None:
    """One panel per logged loss-like series against step."""
    keys = sorted({k for r in records for k in r if k not in SKIP
                   and isinstance(r[k], (int, float))})
    if not keys:
        return None
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 1.9 * len(keys)), sharex=True,
                             squeeze=False)
    for ax, key in zip(axes[:, 0], keys, strict=True):
        points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
        ax.plot([p[0] for p in points], [p[1] for p in points], lw=1)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
