"""Text-conditioned latent diffusion: tiny VAE, CLIP and text-ldm runs through the engine, a
self-contained run, CFG by hand, caption dropout, `sample --prompt` and the one-line errors."""

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from conftest import ROOT, TINY, run_cli, tiny
from genlab import train
from genlab.engine.checkpoint import find_checkpoint, load_checkpoint
from genlab.generate.guidance import sampling_options
from genlab.methods.base import DataInfo
from genlab.methods.clip import CLIPConfig
from genlab.methods.text_ldm import TextLDM, TextLDMConfig, drop_captions
from genlab.methods.vae import VAEConfig
from genlab.runs.config import load_config
from genlab.runs.load import load_run

SOT, EOT = 49406, 49407  # CLIP's start and end tokens
CLIP_SIZES = dict(embed_dim=16, vision_layers=1, vision_width=32, patch_size=4, text_layers=1,
                  text_width=32, heads=2)
CONFIG = ROOT / "configs" / "ldm-text-shapes.yaml"


def _text_ldm(tmp_path: Path, *extra: str) -> list[str]:
    """The config's data and method with tiny nets (the ddpm-sized UNet of `tiny`)."""
    return tiny(tmp_path, "train.steps=2", "name=tldm", *extra, "method.name=text-ldm",
                "method.heads=2", method="ldm")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny vae, clip and text-ldm runs on 16 px shapes, 2 steps each."""
    out = tmp_path_factory.mktemp("text-ldm")
    vae = train(load_config(ROOT / "configs" / "vae-latent.yaml", tiny(
        out, "data.name=shapes", "train.steps=2", "name=vae", "method.downsamples=1",
        "method.z_channels=4", method="vae")), show_progress=False).run_dir
    clip = train(load_config(None, [
        *(k for k in TINY if not k.startswith("method.")), "method.name=clip",
        *(f"method.{k}={v}" for k, v in CLIP_SIZES.items()), "train.steps=2", "name=clip",
        f"train.out_dir={out / 'runs'}"]), show_progress=False).run_dir
    text = train(load_config(CONFIG, _text_ldm(out, f"method.vae_run={vae}",
                                               f"method.clip_run={clip}")),
                 show_progress=False).run_dir
    return SimpleNamespace(vae=vae, clip=clip, text=text)


def _method(**fields) -> TextLDM:
    """An untrained tiny text-ldm built from configs alone."""
    cfg = TextLDMConfig(vae=VAEConfig(latent="spatial", width=8, downsamples=1, z_channels=4),
                        clip=CLIPConfig(**CLIP_SIZES), channels=(8, 16), attention=(False, True),
                        layers_per_block=1, norm_groups=4, heads=2, sample_steps=2, **fields)
    return TextLDM(cfg, DataInfo(3, 16))


# --- the engine and self-contained runs ------------------------------------------------------

def test_trains_shows_caption_grids_and_keeps_no_image_tower(runs):
    run = load_run(runs.text)
    method = run.method
    assert isinstance(method, TextLDM) and run.step == 2
    assert run.cfg.method.clip.text_width == 32 and run.cfg.method.vae.latent == "spatial"
    data = run.cfg.data.load("train", seed=run.cfg.seed)
    assert run.cfg.method.prompts == list(dict.fromkeys(data.captions))[:8]
    assert (runs.text / "samples" / "step-0000002.png").is_file()
    tensors, _ = load_checkpoint(find_checkpoint(runs.text, "last"))
    assert not any(".visual." in k for k in tensors)  # the image tower is never stored
    clip = load_run(runs.clip).method.nets["clip"].state_dict()
    tower = method.nets["clip"]["clip"].state_dict()
    assert tower and all(torch.equal(v, clip[k]) for k, v in tower.items())  # frozen


def test_run_samples_without_the_vae_and_clip_folders(runs, tmp_path, capsys):
    away = {p: tmp_path / p.name for p in (runs.vae, runs.clip)}
    for src, dst in away.items():
        src.rename(dst)
    try:
        out = tmp_path / "red.png"
        code, _, err = run_cli(["sample", runs.text, "--prompt", "a red circle", "--cfg", "2",
                                "--steps", "2", "--n", "4", "--out", out], capsys)
        assert code == 0, err
        assert out.is_file()
    finally:
        for src, dst in away.items():
            dst.rename(src)


def test_prompts_reach_the_images(runs):
    run = load_run(runs.text)
    opts = sampling_options(run, steps=2, cfg=3, prompt="a red circle")
    red = run.sample(2, seed=0, options=opts)
    assert torch.equal(red, run.sample(2, seed=0, options=opts))  # same seed, same images
    # prompts in turn: image 1 is the red circle again
    both = run.sample(2, seed=0, options=sampling_options(
        run, steps=2, cfg=3, prompt=["a blue square", "a red circle"]))
    assert torch.allclose(both[1], red[1], atol=1e-5)  # (batched kernels: not bit-equal)
    assert (both[0] - red[0]).abs().max() > 1e-2


# --- guidance and caption dropout ------------------------------------------------------------

class StandIn(nn.Module):
    """A UNet whose output is known: it depends on x, t and the text states."""

    def forward(self, x, t, encoder_hidden_states):
        text = encoder_hidden_states.float().mean(dim=(1, 2)).view(-1, 1, 1, 1)
        return SimpleNamespace(sample=0.5 * x + text + 1e-3 * t.view(-1, 1, 1, 1))


def test_classifier_free_guidance_by_hand():
    method = _method()
    method.nets["unet"] = StandIn()
    x, t = torch.randn(3, 4, 8, 8), torch.tensor([10, 500, 999])
    cond, null = method.embed(["a red circle", "a blue square"]), method.embed([""])
    assert not torch.allclose(cond[0], null[0])
    rows = cond[torch.tensor([0, 1, 0])]  # three images, two prompts in turn
    eps_text = StandIn()(x, t, rows).sample
    eps_null = StandIn()(x, t, null.expand(3, -1, -1)).sample
    for s in (0.0, 1.0, 2.5):
        opts = replace(method.default_sampling(), cfg=s, prompts=("a red circle", "a blue square"))
        got = method.eps_fn(None, opts)(x, t)
        assert torch.allclose(got, eps_null + s * (eps_text - eps_null), atol=1e-6)


def test_text_dropout_replaces_the_seeded_fraction_with_the_empty_text():
    method = _method(text_dropout=0.25)
    empty = method.tokenize([""])
    assert empty[0, :2].tolist() == [SOT, EOT] and not empty[0, 2:].any()
    tokens = method.tokenize(["a red circle"] * 2000)
    torch.manual_seed(0)
    out = drop_captions(tokens, empty, 0.25)
    torch.manual_seed(0)
    expected = torch.rand(2000) < 0.25
    dropped = (out == empty).all(dim=1)
    assert torch.equal(dropped, expected) and torch.equal(out[~dropped], tokens[~dropped])
    assert abs(dropped.float().mean().item() - 0.25) < 0.03
    assert torch.equal(drop_captions(tokens, empty, 0.0), tokens)
    # train_step's conditioning: the dropped captions' text states
    torch.manual_seed(1)
    states = method.condition({"text": tokens[:8]})["encoder_hidden_states"]
    torch.manual_seed(1)
    assert torch.equal(states, method.text_tower(drop_captions(tokens[:8], empty, 0.25)))


def test_text_states_are_what_clip_pools():
    """The per-token states are open_clip's own: pooled at the end token and projected they
    give encode_text's embedding."""
    method = _method()
    tokens = method.tokenize(["a red circle", "a small blue square at the top left"])
    states = method.text_tower(tokens)
    assert states.shape == (2, 16, 32)
    model = method.text_tower.model
    pooled = states[torch.arange(2), tokens.argmax(dim=1)] @ model.text_projection
    assert torch.allclose(pooled, model.encode_text(tokens), atol=1e-5)


# --- one-line errors -------------------------------------------------------------------------

def test_prompt_on_a_run_without_text_is_an_error(runs, capsys):
    code, _, err = run_cli(["sample", runs.vae, "--prompt", "a red circle"], capsys)
    assert code == 2 and "--prompt applies to text-conditioned runs" in err
    assert err.strip().count("\n") == 0
    code, _, err = run_cli(["sample", runs.text, "--label", "0", "--steps", "2"], capsys)
    assert code == 2 and "drop --label" in err


def test_clip_run_must_be_a_clip_run(runs, tmp_path, capsys):
    sets = _text_ldm(tmp_path, f"method.vae_run={runs.vae}", f"method.clip_run={runs.vae}")
    code, _, err = run_cli(["train", CONFIG, *sum((["--set", k] for k in sets), [])], capsys)
    assert code == 2 and "must be a clip run" in err and "Traceback" not in err
    assert err.strip().count("\n") == 0
    sets = _text_ldm(tmp_path, f"method.vae_run={runs.vae}", "method.clip_run=null")
    code, _, err = run_cli(["train", CONFIG, *sum((["--set", k] for k in sets), [])], capsys)
    assert code == 2 and "method.clip_run is required" in err
