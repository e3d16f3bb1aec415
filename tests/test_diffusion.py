"""Diffusion: DDPM training and samplers, guidance, img2img, inpainting, diffusers folders,
fine-tuning and latent diffusion."""

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, TINY_METHOD, run_cli, tiny
from genlab import train
from genlab.errors import ConfigError
from genlab.generate.edit import img2img, inpaint
from genlab.generate.guidance import sampling_options, sampling_precision
from genlab.methods.base import DataInfo
from genlab.methods.diffusion import DDPM
from genlab.runs.config import load_config
from genlab.runs.load import load_run
from genlab.sampling import (
    SamplingOptions,
    as_eps,
    guided,
    make_scheduler,
    predicted_x0,
    repaint,
    sample_loop,
    sampler_config,
)

SHAPES = ["data.shapes.label=shape"]


def _image(size=16, seed=0):
    return torch.randint(0, 256, (3, size, size), generator=torch.Generator().manual_seed(seed),
                         dtype=torch.uint8)


def test_ddpm_run_samples_every_sampler(ddpm_run):
    run = load_run(ddpm_run)
    assert run.conditional and run.info.num_classes == 3
    for sampler in ("ddpm", "ddim", "dpm"):
        opts = sampling_options(run, sampler=sampler, steps=3)
        images = run.sample(4, seed=1, options=opts)
        assert images.shape == (4, 3, 16, 16) and images.abs().max() <= 1
        assert torch.equal(images, run.sample(4, seed=1, options=opts))  # same seed, same images
    assert not torch.equal(run.sample(4, seed=1), run.sample(4, seed=2))
    assert run.method.default_sampling().sampler == "ddim"  # a call's options are not kept


def test_ddim_uses_trailing_timesteps():
    config = dict(DDPM(load_config(None, ["method.name=ddpm"]).method,
                       DataInfo(1, 16)).noise.config)
    ddim = make_scheduler("ddim", config)
    ddim.set_timesteps(10)
    # trailing spacing starts at the last training step: 999, 899, ..., 99
    assert ddim.timesteps.tolist() == list(range(999, 0, -100))
    for kind in ("ddpm", "dpm"):  # every sampler starts from pure noise
        scheduler = make_scheduler(kind, config)
        scheduler.set_timesteps(10)
        assert scheduler.timesteps[0] == 999 and len(scheduler.timesteps) == 10
    with pytest.raises(ConfigError):
        make_scheduler("euler", config)


class _StubUNet(torch.nn.Module):
    """eps = the class index everywhere (null class = 3), so guidance is arithmetic."""

    def forward(self, x, t, class_labels=None):
        value = class_labels.float().view(-1, 1, 1, 1) if class_labels is not None else 0.0
        return SimpleNamespace(sample=torch.zeros_like(x) + value)


@pytest.mark.parametrize("schedule", ["linear", "squaredcos_cap_v2"])
def test_v_prediction_becomes_the_true_noise_and_samples_exactly(schedule):
    method = DDPM(load_config(None, ["method.name=ddpm", "method.prediction_type=v_prediction",
                                     f"method.beta_schedule={schedule}"]).method,
                  DataInfo(1, 8))
    a = method.noise.alphas_cumprod.double()
    x0 = torch.rand(3, 1, 8, 8, dtype=torch.float64) * 2 - 1

    def oracle(x, t):  # the exact v of x_t for these clean images
        at = a[t].view(-1, 1, 1, 1)
        eps = (x - at.sqrt() * x0) / (1 - at).sqrt()
        return SimpleNamespace(sample=at.sqrt() * eps - (1 - at).sqrt() * x0)

    noise = torch.randn_like(x0)
    for t in (0, 300, 800):
        tt = torch.full((3,), t)
        xt = method.noise.add_noise(x0, noise, tt)
        # the training target is v, and as_eps turns it back into the noise
        assert torch.allclose(method.noise.get_velocity(x0, noise, tt), oracle(xt, tt).sample)
        assert torch.allclose(as_eps(oracle, "v_prediction", a)(xt, tt).sample, noise,
                              atol=1e-9)
    eps = as_eps(oracle, "v_prediction", a)
    config = sampler_config(dict(method.noise.config))
    assert config["prediction_type"] == "epsilon"
    assert method.noise.config.prediction_type == "v_prediction"  # what export writes
    for kind, steps in (("ddim", 20), ("ddpm", 1000)):
        out = sample_loop(lambda x, t: eps(x, t).sample, torch.randn_like(x0),
                          make_scheduler(kind, config), steps=steps)
        assert torch.allclose(out, x0, atol=1e-5)


def test_v_prediction_run_trains_exports_and_loads_back(tmp_path, capsys):
    cfg = load_config(ROOT / "configs" / "ddpm-shapes.yaml", tiny(
        tmp_path, *SHAPES, "train.steps=2", "name=v", "method.prediction_type=v_prediction",
        method="ddpm"))
    run_dir = train(cfg, show_progress=False).run_dir
    code, _, err = run_cli(["export", run_dir, "--out", tmp_path / "pipe"], capsys)
    assert code == 0, err
    from genlab.runs.load import load_unet_folder

    back = load_unet_folder(tmp_path / "pipe")
    assert back.cfg.method.prediction_type == "v_prediction"
    run = load_run(run_dir)
    opts = sampling_options(run, steps=2)
    labels = torch.tensor([0, 2])
    assert torch.equal(run.sample(2, seed=3, labels=labels, options=opts),
                       back.sample(2, seed=3, labels=labels, options=opts))


def _overshoot_then_clean(first):
    """A noise predictor: at timestep `first` an x0 far above 1 (clipped), then "no noise"."""
    return lambda x, t: torch.full_like(x, -3.0) if int(t[0]) == first else torch.zeros_like(x)


def _by_hand(x, a, first, second):
    """Steps first -> second -> 0 with eta 0, the noise re-derived from the clipped x0; the
    last step lands on x0 (alpha = 1). Returns (x0 of the first step, the result)."""
    x0 = predicted_x0(x, torch.full_like(x, -3.0), a[first]).clamp(-1, 1)
    eps = (x - a[first].sqrt() * x0) / (1 - a[first]).sqrt()
    x = a[second].sqrt() * x0 + (1 - a[second]).sqrt() * eps
    return x0, (x / a[second].sqrt()).clamp(-1, 1)


def test_ddim_rederives_the_noise_from_the_clipped_x0():
    method = DDPM(load_config(None, ["method.name=ddpm"]).method, DataInfo(1, 4))
    x = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    out = sample_loop(_overshoot_then_clean(999), x,
                      make_scheduler("ddim", dict(method.noise.config)), steps=2)
    # timesteps 999 -> 499 -> 0 (trailing)
    x0, expected = _by_hand(x, method.noise.alphas_cumprod, 999, 499)
    assert torch.equal(x0, torch.ones_like(x0))
    assert torch.allclose(out, expected, atol=1e-5)
    assert out.std() > 0.1  # the raw -3 noise would have sent every pixel to -1


def test_repaint_steps_with_the_noise_of_the_clipped_x0():
    method = DDPM(load_config(None, ["method.name=ddpm"]).method, DataInfo(1, 4))
    a = method.noise.alphas_cumprod
    hole = torch.zeros(2, 1, 4, 4)  # nothing known: RePaint only samples
    out = repaint(_overshoot_then_clean(500), hole, hole, method.sampler_config, steps=2,
                  jumps=1, jump_length=1, eta=0.0, generator=torch.Generator().manual_seed(1))
    # timesteps 500 -> 0, from RePaint's own starting noise
    x = torch.randn(hole.shape, generator=torch.Generator().manual_seed(1))
    x0, expected = _by_hand(x, a, 500, 0)
    assert torch.allclose(out, expected, atol=1e-5)
    raw = (x0 + (1 - a[0]).sqrt() / a[0].sqrt() * -3.0).clamp(-1, 1)  # diffusers' own step
    assert (out - raw).abs().mean() > 0.01


def test_classifier_free_guidance_combines_cond_and_uncond():
    info = DataInfo(3, 16, num_classes=3, class_names=["a", "b", "c"])
    method = DDPM(load_config(None, ["method.name=ddpm", "method.conditional=true",
                                     *TINY_METHOD["ddpm"]]).method, info)
    method.nets["unet"] = _StubUNet()
    x, t, labels = torch.zeros(2, 3, 16, 16), torch.tensor([5, 5]), torch.tensor([1, 1])
    # uncond (null = 3) + s * (cond - uncond) = 3 + 2.5 * (1 - 3) = -2
    eps = method.eps_fn(labels, SamplingOptions(cfg=2.5))
    assert torch.allclose(eps(x, t), torch.full_like(x, -2.0))
    eps = method.eps_fn(labels, SamplingOptions(cfg=1.0))
    assert torch.allclose(eps(x, t), torch.full_like(x, 1.0))
    eps = method.eps_fn(labels, SamplingOptions(cfg=0.0))
    assert torch.allclose(eps(x, t), torch.full_like(x, 3.0))
    with pytest.raises(ConfigError):
        method.eps_fn(None, SamplingOptions())


def test_loss_guidance_matches_the_closed_form():
    """guide = 0.5 ||x0 - c||^2 with eps = 0: x0_hat = x / sqrt(a), so
    eps' = s * sqrt(1 - a) * (x0_hat - c) / sqrt(a)."""
    alphas = torch.linspace(0.99, 0.01, 1000)
    c, s = 0.3, 2.0
    eps = guided(lambda x, t: torch.zeros_like(x),
                 lambda x0: 0.5 * (x0 - c).pow(2).flatten(1).sum(1), s, alphas)
    x, t = torch.randn(2, 1, 4, 4), torch.tensor([100, 700])
    a = alphas[t].view(-1, 1, 1, 1)
    expected = s * (1 - a).sqrt() * (x / a.sqrt() - c) / a.sqrt()
    assert torch.allclose(eps(x, t), expected, atol=1e-5)
    assert torch.allclose(predicted_x0(x, torch.zeros_like(x), a), x / a.sqrt())


def test_img2img_strength_zero_returns_the_input(ddpm_run):
    run = load_run(ddpm_run)
    opts = sampling_options(run, steps=4)
    image = _image()
    assert torch.equal(img2img(run, image, strength=0.0, label="circle", options=opts)[0], image)
    changed = img2img(run, image, strength=0.5, label="circle", n=2, options=opts)
    assert changed.shape == (2, 3, 16, 16) and not torch.equal(changed[0], image)
    with pytest.raises(ConfigError):
        img2img(run, image, strength=1.5, label="circle")


def test_inpainting_keeps_every_unmasked_pixel(ddpm_run):
    run = load_run(ddpm_run)
    image = _image()
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[4:12, 2:9] = True
    out = inpaint(run, image, mask, steps=20, jumps=2, jump_length=5, label=1, n=2)
    assert out.dtype == torch.uint8 and out.shape == (2, 3, 16, 16)
    assert torch.equal(out[:, :, ~mask], image[:, ~mask].expand(2, -1, -1))
    assert (out[:, :, mask] != image[:, mask]).float().mean() > 0.5  # the hole is redrawn
    with pytest.raises(ConfigError):
        inpaint(run, image, mask[:8], label=1)


def test_cli_inpaint_and_img2img_files(ddpm_run, tmp_path, capsys):
    image = _image()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(tmp_path / "in.png")
    mask = torch.zeros(16, 16, dtype=torch.uint8)
    mask[:, 8:] = 255
    Image.fromarray(mask.numpy()).save(tmp_path / "mask.png")
    code, out, err = run_cli(["inpaint", ddpm_run, "--image", tmp_path / "in.png", "--mask",
                              tmp_path / "mask.png", "--steps", "10", "--jumps", "1",
                              "--label", "square", "--out", tmp_path / "out.png"], capsys)
    assert code == 0, err
    result = torch.from_numpy(np.array(Image.open(tmp_path / "out.png")))
    assert torch.equal(result[:, :8], image.permute(1, 2, 0)[:, :8])
    code, out, err = run_cli(["img2img", ddpm_run, "--init", tmp_path / "in.png", "--strength",
                              "0", "--label", "0", "--out", tmp_path / "same.png"], capsys)
    assert code == 0, err
    same = torch.from_numpy(np.array(Image.open(tmp_path / "same.png")))
    assert torch.equal(same, image.permute(1, 2, 0))


def test_a_diffusers_unet_folder_loads_and_samples(tmp_path, capsys):
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=16, in_channels=3, out_channels=3,
                       block_out_channels=(8, 16), down_block_types=("DownBlock2D",
                                                                     "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"), layers_per_block=1,
                       norm_num_groups=4)
    unet.save_pretrained(tmp_path / "unet")
    from genlab.runs.load import load_unet_folder

    run = load_unet_folder(tmp_path / "unet")
    loaded = run.method.nets["unet"].state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in unet.state_dict().items())
    code, out, err = run_cli(["sample", "--unet", tmp_path / "unet", "--n", "4", "--steps", "2",
                              "--out", tmp_path / "s.png"], capsys)
    assert code == 0, err
    assert Image.open(tmp_path / "s.png").size == (2 + 4 * 18, 2 + 18)


def test_export_loads_back_into_genlab(ddpm_run, tmp_path, capsys):
    """(tests/test_export.py loads and runs the exported pipeline in diffusers.)"""
    code, out, err = run_cli(["export", ddpm_run, "--out", tmp_path / "pipe"], capsys)
    assert code == 0, err
    from genlab.runs.load import load_unet_folder

    back = load_unet_folder(tmp_path / "pipe")
    run = load_run(ddpm_run)
    opts = sampling_options(run, steps=2)
    labels = torch.tensor([0, 1])
    assert torch.equal(run.sample(2, seed=3, labels=labels, options=opts),
                       back.sample(2, seed=3, labels=labels, options=opts))


def test_init_from_reports_loaded_reshaped_and_new(ddpm_run, tmp_path):
    cfg = load_config(ROOT / "configs" / "ddpm-shapes.yaml",
                      tiny(tmp_path, "data.shapes.label=shape_colour", "train.steps=1",
                           "name=ft", method="ddpm"))
    from genlab.runs.train import build_trainer

    trainer = build_trainer(cfg, init_from=ddpm_run, show_progress=False)
    report = json.loads((trainer.run_dir / "init_from.json").read_text())
    assert report["reshaped"] == ["unet.class_embedding.weight"]
    assert len(report["loaded"]) > 50 and report["new"] == [] and report["unused"] == []
    source = load_run(ddpm_run).method.nets.state_dict()
    target = trainer.method.nets.state_dict()
    assert torch.equal(target["unet.conv_in.weight"], source["unet.conv_in.weight"])
    assert torch.equal(target["unet.class_embedding.weight"][:4],
                       source["unet.class_embedding.weight"])


def test_latent_diffusion_on_a_frozen_vae(tmp_path, capsys):
    vae = train(load_config(ROOT / "configs" / "vae-latent.yaml", tiny(
        tmp_path, "data.name=shapes", "train.steps=2", "name=vae", "method.downsamples=1",
        "method.z_channels=4", method="vae")), show_progress=False).run_dir
    ldm = train(load_config(ROOT / "configs" / "ldm.yaml", tiny(
        tmp_path, *SHAPES, "train.steps=2", "name=ldm", f"method.vae_run={vae}",
        method="ldm")), show_progress=False).run_dir
    run = load_run(ldm)
    assert run.cfg.method.vae is not None and run.cfg.method.vae.latent == "spatial"
    assert run.method.nets["latent"].scale > 0
    vae_weights = load_run(vae).method.nets["decoder"].state_dict()
    assert all(torch.equal(v, run.method.nets["vae"]["decoder"].state_dict()[k])
               for k, v in vae_weights.items())  # frozen: still the VAE's weights
    shutil.rmtree(vae)  # the LDM run is self-contained
    images = load_run(ldm).sample(3, seed=0)
    assert images.shape == (3, 3, 16, 16)
    code, out, err = run_cli(["train", ROOT / "configs" / "ldm.yaml", *sum(
        (["--set", k] for k in tiny(tmp_path, f"method.vae_run={ldm}", method="ldm")), [])],
        capsys)
    assert code == 2 and "must be a vae run" in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["--sampler", "euler"], "unknown sampler"),
    (["--cfg", "-1"], "--cfg"),
    (["--truncation", "0.5"], "truncation does not apply"),
])
def test_bad_sampling_options_are_one_line_errors(ddpm_run, capsys, args, message):
    code, out, err = run_cli(["sample", ddpm_run, "--n", "2", *args], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_sampler_options_on_a_gan_run_are_an_error(trained_run, capsys):
    code, out, err = run_cli(["sample", trained_run, "--steps", "10"], capsys)
    assert code == 2 and "apply to diffusion runs" in err
    code, out, err = run_cli(["sample"], capsys)
    assert code == 2 and "--unet" in err


def test_guide_spec_errors(ddpm_run):
    from genlab.generate.guidance import parse_guide

    with pytest.raises(ConfigError, match="unknown guide"):
        parse_guide("vibes:a cat", load_run(ddpm_run))


def test_unet_sizes_are_checked():
    with pytest.raises(ConfigError, match="not divisible"):
        DDPM(load_config(None, ["method.name=ddpm"]).method, DataInfo(1, 30))


def test_bench_diffusion_smoke(tmp_path, capsys, monkeypatch):
    """The diffusion benchmark pipeline at a toy budget: training, rows, page; then resume."""
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    args = ["bench", "diffusion", "--data", "shapes", "--minutes", "0.01", "--n", "24",
            "--config", "ddpm-shapes", "--steps", "2,3", "--ddpm-steps", "4", "--cfgs", "0,2",
            "--runs", tmp_path / "runs", "--out", tmp_path / "results"]
    for item in tiny(tmp_path, *SHAPES, method="ddpm"):
        if not item.startswith(("train.out_dir", "train.steps")):
            args += ["--set", item]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    page = (tmp_path / "results" / "diffusion-shapes.md").read_text()
    assert "| ddpm | 4 |" in page and "| ddim | 3 |" in page and "| dpm | 2 |" in page
    assert "Classifier-free guidance" in page and "DDIM paper" in page
    other = "fp32" if sampling_precision("auto", torch.device("cpu")) == "bf16" else "bf16"
    assert f"| ddim | 2 | {other} |" in page and "95% interval" in page  # precision checks
    claims = [line for line in page.splitlines() if line.startswith("- *")]
    # the DDIM trend and bf16 (DDIM-20 and guidance 3/5 are not in this toy grid)
    assert len(claims) == 2 and all(line.count("**") == 2 for line in claims), claims
    raw = tmp_path / "results" / "diffusion-shapes" / "raw"
    row = json.loads((raw / "cfg-2.json").read_text())
    assert row["cfg"] == 2 and 0 <= row["cond_acc"] <= 1 and row["seconds_per_image"] > 0
    assert row["fid_se"] > 0 and row["unet_precision"] != other and row["fid_draws"] == 200
    assert (raw.parent / row["grid"]).is_file()
    code, out, err = run_cli(args, capsys)
    assert code == 0 and "trained earlier" in out + err and "done earlier" in out + err
