import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Small, fast settings shared by the tests that really train.
TINY = [
    "data.name=shapes", "data.shapes.n_train=256", "data.shapes.n_test=64", "data.image_size=16",
    "method.z_dim=16", "method.g_width=8", "method.d_width=8",
    "train.batch_size=16", "train.precision=fp32", "train.device=cpu",
    "train.log_every=1", "train.sample_every=2", "train.ckpt_every=2", "train.sample_n=8",
]


# Tiny nets per method (TINY's method keys are the GAN's).
TINY_METHOD = {
    "vae": ["method.width=8", "method.z_dim=8", "method.downsamples=2"],
    "ddpm": ["method.channels=[8,16]", "method.attention=[false,true]",
             "method.layers_per_block=1", "method.norm_groups=4", "method.sample_steps=2",
             "method.warmup=2"],
    "clip": ["method.embed_dim=16", "method.vision_layers=1", "method.vision_width=32",
             "method.patch_size=4", "method.text_layers=1", "method.text_width=32",
             "method.heads=2", "method.warmup=2"],
    "vqgan": ["method.ch=8", "method.ch_mult=[1,2]", "method.z_channels=8", "method.embed_dim=4",
              "method.n_embed=32", "method.norm_groups=4", "method.disc_width=8",
              "method.disc_layers=2"],
}
# A CLIP learns from one captioned object per image, with captions of varied length.
CLIP_DATA = ["data.shapes.objects=1", "data.shapes.captions=varied"]


def tiny(tmp_path: Path, *extra: str, method: str = "gan") -> list[str]:
    """Small data and training settings; `method` picks tiny nets for that method."""
    common = [k for k in TINY if not k.startswith("method.")]
    nets = [k for k in TINY if k.startswith("method.")] if method == "gan" else [
        f"method.name={method}", *TINY_METHOD["ddpm" if method == "ldm" else method]]
    return [*common, *nets, f"train.out_dir={tmp_path / 'runs'}", *extra]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


PYTHON = sys.executable


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A tiny conditional DCGAN run on shapes, trained once for the whole session."""
    from genlab import train
    from genlab.config import load_config

    out = tmp_path_factory.mktemp("session")
    cfg = load_config(ROOT / "configs" / "demo.yaml",
                      tiny(out, "train.steps=4", "name=tiny"))
    result = train(cfg, show_progress=False)
    return result.run_dir


def run_cli(args, capsys):
    """Run `genlab ARGS` in-process; return (exit code, stdout, stderr)."""
    from genlab.cli import main

    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err
