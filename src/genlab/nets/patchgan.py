"""PatchGAN discriminator (pix2pix, Isola et al. 2017; taming's `NLayerDiscriminator`): a
conv net whose output is a map of logits, one per overlapping image patch."""

from __future__ import annotations

from torch import Tensor, nn

PATCH_NORMS = ("batch", "instance", "none")


class PatchDiscriminator(nn.Module):
    """4x4 convs: `n_layers` of stride 2 (width doubling, capped at 8x), one of stride 1, then a
    1-channel logit map. Images of side S give logits of side S / 2^n_layers - 2; n_layers 3
    sees 70x70 patches (pix2pix, CycleGAN)."""

    def __init__(self, in_channels: int = 3, width: int = 64, n_layers: int = 3,
                 norm: str = "batch") -> None:
        super().__init__()
        if norm not in PATCH_NORMS:
            raise ValueError(f"unknown norm {norm!r}; valid: {', '.join(PATCH_NORMS)}")
        use_bias = norm != "batch"  # batch norm supplies the shift

        def stage(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, stride, 1, bias=use_bias)]
            if norm == "batch":
                layers.append(nn.BatchNorm2d(c_out))
            elif norm == "instance":  # CycleGAN's: no affine parameters, no running stats
                layers.append(nn.InstanceNorm2d(c_out))
            return [*layers, nn.LeakyReLU(0.2, True)]

        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            layers += stage(width * prev, width * mult, 2 if n < n_layers else 1)
        layers.append(nn.Conv2d(width * mult, 1, 4, 1, 1))
        self.main = nn.Sequential(*layers)
        self.apply(pix2pix_init)

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x)

    @staticmethod
    def output_side(image_side: int, n_layers: int) -> int:
        return image_side // 2**n_layers - 2


def pix2pix_init(m: nn.Module) -> None:
    """pix2pix initialisation: N(0, 0.02) convs, N(1, 0.02) batch-norm scales."""
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)
