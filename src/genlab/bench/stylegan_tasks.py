"""What `genlab bench stylegan` trains and measures: its rows (a preset and its overrides on
one of two data configs), the extra measures each row gets, and the quick variant's tiny
settings. Every row trains for the same CPU-minute budget (`--minutes`)."""

from __future__ import annotations

from dataclasses import dataclass

# The two data configs. Every row of one data key trains on exactly this data (the presets'
# data sections are overridden with it), so one judge measures every row of that data.
DATA: dict[str, tuple[str, tuple[str, ...]]] = {
    "fashion": ("Fashion-MNIST padded to 32x32", ("data.name=fashion-mnist", "data.pad=2")),
    "shapes": ("shapes at 64x64", ("data.name=shapes", "data.image_size=64")),
}


@dataclass(frozen=True)
class Row:
    """One trained variant: `key` on data `data` from `preset` with `overrides`. `curve`: FID
    measured during training; `truncation`: the psi sweep; `mixing`: the style-mixing
    measure (shapes)."""

    key: str
    data: str
    preset: str
    overrides: tuple[str, ...] = ()
    curve: bool = False
    truncation: bool = False
    mixing: bool = False

    @property
    def id(self) -> str:
        return f"{self.data}-{self.key}"


ROWS = (
    Row("progan", "fashion", "progan-fashion", curve=True),
    Row("progan-fixed", "fashion", "progan-fashion", ("method.progressive=false",), curve=True),
    Row("dcgan", "fashion", "dcgan", truncation=True),
    Row("cdcgan", "fashion", "cdcgan"),
    Row("stylegan", "fashion", "stylegan-fashion", truncation=True),
    Row("cstylegan", "fashion", "stylegan-fashion", ("method.conditional=true",)),
    Row("stylegan-nomix", "fashion", "stylegan-fashion", ("method.mixing_prob=0",)),
    Row("progan", "shapes", "progan-shapes", curve=True),
    Row("progan-fixed", "shapes", "progan-shapes", ("method.progressive=false",), curve=True),
    Row("stylegan", "shapes", "stylegan-shapes", mixing=True),
)
ROW = {r.id: r for r in ROWS}
# The claims' pairs (a row is compared with its control on the same data).
PROGRESSIVE = {"fashion": ("progan", "progan-fixed"), "shapes": ("progan", "progan-fixed")}
VERSUS_DCGAN = (("stylegan", "dcgan"), ("cstylegan", "cdcgan"))

PSIS = (0.25, 0.5, 0.75, 1.0)  # truncation sweep (StyleGAN in W, DCGAN in z)
CURVE_POINTS = 12  # FID evaluations during training: one every budget / CURVE_POINTS
CURVE_N_MAX = 2000  # generated images per curve point (at most)
MIX_PAIRS = 1000  # (A, B) latent pairs of the style-mixing measure
EVAL_EVERY = 20  # steps between the trainer's asks whether a curve point is due
MEASURES = 1  # bump when a measure changes: every raw row is redone

# --quick: tiny nets, a tiny budget and n, one seed; data small enough for seconds per run.
QUICK_MINUTES, QUICK_N, QUICK_PAIRS, QUICK_EVAL_EVERY = 0.004, 32, 32, 2
QUICK_FASHION = (600, 200)  # Fashion-MNIST's first train / test images (written as IDX)
# Fashion at 12 px + the pad of 2 = 16 px: a side ProGAN and StyleGAN grow to.
QUICK_DATA = {"fashion": ("data.image_size=12",),
              "shapes": ("data.shapes.n_train=64", "data.shapes.n_test=32", "data.image_size=16")}
QUICK_TRAIN = ("train.batch_size=16",)
