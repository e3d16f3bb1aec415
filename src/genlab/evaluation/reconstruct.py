"""`genlab reconstruct`: a VAE run's reconstructions of test images, beside the originals."""

from __future__ import annotations

from pathlib import Path

from genlab.errors import ConfigError
from genlab.generate.paths import check_png_out
from genlab.images import save_grid
from genlab.runs.load import load_run


def reconstruction_grid(run: str | Path, *, n: int = 32, seed: int = 0,
                        out: Path | None = None) -> Path:
    """Test images in odd rows, their VAE reconstructions in the rows below."""
    import torch

    from genlab.images import to_float

    out = check_png_out(out) if out is not None else None  # before the slow part
    loaded = load_run(run)
    if not hasattr(loaded.method, "reconstruct"):
        raise ConfigError(f"{loaded.path} is a {loaded.cfg.method.name} run: reconstructions "
                          "need a vae run")
    data = loaded.cfg.data.load("test", seed=loaded.cfg.seed)
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(data.images), generator=gen)[:n]
    real = to_float(data.images[pick]).to(loaded.device)
    with torch.no_grad():
        recon = loaded.method.reconstruct(real)
    rows = 8
    pairs = [torch.cat([real[i:i + rows], recon[i:i + rows]]) for i in range(0, len(real), rows)]
    path = out or loaded.path / "samples" / "reconstructions.png"
    return save_grid(torch.cat(pairs), path, nrow=min(rows, len(real)))
