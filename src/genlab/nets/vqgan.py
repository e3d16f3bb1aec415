"""VQGAN autoencoder (Esser et al. 2021): conv encoder, vector quantiser, conv decoder.

Module names follow taming-transformers exactly (`encoder.down.{i}.block.{j}.conv1`,
`quantize.embedding.weight`, ...), so its public checkpoints load by key with strict=True
(`VQGAN.from_taming`). Attention sits at the feature-map sides listed in `attn_resolutions`,
counted from `resolution` (the image side) halving at each level, as in taming.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(groups, channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    """norm-swish-conv twice plus a skip (a 1x1 `nin_shortcut` when the width changes)."""

    def __init__(self, c_in: int, c_out: int, groups: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = _norm(c_in, groups)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = _norm(c_out, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        if c_in != c_out:
            self.nin_shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        skip = self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x
        return skip + h


class AttnBlock(nn.Module):
    """Single-head self-attention over pixels with 1x1 conv projections, plus a skip."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm = _norm(channels, groups)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(channels, channels, 1)
                                                 for _ in range(4))

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        y = self.norm(x)
        q, k, v = (f(y).reshape(n, 1, c, h * w).transpose(2, 3) for f in (self.q, self.k, self.v))
        out = F.scaled_dot_product_attention(q, k, v)  # scale 1/sqrt(c), as taming
        return x + self.proj_out(out.transpose(2, 3).reshape(n, c, h, w))


class Downsample(nn.Module):
    """Pad right and bottom by one, then a 3x3 stride-2 conv (taming's asymmetric padding)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest-neighbour x2, then a 3x3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _level(blocks: list[nn.Module], attns: list[nn.Module]) -> nn.Module:
    level = nn.Module()
    level.block = nn.ModuleList(blocks)
    level.attn = nn.ModuleList(attns)
    return level


def _mid(channels: int, groups: int, dropout: float) -> nn.Module:
    mid = nn.Module()
    mid.block_1 = ResnetBlock(channels, channels, groups, dropout)
    mid.attn_1 = AttnBlock(channels, groups)
    mid.block_2 = ResnetBlock(channels, channels, groups, dropout)
    return mid


def _run_mid(mid: nn.Module, h: Tensor) -> Tensor:
    return mid.block_2(mid.attn_1(mid.block_1(h)))


def _run_level(level: nn.Module, h: Tensor) -> Tensor:
    for i, block in enumerate(level.block):
        h = block(h)
        if len(level.attn):
            h = level.attn[i](h)
    return h


class Encoder(nn.Module):
    """Images [N, C, S, S] -> [N, z_channels, S / 2^(levels-1), same]."""

    def __init__(self, *, in_channels: int, ch: int, ch_mult: tuple[int, ...],
                 num_res_blocks: int, attn_resolutions: tuple[int, ...], resolution: int,
                 z_channels: int, groups: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, ch, 3, padding=1)
        self.down = nn.ModuleList()
        c_in, res = ch, resolution
        for i, mult in enumerate(ch_mult):
            blocks, attns = [], []
            for _ in range(num_res_blocks):
                blocks.append(ResnetBlock(c_in, ch * mult, groups, dropout))
                c_in = ch * mult
                if res in attn_resolutions:
                    attns.append(AttnBlock(c_in, groups))
            level = _level(blocks, attns)
            if i != len(ch_mult) - 1:
                level.downsample = Downsample(c_in)
                res //= 2
            self.down.append(level)
        self.mid = _mid(c_in, groups, dropout)
        self.norm_out = _norm(c_in, groups)
        self.conv_out = nn.Conv2d(c_in, z_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_in(x)
        for level in self.down:
            h = _run_level(level, h)
            if hasattr(level, "downsample"):
                h = level.downsample(h)
        h = _run_mid(self.mid, h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """Latents [N, z_channels, s, s] -> images [N, C, s * 2^(levels-1), same] (no tanh, as
    taming: outputs are trained toward [-1, 1])."""

    def __init__(self, *, out_channels: int, ch: int, ch_mult: tuple[int, ...],
                 num_res_blocks: int, attn_resolutions: tuple[int, ...], resolution: int,
                 z_channels: int, groups: int, dropout: float = 0.0) -> None:
        super().__init__()
        c_in = ch * ch_mult[-1]
        res = resolution // 2 ** (len(ch_mult) - 1)
        self.conv_in = nn.Conv2d(z_channels, c_in, 3, padding=1)
        self.mid = _mid(c_in, groups, dropout)
        levels: list[nn.Module] = []
        for i in reversed(range(len(ch_mult))):
            blocks, attns = [], []
            for _ in range(num_res_blocks + 1):
                blocks.append(ResnetBlock(c_in, ch * ch_mult[i], groups, dropout))
                c_in = ch * ch_mult[i]
                if res in attn_resolutions:
                    attns.append(AttnBlock(c_in, groups))
            level = _level(blocks, attns)
            if i != 0:
                level.upsample = Upsample(c_in)
                res *= 2
            levels.insert(0, level)  # up[0] is the full-resolution level, as in taming
        self.up = nn.ModuleList(levels)
        self.norm_out = _norm(c_in, groups)
        self.conv_out = nn.Conv2d(c_in, out_channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        h = _run_mid(self.mid, self.conv_in(z))
        for level in reversed(self.up):
            h = _run_level(level, h)
            if hasattr(level, "upsample"):
                h = level.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class VectorQuantizer(nn.Module):
    """Nearest-code quantisation (van den Oord et al. 2017) with a straight-through gradient.

    loss = ||sg[z] - e||^2 (moves codes) + beta * ||z - sg[e]||^2 (commits the encoder).
    """

    def __init__(self, n_embed: int, embed_dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.n_embed, self.embed_dim, self.beta = n_embed, embed_dim, beta
        self.embedding = nn.Embedding(n_embed, embed_dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / n_embed, 1.0 / n_embed)

    def nearest(self, z: Tensor) -> Tensor:
        """Code indices [N, h, w] nearest (L2) to each pixel of z [N, embed_dim, h, w]."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, self.embed_dim)
        # fp32 even under autocast: bf16 distances pick wrong codes among close ones.
        with torch.autocast(z.device.type, enabled=False):
            flat, codes = flat.float(), self.embedding.weight.float()
            dist = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codes.t()
                    + codes.pow(2).sum(1)[None])
        return dist.argmin(1).view(z.shape[0], z.shape[2], z.shape[3])

    def embed(self, indices: Tensor) -> Tensor:
        """Code indices [N, h, w] -> their vectors [N, embed_dim, h, w]."""
        return self.embedding(indices).permute(0, 3, 1, 2)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """z [N, embed_dim, h, w] -> (z_q with straight-through grad, loss, indices [N, h, w])."""
        indices = self.nearest(z)
        z_q = self.embed(indices).to(z.dtype)
        zf, qf = z.float(), z_q.float()
        loss = (qf - zf.detach()).pow(2).mean() + self.beta * (zf - qf.detach()).pow(2).mean()
        return z + (z_q - z).detach(), loss, indices

    @torch.no_grad()
    def revive(self, dead: Tensor, candidates: Tensor) -> Tensor:
        """Move the codes where `dead` [n_embed] is True onto randomly chosen rows of
        `candidates` [M, embed_dim] (encoder outputs), where the data is; returns their indices.
        """
        idx = dead.nonzero().flatten()
        pick = torch.randint(len(candidates), (len(idx),), device=candidates.device)
        self.embedding.weight[idx] = candidates[pick].to(self.embedding.weight.dtype)
        return idx


class VQGAN(nn.Module):
    """Encoder -> quant_conv -> quantise -> post_quant_conv -> decoder. Defaults are the public
    `vqgan_imagenet_f16_16384` model."""

    def __init__(self, *, ch: int = 128, ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4),
                 num_res_blocks: int = 2, attn_resolutions: tuple[int, ...] = (16,),
                 resolution: int = 256, z_channels: int = 256, embed_dim: int = 256,
                 n_embed: int = 16384, in_channels: int = 3, out_channels: int = 3,
                 norm_groups: int = 32, dropout: float = 0.0, beta: float = 0.25) -> None:
        super().__init__()
        arch: dict[str, Any] = dict(ch=ch, ch_mult=tuple(ch_mult), num_res_blocks=num_res_blocks,
                                    attn_resolutions=tuple(attn_resolutions),
                                    resolution=resolution, z_channels=z_channels,
                                    groups=norm_groups, dropout=dropout)
        self.encoder = Encoder(in_channels=in_channels, **arch)
        self.decoder = Decoder(out_channels=out_channels, **arch)
        self.quant_conv = nn.Conv2d(z_channels, embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, z_channels, 1)
        self.quantize = VectorQuantizer(n_embed, embed_dim, beta)
        self.factor = 2 ** (len(ch_mult) - 1)  # image side / latent side
        self.resolution = resolution  # the training image side: text2img's default size

    @property
    def last_layer(self) -> Tensor:
        """The decoder's output weight (taming's adaptive GAN weight compares gradients here)."""
        return self.decoder.conv_out.weight

    def encode_continuous(self, x: Tensor) -> Tensor:
        """Images in [-1, 1] -> unquantised latents [N, embed_dim, h, w]."""
        return self.quant_conv(self.encoder(x))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Images in [-1, 1] -> (z_q, codebook loss, code indices [N, h, w])."""
        return self.quantize(self.encode_continuous(x))

    def decode(self, z_q: Tensor) -> Tensor:
        """Quantised latents [N, embed_dim, h, w] -> images (about [-1, 1])."""
        return self.decoder(self.post_quant_conv(z_q))

    def decode_indices(self, indices: Tensor) -> Tensor:
        """Code indices [N, h, w] -> images."""
        return self.decode(self.quantize.embed(indices))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Images -> (reconstructions, codebook loss, code indices)."""
        z_q, loss, indices = self.encode(x)
        return self.decode(z_q), loss, indices

    @classmethod
    def from_taming(cls, path: str | Path, **overrides: Any) -> VQGAN:
        """A taming-transformers checkpoint (.ckpt or .safetensors), architecture inferred from
        its tensor shapes (`overrides` fix what shapes cannot tell, e.g. norm_groups)."""
        from genlab.nets.taming import load_into, load_taming_checkpoint

        state, config = load_taming_checkpoint(path)
        model = cls(**{**config, **overrides})
        load_into(model, state, path)
        return model
