"""Text to image (CLIP + VQGAN): prompts, the spherical distance, straight-through codes, the
optimisation with a stand-in CLIP, and `genlab text2img` on tiny real runs."""

import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from conftest import CLIP_DATA, run_cli, tiny
from genlab import train
from genlab.errors import ConfigError, RunError
from genlab.generate.text2img import (
    blank_canvas,
    codebook_range,
    load_vqgan,
    parse_prompts,
    quantize_straight_through,
    text_to_image,
)
from genlab.losses import spherical_distance
from genlab.nets.vqgan import VQGAN
from genlab.runs.config import load_config

# widths 8 and 16 with 8 groups: what taming_config infers back from a saved state dict
TINY_VQ = dict(ch=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), resolution=16,
               z_channels=8, embed_dim=4, n_embed=64, norm_groups=8)


def tiny_vqgan() -> VQGAN:
    torch.manual_seed(0)
    net = VQGAN(**TINY_VQ)
    nn.init.normal_(net.quantize.embedding.weight)  # spread codes: distinct decoded images
    return net.eval().requires_grad_(False)


class MeanColourNet(nn.Module):
    """Embeds an image as its mean colour through a fixed projection: differentiable and cheap."""

    image_size = 16

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("proj", torch.randn(3, 8, generator=torch.Generator().manual_seed(1)))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(images.expand(-1, 3, -1, -1).mean((2, 3)) @ self.proj, dim=-1)


class StandInCLIP:
    """The two calls text2img makes of a CLIP; a prompt names a colour (its embedding is that
    colour's)."""

    COLOURS = {"red": (1.0, -1.0, -1.0), "blue": (-1.0, -1.0, 1.0)}

    def __init__(self) -> None:
        self.nets = nn.ModuleDict({"clip": MeanColourNet()})

    def embed_texts(self, texts: list[str]) -> torch.Tensor:
        colours = torch.tensor([self.COLOURS[t] for t in texts]).view(-1, 3, 1, 1)
        return self.nets["clip"].encode_image(colours)


def clean_loss(clip: StandInCLIP, image: torch.Tensor, text: str) -> float:
    """The loss on the whole image, without cutouts or augmentations."""
    embed = clip.nets["clip"].encode_image(image[None])
    return float(spherical_distance(embed, clip.embed_texts([text])))


# --- prompts and losses ----------------------------------------------------------------------

def test_parse_prompts():
    assert parse_prompts("a red circle:1|a square:-0.5") == [("a red circle", 1.0),
                                                            ("a square", -0.5)]
    assert parse_prompts(" a red circle ") == [("a red circle", 1.0)]
    assert parse_prompts("a:b:2") == [("a:b", 2.0)]  # the weight follows the last colon
    for bad in ("a red circle:heavy", "a square:", "x:nan", "|a:1", ":1"):
        with pytest.raises(ConfigError) as err:
            parse_prompts(bad)
        assert "\n" not in str(err.value)


def test_spherical_distance_by_hand():
    a, b = torch.randn(5, 7), torch.randn(5, 7)
    an, bn = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    expected = 2 * torch.arcsin((an - bn).norm(dim=1) / 2) ** 2
    torch.testing.assert_close(spherical_distance(a, b), expected)
    assert spherical_distance(a, 3 * a).abs().max() < 1e-3  # scale-free, 0 when equal
    x, y = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert math.isclose(float(spherical_distance(x, y)), math.pi ** 2 / 8, rel_tol=1e-5)


def test_straight_through_quantisation_passes_gradient():
    net = tiny_vqgan()
    z = torch.randn(1, 4, 3, 3, requires_grad=True)
    out = quantize_straight_through(net.quantize, z)
    torch.testing.assert_close(out, net.quantize.embed(net.quantize.nearest(z)))  # codes
    weight = torch.randn_like(out)
    (out * weight).sum().backward()
    torch.testing.assert_close(z.grad, weight)  # identity backward


# --- the optimisation with a stand-in CLIP ---------------------------------------------------

def test_optimisation_lowers_the_loss_and_keeps_z_in_the_codebook_range():
    net, clip = tiny_vqgan(), StandInCLIP()
    lo, hi = codebook_range(net.quantize)
    seen = []
    nearest = net.quantize.nearest

    def record(z):  # every z the loop quantises
        seen.append(z.detach().clone())
        return nearest(z)

    net.quantize.nearest = record
    losses = []
    image, frames = text_to_image(clip, net, [("red", 1.0)], steps=40, cutouts=4, lr=0.2,
                                  frame_every=10, callback=lambda s, logs: losses.append(logs))
    assert len(losses) == 40 and image.shape == (3, 16, 16)
    assert len(frames) == 5 and torch.equal(frames[-1], image)  # after 0, 10, 20, 30, 40 steps
    # judged without cutouts and augmentations, whose colour jitter swamps a mean-colour CLIP
    clean = [clean_loss(clip, frame, "red") for frame in frames]
    assert clean[-1] < clean[0] and all(math.isfinite(d["loss"]) for d in losses)
    assert len(seen) > 40 and all(((z >= lo) & (z <= hi)).all() for z in seen)


def test_same_seed_same_image_and_rng_left_alone():
    net, clip = tiny_vqgan(), StandInCLIP()
    kwargs = dict(steps=3, cutouts=2)
    torch.manual_seed(123)
    first, _ = text_to_image(clip, net, [("red", 1.0), ("blue", -0.5)], seed=7, **kwargs)
    after = torch.rand(1)
    torch.manual_seed(123)
    again, _ = text_to_image(clip, net, [("red", 1.0), ("blue", -0.5)], seed=7, **kwargs)
    assert torch.equal(first, again)
    assert torch.equal(after, torch.rand(1))  # the caller's RNG stream is untouched
    other, _ = text_to_image(clip, net, [("red", 1.0), ("blue", -0.5)], seed=8, **kwargs)
    assert not torch.equal(first, other)


def test_init_image_size_and_bad_sizes():
    net, clip = tiny_vqgan(), StandInCLIP()
    init = torch.rand(3, 12, 10) * 2 - 1
    image, _ = text_to_image(clip, net, [("red", 1.0)], steps=1, cutouts=1, init_image=init)
    assert image.shape == (3, 12, 10)  # the init image's size (a multiple of the factor 2)
    image, _ = text_to_image(clip, net, [("red", 1.0)], steps=1, cutouts=1, size=(8, 12))
    assert image.shape == (3, 8, 12)
    with pytest.raises(ConfigError, match="multiple"):
        text_to_image(clip, net, [("red", 1.0)], steps=1, size=15)


def test_a_black_canvas_with_init_weight_stays_near_the_start():
    net, clip = tiny_vqgan(), StandInCLIP()
    black = blank_canvas(net, "black")
    assert black.shape == (1, 3, 16, 16) and (black == -1).all()
    start = net.decode(net.quantize.embed(net.quantize.nearest(net.encode_continuous(black))))
    kwargs = dict(steps=30, cutouts=2, lr=0.2, init_image=black)
    free, _ = text_to_image(clip, net, [("red", 1.0)], **kwargs)
    anchored, _ = text_to_image(clip, net, [("red", 1.0)], init_weight=1e4, **kwargs)
    # a strong anchor keeps the decoded start; without it the image moves toward red
    assert (anchored - start[0]).abs().mean() < 0.5 * (free - start[0]).abs().mean()
    with pytest.raises(ConfigError, match="unknown canvas"):
        blank_canvas(net, "purple")


def test_load_vqgan_from_a_taming_file_and_errors(tmp_path):
    save_file(tiny_vqgan().state_dict(), tmp_path / "tiny.safetensors")
    net = load_vqgan(tmp_path / "tiny.safetensors")
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert net.quantize.n_embed == 64
    with pytest.raises(RunError, match="not found"):
        load_vqgan(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="not a VQGAN checkpoint"):
        load_vqgan(tmp_path / "notes.txt")


# --- tiny real runs through the CLI ----------------------------------------------------------

def test_text2img_cli_on_tiny_runs(tmp_path, capsys):
    clip_run = train(load_config(None, tiny(tmp_path, *CLIP_DATA, "train.steps=2", "name=clip",
                                            method="clip")), show_progress=False).run_dir
    vq_run = train(load_config(None, tiny(tmp_path, "train.steps=2", "name=vq",
                                          method="vqgan")), show_progress=False).run_dir

    out = tmp_path / "out" / "circle.png"
    code, stdout, err = run_cli(["text2img", "a red circle", "--clip", clip_run, "--vqgan",
                                 vq_run, "--steps", "3", "--cutouts", "2", "--device", "cpu",
                                 "--out", out], capsys)
    assert code == 0, err
    assert out.is_file() and out.with_suffix(".gif").is_file()
    assert "CLIP similarity" in stdout and "a red circle" in stdout
    Image.new("RGB", (20, 20), (200, 30, 30)).save(tmp_path / "init.png")
    code, _, err = run_cli(["text2img", "a red circle", "--clip", clip_run, "--vqgan", vq_run,
                            "--steps", "1", "--cutouts", "1", "--init", tmp_path / "init.png",
                            "--out", out], capsys)
    assert code == 0, err
    assert Image.open(out).size == (20, 20)  # the init image's size
    code, _, err = run_cli(["text2img", "a red circle", "--clip", clip_run, "--vqgan", vq_run,
                            "--steps", "1", "--cutouts", "1", "--init", "black",
                            "--init-weight", "1", "--out", out], capsys)
    assert code == 0, err
    assert Image.open(out).size == (16, 16)  # a canvas has the VQGAN's training size

    for args, needle in (
        (["--clip", tmp_path / "missing", "--vqgan", vq_run], "not found"),
        (["--clip", clip_run, "--vqgan", tmp_path / "missing"], "not found"),
        (["--clip", vq_run, "--vqgan", vq_run], "not a clip run"),
        (["--clip", clip_run, "--vqgan", clip_run], "not a vqgan run"),
        (["--clip", clip_run, "--vqgan", vq_run, "--init", tmp_path / "none.png"], "one of black"),
        (["--clip", clip_run, "--vqgan", vq_run, "--init-weight", "-1"], "--init-weight"),
    ):
        code, _, err = run_cli(["text2img", "a red circle", "--steps", "1", *args], capsys)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    code, _, err = run_cli(["text2img", "a red circle:big", "--clip", clip_run, "--vqgan",
                            vq_run], capsys)
    assert code == 2 and "bad weight" in err and len(err.strip().splitlines()) == 1
