"""VAE: losses by hand, latent shapes, sampling, evaluation and reconstructions."""

import math

import torch

from conftest import ROOT, run_cli, tiny
from genlab import train
from genlab.losses import epsilon_loss, gaussian_kl, reconstruction_loss
from genlab.methods.base import DataInfo
from genlab.methods.vae import VAE
from genlab.runs.config import load_config
from genlab.runs.load import load_run


def test_kl_and_reconstruction_by_hand():
    mean = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)]])
    # 0.5 (mu^2 + var - 1 - log var) per dimension: 0.5 * 1 + 0.5 * (2 - 1 - ln 2)
    assert torch.allclose(gaussian_kl(mean, logvar), torch.tensor([1.0 - 0.5 * math.log(2.0)]))
    a, b = torch.zeros(2, 1, 2, 2), torch.tensor([0.5, -1.0]).view(2, 1, 1, 1).expand(2, 1, 2, 2)
    assert torch.allclose(reconstruction_loss("mse", a, b), torch.tensor([1.0, 4.0]))
    assert torch.allclose(reconstruction_loss("l1", a, b), torch.tensor([2.0, 4.0]))
    assert epsilon_loss(torch.ones(3), torch.zeros(3)).item() == 1.0


def test_vector_and_spatial_latents():
    info = DataInfo(1, 28)
    vector = VAE(load_config(None, ["method.name=vae", "method.z_dim=12"]).method, info)
    z = vector.sample_latents(5)
    assert z.shape == (5, 12) and vector.decode(z).shape == (5, 1, 28, 28)
    spatial = VAE(load_config(None, ["method.name=vae", "method.latent=spatial",
                                     "method.downsamples=1", "method.z_channels=4"]).method, info)
    mean, logvar = spatial.encode(torch.zeros(2, 1, 28, 28))
    assert mean.shape == logvar.shape == (2, 4, 14, 14)
    assert spatial.reconstruct(torch.zeros(2, 1, 28, 28)).shape == (2, 1, 28, 28)


def test_vae_trains_samples_evaluates_and_reconstructs(tmp_path, capsys):
    cfg = load_config(ROOT / "configs" / "vae.yaml",
                      tiny(tmp_path, "data.name=shapes", "train.steps=4", "name=vae",
                           method="vae"))
    run_dir = train(cfg, show_progress=False).run_dir
    records = (run_dir / "metrics.jsonl").read_text()
    assert '"kl"' in records and '"recon"' in records
    run = load_run(run_dir)
    assert run.sample(3, seed=0, truncation=0.5).shape == (3, 3, 16, 16)
    code, out, err = run_cli(["reconstruct", run_dir, "--n", "8"], capsys)
    assert code == 0, err
    assert (run_dir / "samples" / "reconstructions.png").is_file()
    code, out, err = run_cli(["interpolate", run_dir, "--steps", "3", "--rows", "2",
                              "--slerp"], capsys)
    assert code == 0, err
