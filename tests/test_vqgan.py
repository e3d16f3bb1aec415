"""VQGAN: taming checkpoint loading, quantiser, net shapes, dead codes, training end to end."""

import json
import sys
import types

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import ROOT, run_cli, tiny
from genlab import load_run, train
from genlab.engine.checkpoint import find_checkpoint
from genlab.errors import CheckpointError, ConfigError
from genlab.methods.base import DataInfo
from genlab.methods.registry import build_method
from genlab.metrics.judge import load_judge
from genlab.nets.patchgan import PatchDiscriminator
from genlab.nets.taming import load_taming_checkpoint
from genlab.nets.vqgan import VQGAN, Decoder, Encoder, VectorQuantizer
from genlab.runs.config import load_config

# ----- a reduced taming checkpoint, written from the public key layout (not from VQGAN) ----
CH, MULT, BLOCKS, ATTN_LEVEL, ZC, EMBED, N_EMBED = 8, (1, 2), 1, 1, 8, 4, 16


def taming_state() -> dict[str, torch.Tensor]:
    s: dict[str, torch.Tensor] = {}

    def conv(name, c_in, c_out, k):
        s[f"{name}.weight"] = torch.randn(c_out, c_in, k, k) * 0.1
        s[f"{name}.bias"] = torch.randn(c_out) * 0.1

    def norm(name, c):
        s[f"{name}.weight"], s[f"{name}.bias"] = torch.rand(c) + 0.5, torch.randn(c) * 0.1

    def res(name, c_in, c_out):
        norm(f"{name}.norm1", c_in)
        conv(f"{name}.conv1", c_in, c_out, 3)
        norm(f"{name}.norm2", c_out)
        conv(f"{name}.conv2", c_out, c_out, 3)
        if c_in != c_out:
            conv(f"{name}.nin_shortcut", c_in, c_out, 1)

    def attn(name, c):
        norm(f"{name}.norm", c)
        for part in ("q", "k", "v", "proj_out"):
            conv(f"{name}.{part}", c, c, 1)

    def mid(prefix, c):
        res(f"{prefix}.mid.block_1", c, c)
        attn(f"{prefix}.mid.attn_1", c)
        res(f"{prefix}.mid.block_2", c, c)

    conv("encoder.conv_in", 3, CH, 3)
    c = CH
    for i, m in enumerate(MULT):
        for j in range(BLOCKS):
            res(f"encoder.down.{i}.block.{j}", c, CH * m)
            c = CH * m
            if i == ATTN_LEVEL:
                attn(f"encoder.down.{i}.attn.{j}", c)
        if i < len(MULT) - 1:
            conv(f"encoder.down.{i}.downsample.conv", c, c, 3)
    mid("encoder", c)
    norm("encoder.norm_out", c)
    conv("encoder.conv_out", c, ZC, 3)
    conv("decoder.conv_in", ZC, c, 3)
    mid("decoder", c)
    for i in reversed(range(len(MULT))):
        for j in range(BLOCKS + 1):
            res(f"decoder.up.{i}.block.{j}", c, CH * MULT[i])
            c = CH * MULT[i]
            if i == ATTN_LEVEL:
                attn(f"decoder.up.{i}.attn.{j}", c)
        if i > 0:
            conv(f"decoder.up.{i}.upsample.conv", c, c, 3)
    norm("decoder.norm_out", c)
    conv("decoder.conv_out", c, 3, 3)
    conv("quant_conv", ZC, EMBED, 1)
    conv("post_quant_conv", EMBED, ZC, 1)
    s["quantize.embedding.weight"] = torch.randn(N_EMBED, EMBED)
    return s


TRAINING_ONLY = {"loss.logvar": torch.zeros(()),
                 "loss.discriminator.main.0.weight": torch.randn(8, 3, 4, 4),
                 "loss.perceptual_loss.net.slice1.0.weight": torch.randn(8, 3, 3, 3)}
EXPECTED = dict(ch=CH, ch_mult=MULT, num_res_blocks=BLOCKS, attn_resolutions=(128,),
                resolution=256, z_channels=ZC, embed_dim=EMBED, n_embed=N_EMBED,
                in_channels=3, out_channels=3, norm_groups=8)


def test_taming_checkpoint_loads_strict_without_loss_keys(tmp_path):
    state = taming_state()
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {**state, **TRAINING_ONLY}, "global_step": 7}, path)
    loaded, config = load_taming_checkpoint(path)
    assert set(loaded) == set(state) and config == EXPECTED
    model = VQGAN.from_taming(path)  # load_state_dict(strict=True) inside
    own = model.state_dict()
    assert set(own) == set(state)
    assert all(torch.equal(own[k], v) for k, v in state.items())
    recon, _, codes = model(torch.rand(2, 3, 16, 16) * 2 - 1)
    assert recon.shape == (2, 3, 16, 16) and codes.shape == (2, 8, 8)
    # a bare state dict in safetensors loads the same
    save_file(state, str(tmp_path / "vq.safetensors"))
    assert load_taming_checkpoint(tmp_path / "vq.safetensors")[1] == EXPECTED


def test_lightning_callback_classes_load_without_lightning(tmp_path, monkeypatch):
    # Lightning 1.x keys callback states by class: pickle one under Lightning's name
    names = ["pytorch_lightning", "pytorch_lightning.callbacks",
             "pytorch_lightning.callbacks.model_checkpoint"]
    for name in names:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    ModelCheckpoint = type("ModelCheckpoint", (), {"__module__": names[-1]})
    sys.modules[names[-1]].ModelCheckpoint = ModelCheckpoint
    path = tmp_path / "pl.ckpt"
    torch.save({"state_dict": taming_state(),
                "callbacks": {ModelCheckpoint: {"best_model_score": torch.tensor(0.5)}}}, path)
    for name in names:  # loading must not need Lightning
        monkeypatch.delitem(sys.modules, name)
    assert load_taming_checkpoint(path)[1] == EXPECTED


RAN: list[str] = []


def _side_effect(text):
    RAN.append(text)
    return text


class Payload:
    def __reduce__(self):
        return (_side_effect, ("unpickled",))


def test_checkpoint_errors(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": taming_state(), "hparams": Payload()}, path)
    with pytest.raises(CheckpointError, match="never unpickles"):
        load_taming_checkpoint(path)
    assert RAN == []  # the object was refused, not built
    with pytest.raises(CheckpointError, match="not found"):
        load_taming_checkpoint(tmp_path / "missing.ckpt")
    torch.save({"state_dict": {"foo.weight": torch.zeros(2)}}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="encoder.conv_in.weight"):
        load_taming_checkpoint(tmp_path / "other.ckpt")
    state = taming_state()
    del state["decoder.up.0.block.1.conv2.bias"]
    torch.save(state, tmp_path / "partial.ckpt")
    with pytest.raises(CheckpointError, match=r"decoder\.up\.0\.block\.1\.conv2\.bias"):
        VQGAN.from_taming(tmp_path / "partial.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_taming_checkpoint(tmp_path / "junk.ckpt")


# ----- quantiser and nets ---------------------------------------------------------------
def test_quantiser_picks_nearest_code_and_passes_gradients_straight_through():
    vq = VectorQuantizer(3, 2, beta=0.25)
    with torch.no_grad():
        vq.embedding.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]]))
    # three pixels: near code 1, near code 2, near code 0
    z = torch.tensor([[0.9, 0.1], [0.1, 1.5], [-0.2, 0.1]]).t().reshape(1, 2, 1, 3)
    z.requires_grad_(True)
    z_q, loss, idx = vq(z)
    assert idx.tolist() == [[[1, 2, 0]]]
    assert torch.allclose(z_q, torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]).reshape(1, 2, 1, 3))
    # squared errors 0.02 + 0.26 + 0.05 over 6 numbers, times (1 + beta)
    assert loss.item() == pytest.approx(0.33 / 6 * 1.25)
    weights = torch.arange(6.0).reshape(1, 2, 1, 3)
    (z_q * weights).sum().backward()
    assert torch.equal(z.grad, weights)  # straight through: d z_q / d z = identity


@pytest.mark.parametrize("mult,size,attn,latent", [((1, 2), 16, (), 8),
                                                    ((1, 2, 2, 4), 32, (8, 4), 4),
                                                    ((1,), 8, (8,), 8)])
def test_encoder_decoder_shapes(mult, size, attn, latent):
    arch = dict(ch=8, ch_mult=mult, num_res_blocks=1, attn_resolutions=attn, resolution=size,
                z_channels=6, groups=4)
    enc, dec = Encoder(in_channels=1, **arch), Decoder(out_channels=1, **arch)
    z = enc(torch.randn(2, 1, size, size))
    assert z.shape == (2, 6, latent, latent)
    assert dec(z).shape == (2, 1, size, size)
    assert len(enc.down[-1].attn) == (1 if latent in attn else 0)
    assert len(dec.up[0].block) == 2  # num_res_blocks + 1 in the decoder
    assert PatchDiscriminator(1, 8, 2)(torch.randn(2, 1, 16, 16)).shape == (2, 1, 2, 2)


def test_dead_code_revival_changes_exactly_the_dead_codes():
    vq = VectorQuantizer(6, 3)
    before = vq.embedding.weight.detach().clone()
    dead = torch.tensor([False, True, False, False, True, False])
    candidates = torch.randn(10, 3) + 5.0
    revived = vq.revive(dead, candidates)
    after = vq.embedding.weight.detach()
    assert revived.tolist() == [1, 4]
    assert torch.equal(after[~dead], before[~dead])
    for i in (1, 4):  # each now sits on an encoder output
        assert (candidates == after[i]).all(1).any()


# ----- the method through the real engine ---------------------------------------------------
def vqgan_overrides(tmp_path, *extra):
    return tiny(tmp_path, "method.disc_start=1", "method.dead_code_steps=1", *extra,
                method="vqgan")


def test_vqgan_trains_samples_and_reconstructs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))  # the judge is trained here
    cfg = load_config(ROOT / "configs" / "vqgan-shapes.yaml",
                      vqgan_overrides(tmp_path, "train.steps=3", "name=vq",
                                      "method.perceptual_weight=0.1"))
    run_dir = train(cfg, show_progress=False).run_dir
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert "g_loss" not in records[0] and "g_loss" in records[1]  # after disc_start=1
    assert {"rec", "codebook", "perceptual", "perplexity", "code_usage", "revived",
            "d_loss"} <= set(records[-1])
    assert (run_dir / "samples" / "final.png").is_file()
    judge = load_judge(cfg.data, train_if_missing=False, progress=False)
    saved = load_file(find_checkpoint(run_dir) / "weights.safetensors")
    for key, value in judge.net.state_dict().items():  # the judge, frozen, is in the run
        assert torch.equal(saved[f"nets.perceptual.{key}"], value), key
    run = load_run(run_dir)  # the judge comes back from the checkpoint, not the cache
    assert run.sample(3, seed=0).shape == (3, 3, 16, 16)
    code, _, err = run_cli(["reconstruct", run_dir, "--n", "8"], capsys)
    assert code == 0, err
    assert (run_dir / "samples" / "reconstructions.png").is_file()


def test_vqgan_resume_is_exact(tmp_path):
    from genlab.runs.train import build_trainer, resume_config

    base = vqgan_overrides(tmp_path, "train.ckpt_every=2")
    path = ROOT / "configs" / "vqgan-shapes.yaml"
    extra = ["method.perceptual_weight=0"]
    full = train(load_config(path, [*base, *extra, "train.steps=4", "name=full"]),
                 show_progress=False)
    half = train(load_config(path, [*base, *extra, "train.steps=2", "name=half"]),
                 show_progress=False)
    cfg = resume_config(half.run_dir, None, ["train.steps=4"])
    build_trainer(cfg, resume=half.run_dir, show_progress=False).run()
    a, b = (load_file(find_checkpoint(r) / "weights.safetensors")
            for r in (full.run_dir, half.run_dir))
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_config_errors():
    def build(*overrides, classes=0):
        cfg = load_config(None, ["method.name=vqgan", *overrides])
        return build_method(cfg.method, DataInfo(3, 32, num_classes=classes))

    with pytest.raises(ConfigError, match="norm_groups"):
        build("method.norm_groups=7")
    with pytest.raises(ConfigError, match="divisible"):
        build("method.ch_mult=[1,2,2,2,2,2,2]")
    with pytest.raises(ConfigError, match="perceptual_weight"):
        build("method.perceptual_weight=1")
    with pytest.raises(ConfigError, match="not conditional"):
        build().decode(torch.zeros(1, 32, 8, 8), torch.zeros(1))


def test_l2_weight_adds_the_squared_error_to_the_reconstruction_loss():
    cfg = load_config(None, ["method.name=vqgan", "method.ch=8", "method.ch_mult=[1,2]",
                             "method.z_channels=8", "method.embed_dim=4", "method.n_embed=16",
                             "method.norm_groups=4", "method.l2_weight=2.5",
                             "method.dead_code_steps=0"])
    torch.manual_seed(0)
    method = build_method(cfg.method, DataInfo(3, 16))
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        recon = method.ae(x)[0]  # the same forward pass the step makes (no dropout)
    losses = {}

    class Ctx:
        def update(self, name, loss):
            losses[name] = loss.detach()

    logs = method.train_step({"image": x}, Ctx())
    assert torch.allclose(logs["l2"], (recon - x).pow(2).mean(), atol=1e-6)
    expected = logs["rec"] + 2.5 * logs["l2"] + cfg.method.codebook_weight * logs["codebook"]
    assert torch.allclose(losses["ae"], expected, atol=1e-6)
