"""What `genlab bench image2image` trains: the tasks, their presets, variants and steps, and the
quick variant's tiny data. Steps are fixed (not a time budget), so a rerun anywhere trains
the same runs; they were set from steps/s measured on a 2-core CPU (1 thread per run,
CPU-seconds per step: pix2pix-edges 0.02 with its GAN and 0.006 without, pix2pix-shapes 0.03,
cyclegan 0.06-0.07, srgan 0.05 as SRResNet and 0.13 adversarially) to fit BUDGET_MINUTES
with two runs side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BUDGET_MINUTES = 45  # wall minutes of the whole full benchmark, 2 runs side by side on 2 cores
EVAL_N = 1000  # test examples per evaluation (full); --quick uses QUICK_N
QUICK_N, QUICK_STEPS = 32, 4
# --quick: a Fashion-MNIST subset written to the scratch folder (train, test images)
QUICK_FASHION = (600, 200)
QUICK_SHAPES = ["data.shapes.n_train=64", "data.shapes.n_test=32", "data.image_size=16"]


@dataclass(frozen=True)
class Task:
    """One image-to-image task: a preset, its variants (extra overrides) and its steps."""

    key: str
    preset: str
    steps: int
    variants: dict[str, tuple[str, ...]]
    overrides: tuple[str, ...] = ()
    quick: tuple[str, ...] = field(default=())  # extra overrides of --quick


TASKS = (
    Task("edges", "pix2pix-edges", 3000, {"l1+gan": (), "l1": ("method.gan_weight=0",),
                                         "gan": ("method.l1_weight=0",)}),
    Task("labels", "pix2pix-shapes", 1600, {"l1+gan": ()}, ("data.pairs=labels",)),
    Task("grey", "pix2pix-shapes", 1600, {"l1+gan": ()}, ("data.pairs=grey",)),
    Task("cycle-shapes", "cyclegan-shapes", 1200,
         {"full": (), "no-cycle": ("method.cycle_weight=0",),
          "no-identity": ("method.identity_weight=0",)}),
    Task("cycle-fashion", "cyclegan-fashion", 1600, {"full": ()}),
    # srresnet first: the srgan variants start from the same seed's srresnet run (init_from).
    # srresnet-more continues the SRResNet on MSE for as many steps: the fair control.
    # srgan-mse (the paper's SRGAN-MSE: pixel content + adversarial) isolates the GAN's part:
    # srgan's judge-feature content loss trains on the features its FID is measured in.
    Task("sr", "srgan-fashion", 1200,
         {"srresnet": ("method.adv_weight=0", "method.content=pixel"),
          "srgan": ("method.pretrain_steps=0",),
          "srgan-mse": ("method.pretrain_steps=0", "method.content=pixel"),
          # the control with as many steps as the srgan variants: MSE alone, continued
          "srresnet-more": ("method.adv_weight=0", "method.content=pixel")},
         quick=("method.content=pixel",)),
)


Job = tuple[str, str, int]  # task key, variant, seed


def starts_from_srresnet(job: Job) -> bool:
    """SRGAN variants (and the SRResNet trained as long) begin from their seed's trained
    SRResNet, as in the paper."""
    return job[0] == "sr" and job[1] in ("srgan", "srgan-mse", "srresnet-more")


def slug(variant: str) -> str:
    return variant.replace("+", "-")
