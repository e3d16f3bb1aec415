"""Convolutional VAE: encoder to a Gaussian posterior, decoder back to [-1, 1] images.

The latent is either a vector (classic VAE: sampling, interpolation) or a C x h x w map
(the autoencoder that latent diffusion runs in).
"""

from __future__ import annotations

from torch import Tensor, nn


def _widths(width: int, downsamples: int) -> list[int]:
    return [min(width * 2**i, 256) for i in range(downsamples + 1)]


def _act(channels: int) -> list[nn.Module]:
    return [nn.GroupNorm(min(8, channels), channels), nn.SiLU()]


class VAEEncoder(nn.Module):
    """Images [N, C, S, S] -> (mean, log-variance), each [N, z_dim] or [N, zc, S/2^d, S/2^d]."""

    def __init__(self, in_shape: tuple[int, int, int], *, width: int, downsamples: int,
                 latent: str, z_dim: int, z_channels: int) -> None:
        super().__init__()
        c, size, _ = in_shape
        w = _widths(width, downsamples)
        layers: list[nn.Module] = [nn.Conv2d(c, w[0], 3, padding=1), *_act(w[0])]
        for a, b in zip(w[:-1], w[1:], strict=True):
            layers += [nn.Conv2d(a, b, 4, stride=2, padding=1), *_act(b)]
        self.body = nn.Sequential(*layers)
        side = size // 2**downsamples
        self.head: nn.Module = (nn.Conv2d(w[-1], 2 * z_channels, 1) if latent == "spatial" else
                                nn.Sequential(nn.Flatten(), nn.Linear(w[-1] * side * side,
                                                                      2 * z_dim)))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.head(self.body(x)).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)


class VAEDecoder(nn.Module):
    """Latents -> images in [-1, 1] (tanh)."""

    def __init__(self, out_shape: tuple[int, int, int], *, width: int, downsamples: int,
                 latent: str, z_dim: int, z_channels: int) -> None:
        super().__init__()
        c, size, _ = out_shape
        w = _widths(width, downsamples)[::-1]
        side = size // 2**downsamples
        self.head: nn.Module = (nn.Conv2d(z_channels, w[0], 1) if latent == "spatial" else
                                nn.Sequential(nn.Linear(z_dim, w[0] * side * side),
                                              nn.Unflatten(1, (w[0], side, side))))
        layers: list[nn.Module] = [*_act(w[0])]
        for a, b in zip(w[:-1], w[1:], strict=True):
            layers += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1), *_act(b)]
        layers += [nn.Conv2d(w[-1], c, 3, padding=1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.head(z))
