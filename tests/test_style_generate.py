"""Generation through the methods' latent hooks: truncation (`method.truncate`), interpolation
(`method.walk_latents`) and StyleGAN's figures (`genlab style`: style mixing, noise
resampling). A toy style-based method whose images show where each group of styles came from
pins the grid layouts exactly; the DCGAN session run shows the other methods are unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import assert_one_line_error, run_cli, tiny
from genlab.errors import ConfigError
from genlab.generate.interpolate import interpolate, lerp
from genlab.generate.sample import generate_images
from genlab.generate.style import (
    is_style_based,
    mix_styles,
    mixing_cells,
    noise_cells,
    noise_grid,
    save_mixing,
    style_figures,
    style_mixing_grid,
)
from genlab.images import save_grid, to_uint8
from genlab.methods.base import DataInfo, Method
from genlab.runs.load import LoadedRun, load_run

SIDE = 4  # the toy's images: SIDE x SIDE, 3 channels


class ToyStyle(Method):
    """A 'StyleGAN' of 6 style layers in three groups: each latent is one number, its styles
    that number at every layer (plus the class, for a conditional toy), and channel c of an
    image is the mean style of group c, so a pixel says which source each group came from."""

    name = "toystyle"
    num_ws = 6

    def __init__(self, num_classes: int = 0) -> None:
        super().__init__(None, DataInfo(3, SIDE, num_classes, [str(k) for k in range(num_classes)]))
        self.nets["dummy"] = nn.Linear(1, 1)
        self.num_classes = num_classes
        self.style_labels: list[torch.Tensor | None] = []

    def style_groups(self) -> dict[str, tuple[int, int]]:
        return {"coarse": (0, 2), "middle": (2, 4), "fine": (4, 6)}

    def sample_latents(self, n, generator=None):
        return torch.rand(n, 1, generator=generator) * 0.5

    def to_ws(self, z, labels=None, psi=1.0):
        self.style_labels.append(labels)
        w = z if labels is None else z + 0.1 * labels.view(-1, 1)
        return (w * psi).unsqueeze(1).expand(-1, self.num_ws, 1).clone()

    def decode(self, z, labels=None, options=None):
        ws = z if z.dim() == 3 else self.to_ws(z, labels)
        groups = torch.stack([ws[:, a:b, 0].mean(1) for a, b in self.style_groups().values()], 1)
        images = groups.view(-1, 3, 1, 1).expand(-1, 3, SIDE, SIDE).clone()
        if options is not None and options.noise == "random":
            gen = torch.Generator().manual_seed(options.noise_seed)
            images += 0.1 * torch.randn(images.shape, generator=gen)
        return images


def test_style_mixing_grid_takes_each_group_from_b_and_the_rest_from_a():
    method = ToyStyle()
    mixing = style_mixing_grid(method, rows=2, cols=3, seed=5)
    assert list(mixing.blocks) == ["coarse", "middle", "fine"]
    a, b = mixing.a[:, 0, 0, 0], mixing.b[:, 0, 0, 0]  # each source's one number
    assert len(set(a.tolist() + b.tolist())) == 5  # five different latents
    for channel, block in enumerate(mixing.blocks.values()):
        assert block.shape == (2, 3, 3, SIDE, SIDE)
        for i in range(2):
            for j in range(3):
                expected = [b[j] if c == channel else a[i] for c in range(3)]
                assert block[i, j, :, 0, 0].tolist() == torch.stack(expected).tolist()
    # Figure 3's layout: a blank corner, B along the top, each block's rows start with A
    cells = mixing_cells(mixing).view(1 + 3 * 2, 4, 3, SIDE, SIDE)
    assert (cells[0, 0] == 1).all() and torch.equal(cells[0, 1:], mixing.b)
    assert torch.equal(cells[1:, 0], mixing.a.repeat(3, 1, 1, 1))
    assert torch.equal(cells[3:5, 1:], mixing.blocks["middle"])
    # the same seed gives the same grid; the A latents are the first drawn
    again = style_mixing_grid(method, rows=2, cols=1, seed=5)
    assert torch.equal(again.a, mixing.a)


def test_mix_styles_and_empty_groups():
    method = ToyStyle()
    ws_a, ws_b = torch.zeros(2, 6, 1), torch.ones(2, 6, 1)
    mixed = mix_styles(method, ws_a, ws_b, 1, 4)
    assert mixed[:, :, 0].tolist() == [[0, 1, 1, 1, 0, 0]] * 2 and (ws_a == 0).all()
    with pytest.raises(ConfigError, match="start <= stop"):
        mix_styles(method, ws_a, ws_b, 4, 7)
    method.style_groups = lambda: {"coarse": (0, 6), "middle": (6, 6), "fine": (6, 6)}
    assert list(style_mixing_grid(method, rows=1, cols=1).blocks) == ["coarse"]


def test_conditional_sources_take_classes_in_turn():
    method = ToyStyle(num_classes=3)
    style_mixing_grid(method, rows=4, cols=2)
    labels_a, labels_b = method.style_labels
    assert labels_a.tolist() == [0, 1, 2, 0] and labels_b.tolist() == [0, 1]


def test_noise_grid_only_changes_the_noise():
    method = ToyStyle()
    noise = noise_grid(method, rows=2, noise_samples=3, seed=5)
    mixing = style_mixing_grid(method, rows=2, cols=1, seed=5)
    assert torch.equal(noise.const, mixing.a)  # the same latents, const noise
    assert noise.random.shape == (2, 3, 3, SIDE, SIDE)
    assert not torch.equal(noise.random[:, 0], noise.random[:, 1])
    assert torch.allclose(noise.random.mean(1), noise.const, atol=0.3)
    assert torch.allclose(noise.std, noise.random.std(1).mean(1))
    cells = noise_cells(noise).view(2, 5, 3, SIDE, SIDE)
    assert torch.equal(cells[:, 0], noise.const) and torch.equal(cells[:, 1:4], noise.random)
    grey = cells[:, 4]
    assert (grey[:, 0] == grey[:, 1]).all()  # grey, scaled so each row's largest std is white
    assert grey.flatten(1).amax(1).tolist() == [1.0, 1.0] and (grey >= -1).all()


def test_figures_are_written_beside_earlier_ones(tmp_path):
    run = LoadedRun(tmp_path, None, ToyStyle().info, ToyStyle(), 0)
    first = style_figures(run, tmp_path / "out", rows=2, cols=3, noise_samples=2)
    assert first.groups == ["coarse", "middle", "fine"]
    cell = SIDE + 2
    mixing = Image.open(first.mixing)
    grid_width = 4 * cell + 2
    assert mixing.height == 7 * cell + 2 and mixing.width > grid_width
    pixels = np.asarray(mixing.convert("L"))
    margin = mixing.width - grid_width
    assert pixels[:, :margin].min() < 128  # the groups' names, in black on white
    assert (pixels[2:2 + SIDE, margin + 2:margin + 2 + SIDE] == 255).all()  # blank corner
    assert Image.open(first.noise).size == (4 * cell + 2, 2 * cell + 2)
    second = style_figures(run, tmp_path / "out", rows=2, cols=3, noise_samples=2, seed=1)
    assert second.mixing.name == "style-mixing-2.png" and second.noise.name == "noise-2.png"
    assert first.mixing.read_bytes() != second.mixing.read_bytes()
    save_mixing(style_mixing_grid(run.method, rows=1, cols=1), tmp_path / "one.png")


def test_methods_without_styles_are_refused():
    plain = ToyStyle()
    plain.style_groups = None  # a method without the hook
    assert is_style_based(ToyStyle) and not is_style_based(plain)
    with pytest.raises(ConfigError, match="no per-layer styles"):
        style_mixing_grid(plain)


class ToyWalk(ToyStyle):
    """Truncation and walks in a space of its own (as StyleGAN's W): z -> [z, z^2] per layer."""

    soft_labels = True

    def truncate(self, z, psi, labels=None):
        self.truncated = (psi, labels)
        return self.walk_latents(z, labels) * psi

    def walk_latents(self, z, labels=None):
        self.walked = [*getattr(self, "walked", []), labels]
        return torch.cat([z, z ** 2], 1).unsqueeze(1).expand(-1, self.num_ws, 2)

    def decode(self, z, labels=None, options=None):
        self.decoded = [*getattr(self, "decoded", []), (z, labels)]
        return super().decode(z if z.dim() == 3 else self.walk_latents(z)[..., :1], labels)


def test_sampling_truncates_through_the_method_with_each_images_labels():
    method = ToyWalk(num_classes=3)
    images, labels = generate_images(method, 5, seed=2, truncation=0.5, batch_size=3)
    assert method.truncated[0] == 0.5 and method.truncated[1].tolist() == [0, 1]  # 2nd batch
    assert labels.tolist() == [0, 1, 2, 0, 1]
    z = method.sample_latents(5, torch.Generator().manual_seed(2))
    w = torch.cat([z, z ** 2], 1).unsqueeze(1) * 0.5  # in the walk space, not z * psi
    assert torch.equal(images, to_uint8(w[:, :, :1].expand(-1, 3, 1).view(5, 3, 1, 1)
                                        .expand(-1, 3, SIDE, SIDE)))
    run = LoadedRun(None, None, method.info, method, 0)
    run.sample(4, seed=2, truncation=0.5)
    assert method.truncated[1].tolist() == [0, 1, 2, 0]


def test_interpolation_walks_in_the_methods_space_between_one_hot_classes(tmp_path):
    method = ToyWalk(num_classes=3)
    interpolate(LoadedRun(tmp_path, None, method.info, method, 0), tmp_path, steps=3, rows=2)
    y0, y1 = method.walked
    assert y0.tolist() == [[1, 0, 0], [0, 1, 0]] and y1.tolist() == [[0, 1, 0], [0, 0, 1]]
    gen = torch.Generator().manual_seed(0)
    z0, z1 = method.sample_latents(2, gen), method.sample_latents(2, gen)
    w0, w1 = method.walk_latents(z0), method.walk_latents(z1)
    frames = [z for z, _ in method.decoded]
    assert torch.equal(frames[0], w0) and torch.allclose(frames[2], w1)  # lerp: a + (b - a)t
    assert torch.allclose(frames[1], (w0 + w1) / 2)  # the midpoint in W, not walk(mean z)
    assert not torch.allclose(frames[1], method.walk_latents((z0 + z1) / 2))
    assert method.decoded[1][1].tolist() == [[0.5, 0.5, 0], [0, 0.5, 0.5]]


def test_dcgan_samples_and_walks_are_unchanged(trained_run, tmp_path):
    """z-space methods: truncation is z * psi and the walk an explicit lerp of z, bit for bit."""
    run = load_run(trained_run)
    method = run.method
    images, labels = generate_images(method, 6, seed=3, truncation=0.5)
    z = method.sample_latents(6, torch.Generator().manual_seed(3)) * 0.5
    assert torch.equal(images, to_uint8(method.decode(z, labels)))
    assert torch.equal(run.sample(6, seed=3, truncation=0.5), method.decode(z, labels))
    png, _ = interpolate(run, tmp_path, steps=4, rows=3, seed=1)
    gen = torch.Generator().manual_seed(1)
    z0, z1 = method.sample_latents(3, gen), method.sample_latents(3, gen)
    k = run.info.num_classes
    eye = torch.eye(k)
    y0, y1 = eye[torch.arange(3) % k], eye[(torch.arange(3) + 1) % k]
    frames = [method.decode(lerp(z0, z1, t), lerp(y0, y1, t)) for t in torch.linspace(0, 1, 4)]
    expected = save_grid(torch.stack(frames, 1).flatten(0, 1), tmp_path / "expected.png", nrow=4)
    assert np.array_equal(np.asarray(Image.open(png)), np.asarray(Image.open(expected)))


def test_style_verb_refuses_bad_input_in_one_line(capsys, trained_run, tmp_path):
    code, _, err = run_cli(["style", trained_run, "--out", tmp_path], capsys)
    assert_one_line_error(code, err, "gan run", "StyleGAN")
    code, _, err = run_cli(["style", trained_run, "--rows", "0", "--out", tmp_path], capsys)
    assert_one_line_error(code, err, "--rows 0")
    code, _, err = run_cli(["style", trained_run, "--noise-samples", "1"], capsys)
    assert_one_line_error(code, err, "--noise-samples 1")
    (tmp_path / "afile.txt").write_text("x")
    code, _, err = run_cli(["style", trained_run, "--out", tmp_path / "afile.txt"], capsys)
    assert_one_line_error(code, err, "afile.txt", "is a file")
    code, _, err = run_cli(["style", trained_run, "--rows", "40", "--cols", "40"], capsys)
    assert_one_line_error(code, err, "1024")


# --- a real tiny StyleGAN (conditional: the labels enter W) -----------------------------------

@pytest.fixture(scope="module")
def stylegan_run(tmp_path_factory):
    from genlab import train
    from genlab.runs.config import load_config

    out = tmp_path_factory.mktemp("stylegan")
    cfg = load_config(None, tiny(out, "train.steps=2", "name=sg", "method.conditional=true",
                                 method="stylegan"))
    return train(cfg, show_progress=False).run_dir


def test_style_verb_writes_both_figures(capsys, stylegan_run, tmp_path):
    code, out, err = run_cli(["style", stylegan_run, "--out", tmp_path, "--rows", "2",
                              "--cols", "3", "--noise-samples", "2", "--truncation", "0.7"],
                             capsys)
    assert code == 0, err
    groups = load_run(stylegan_run).method.style_groups()
    blocks = [name for name, (a, b) in groups.items() if b > a]  # 16 px: no middle layers
    assert blocks == ["coarse", "fine"] and "coarse, fine styles from the top row" in out
    mixing, noise = Image.open(tmp_path / "style-mixing.png"), Image.open(tmp_path / "noise.png")
    assert mixing.height == (1 + 2 * 2) * 18 + 2 and mixing.width > 4 * 18 + 2
    assert noise.size == (4 * 18 + 2, 2 * 18 + 2)


def test_stylegan_truncates_in_w(stylegan_run):
    run = load_run(stylegan_run)
    method = run.method
    images, labels = generate_images(method, 6, seed=3, truncation=0.5)  # sample and eval
    z = method.sample_latents(6, torch.Generator().manual_seed(3))
    in_w = method.decode(method.to_ws(z, labels, psi=0.5))
    assert torch.equal(images, to_uint8(in_w))
    assert torch.equal(run.sample(6, seed=3, truncation=0.5), in_w)
    assert not torch.allclose(in_w, method.decode(z * 0.5, labels), atol=1e-3)
    # psi -> 0: every latent of every class lands on w_avg, so every image is the same
    tiny_psi = torch.cat([run.sample(4, seed=s, truncation=1e-6) for s in range(3)])
    assert (tiny_psi - tiny_psi[:1]).abs().max() < 1e-4


def test_stylegan_walk_ends_at_the_plain_samples(stylegan_run, tmp_path):
    run = load_run(stylegan_run)
    method, k = run.method, run.info.num_classes
    png, _ = interpolate(run, tmp_path, steps=3, rows=2, seed=7)
    gen = torch.Generator().manual_seed(7)
    z0, z1 = method.sample_latents(2, gen), method.sample_latents(2, gen)
    y0, y1 = torch.arange(2) % k, (torch.arange(2) + 1) % k
    ws = [method.to_ws(z, y) for z, y in ((z0, y0), (z1, y1))]
    expected = [to_uint8(method.decode(z0, y0)), to_uint8(method.decode((ws[0] + ws[1]) / 2)),
                to_uint8(method.decode(z1, y1))]  # the ends, and the midpoint in W
    grid = torch.from_numpy(np.array(Image.open(png).convert("RGB"))).permute(2, 0, 1)
    for row in range(2):
        for col, end in enumerate(expected):
            cell = grid[:, 2 + row * 18:18 + row * 18, 2 + col * 18:18 + col * 18]
            assert (cell.int() - end[row].int()).abs().max() <= 1
