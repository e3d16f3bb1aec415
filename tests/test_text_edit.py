"""CLIP guidance and text-driven editing: the guide's gradient, the occlusion relevance map
with a stand-in CLIP, and `genlab edit` end to end with tiny real runs."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import run_cli, tiny
from genlab import train
from genlab.data.shapes import render_shapes
from genlab.errors import ConfigError
from genlab.generate.guidance import clip_guide, parse_guide
from genlab.generate.relevance import relevance_map, relevance_mask
from genlab.generate.text_edit import label_in_prompt, text_edit
from genlab.runs.config import load_config
from genlab.runs.load import load_run
from genlab.sampling import guided, predicted_x0


class StandInCLIP:
    """A fixed differentiable 'CLIP': the image embedding is a random affine map of the mean
    colour of `region`, so only those pixels matter; texts map to the embeddings given."""

    device = torch.device("cpu")

    def __init__(self, region, texts):
        self.region, self.texts = region, texts
        gen = torch.Generator().manual_seed(0)
        self.weight, self.bias = torch.randn(3, 16, generator=gen), torch.randn(16, generator=gen)
        self.nets = {"clip": self}  # what genlab.generate.clip_models reaches for

    def encode_image(self, images):
        colour = images[..., self.region[0], self.region[1]].mean(dim=(2, 3))
        return F.normalize(colour @ self.weight + self.bias, dim=-1)

    def embed_texts(self, texts):
        return torch.stack([self.texts[t] for t in texts])


def _noise_image(side=16, seed=0):
    return torch.randint(0, 256, (3, side, side), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


# --- CLIP guidance ---------------------------------------------------------------------------

def test_one_clip_guided_step_moves_the_prediction_toward_the_prompt():
    everything = (slice(0, 8), slice(0, 8))
    target = F.normalize(torch.randn(16, generator=torch.Generator().manual_seed(1)), dim=0)
    clip = StandInCLIP(everything, {"a blue square": target})
    guide = parse_guide('clip:"a blue square"', None, clip=clip)  # quotes are dropped
    alphas = torch.linspace(0.99, 0.01, 1000)
    eps = guided(lambda x, t: torch.zeros_like(x), guide, 5.0, alphas)
    x, t = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(2)), torch.full((4,),
                                                                                           300)
    a = alphas[t].view(-1, 1, 1, 1)
    before = guide(predicted_x0(x, torch.zeros_like(x), a))
    after = guide(predicted_x0(x, eps(x, t), a))
    assert (after < before).all()
    # the loss is the spherical distance: 0 at the prompt's own embedding
    assert clip_guide(clip, "a blue square")(torch.zeros(1, 3, 8, 8)).shape == (1,)


def test_a_clip_guide_needs_a_clip():
    with pytest.raises(ConfigError, match="--clip"):
        parse_guide("clip:a cat", None)
    with pytest.raises(ConfigError, match="unknown guide"):
        parse_guide("clip:", None, clip=object())


# --- relevance -------------------------------------------------------------------------------

def test_relevance_map_highlights_the_region_the_clip_looks_at():
    region = (slice(4, 8), slice(6, 10))
    image = torch.zeros(3, 16, 16, dtype=torch.uint8)  # a red square on black, like shapes
    image[0][region] = 255
    clip = StandInCLIP(region, {})
    clip.texts["it"] = clip.encode_image(image[None].float() / 127.5 - 1)[0]
    relevance = relevance_map(clip, image, "it", patch=4, stride=1)
    assert relevance.shape == (16, 16) and relevance.max() == 1 and relevance.min() >= 0
    mask = relevance_mask(relevance, 0.5, dilate=0)
    inside = torch.zeros(16, 16, dtype=torch.bool)
    inside[region] = True
    assert mask[inside].all() and mask.sum() <= 1.5 * inside.sum()  # covers it, little else
    assert relevance[~inside].max() < relevance[inside].min()
    grown = relevance_mask(relevance, 0.5, dilate=1)
    assert grown[mask].all() and grown.sum() > mask.sum()
    # a text the region does not match: covering the region raises the similarity, no map
    clip.texts["other"] = -clip.texts["it"]
    assert relevance_map(clip, image, "other", patch=4, stride=1).max() == 0


# --- genlab edit with tiny real runs ---------------------------------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny class-conditional DDPM (3 shape classes) and a tiny CLIP, both on 16 px shapes,
    trained for 3 and 2 steps."""
    out = tmp_path_factory.mktemp("text-edit")
    ddpm = train(load_config(None, tiny(out, "data.shapes.label=shape", "method.conditional=true",
                                        "train.steps=3", "name=ddpm", method="ddpm")),
                 show_progress=False).run_dir
    clip = train(load_config(None, tiny(out, "train.steps=2", "name=clip", method="clip")),
                 show_progress=False).run_dir
    return ddpm, clip


def test_sample_with_a_clip_guide(runs, tmp_path, capsys):
    ddpm, clip = runs
    args = ["sample", ddpm, "--n", "2", "--steps", "2", "--label", "circle", "--guide",
            "clip:a red circle", "--guide-scale", "50", "--out", tmp_path / "s.png"]
    code, out, err = run_cli([*args, "--clip", clip], capsys)
    assert code == 0 and (tmp_path / "s.png").is_file(), err
    code, out, err = run_cli(args, capsys)
    assert code == 2 and "pass --clip" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(["sample", ddpm, "--n", "2", "--clip", clip], capsys)
    assert code == 2 and "only used by --guide clip:" in err


@pytest.fixture
def two_shapes(tmp_path):
    """A red circle at the top left and a green square at the bottom right, 16 px."""
    images, _ = render_shapes(torch.tensor([[0, 1]]), torch.tensor([[0, 1]]),
                              torch.tensor([[1, 1]]), torch.tensor([[0, 8]]), image_size=16)
    path = tmp_path / "scene.png"
    Image.fromarray(images[0].permute(1, 2, 0).numpy()).save(path)
    return path, images[0]


def _png(path):
    return torch.from_numpy(np.array(Image.open(path)))


def test_edit_keeps_every_pixel_outside_the_mask(runs, two_shapes, tmp_path, capsys):
    ddpm, clip = runs
    path, image = two_shapes
    code, out, err = run_cli(["edit", path, "--select", "the red circle", "--prompt",
                              "a blue square", "--diffusion", ddpm, "--clip", clip,
                              "--steps", "10", "--jumps", "2", "--jump-length", "3",
                              "--out", tmp_path / "edited.png"], capsys)
    assert code == 0, err
    assert "pixels redrawn; drew class 'square'" in out  # the class --prompt names
    edited, mask = _png(tmp_path / "edited.png"), _png(tmp_path / "edited-mask.png") > 127
    relevance = _png(tmp_path / "edited-relevance.png")
    assert edited.shape == (16, 16, 3) and mask.shape == relevance.shape == (16, 16)
    assert mask.any() and relevance.max() == 255
    assert torch.equal(edited[~mask], image.permute(1, 2, 0)[~mask])


def test_the_label_defaults_to_the_class_the_prompt_names():
    pairs = SimpleNamespace(info=SimpleNamespace(class_names=["red square", "blue square",
                                                              "square", "circle"]))
    assert label_in_prompt(pairs, "a Blue  square") == "blue square"  # the longest name
    assert label_in_prompt(pairs, "a square") == "square"
    with pytest.raises(ConfigError, match="names none of its classes: pass --label"):
        label_in_prompt(pairs, "a squares party")
    with pytest.raises(ConfigError, match="several classes"):
        label_in_prompt(pairs, "a red square beside a blue square")


def test_edit_restores_the_run_and_reports_an_empty_mask(runs):
    ddpm, _ = runs
    run = load_run(ddpm)
    flat = StandInCLIP((slice(0, 1), slice(0, 1)), {"x": torch.ones(16) / 4})
    flat.encode_image = lambda images: torch.ones(len(images), 16) / 4  # sees nothing
    with pytest.raises(ConfigError, match="lower --threshold"):
        text_edit(run, flat, _noise_image(), select="x", prompt="x", label=0, steps=2)
    with pytest.raises(ConfigError, match="--label"):
        text_edit(run, flat, _noise_image(), select="x", prompt="x")


@pytest.mark.parametrize("case", ["missing image", "clip as diffusion", "ddpm as clip",
                                  "wrong size", "jpeg out"])
def test_edit_mistakes_are_one_line_errors(case, runs, two_shapes, tmp_path, capsys):
    ddpm, clip = runs
    path, _ = two_shapes
    image, diffusion, clip_source, out = path, ddpm, clip, tmp_path / "out.png"
    if case == "missing image":
        image = tmp_path / "nope.png"
    elif case == "clip as diffusion":
        diffusion = clip
    elif case == "ddpm as clip":
        clip_source = ddpm
    elif case == "wrong size":
        image = tmp_path / "big.png"
        Image.new("RGB", (32, 32)).save(image)
    else:
        out = tmp_path / "out.jpg"
    code, stdout, err = run_cli(["edit", image, "--select", "the red circle", "--prompt",
                                 "a blue square", "--diffusion", diffusion, "--clip",
                                 clip_source, "--label", "square", "--steps", "2", "--out",
                                 out], capsys)
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1, err
    assert not out.exists()
