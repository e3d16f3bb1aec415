"""Does `genlab edit` change the selected object as asked, and only it?

    python benchmarks/edit_shapes.py --diffusion runs/ddpm-shapes-scenes --clip runs/clip-shapes \
        [--n 20] [--guide-scale 100] [--cfg 3] [--out docs/results]

Each of n seeded 32 x 32 scenes holds two large objects in cells that do not touch (A, B). The
edit selects A by its caption ("the red circle") and asks for another shape in another colour
("a blue square"), with the class the prompt names as the label of a conditional DDPM ("blue
square" for a shape_colour model such as configs/ddpm-shapes-scenes.yaml, "square" for a shape
model: `genlab edit`'s default) and the prompt as CLIP guidance. The analytic shapes reader
then reads:

- selection: the mask covers at least 90% of A's pixels and none of B's;
- the edit: the redrawn pixels alone (all else black) read as the asked shape / colour;
- the rest: every pixel outside the mask equals the input (bit for bit), and B still reads as B.

Writes edit-shapes.md (table, command, machine) and edit-shapes.png (input | mask | output rows)
under --out. Times are CPU seconds of this process per edit.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
from pathlib import Path

import torch

from genlab.data.shapes import COLOURS, POSITIONS, SHAPES, describe_object, render_shapes
from genlab.generate.clip_models import load_clip
from genlab.generate.defaults import CLIP_GUIDE_SCALE
from genlab.generate.text_edit import text_edit
from genlab.images import save_grid
from genlab.metrics.shapes_reader import read_shapes
from genlab.runs.load import load_run

LARGE = 1


def far_apart(a: int, b: int) -> bool:
    """Cells of the 3 x 3 grid that share no edge or corner."""
    return max(abs(a // 3 - b // 3), abs(a % 3 - b % 3)) >= 2


def scene(i: int) -> dict:
    gen = torch.Generator().manual_seed(1000 + i)

    def pick(n: int, avoid: tuple[int, ...] = ()) -> int:
        return next(v for v in torch.randperm(n, generator=gen).tolist() if v not in avoid)

    pos_a = pick(len(POSITIONS), (4,))  # the centre touches every cell
    pos_b = next(p for p in torch.randperm(9, generator=gen).tolist() if far_apart(pos_a, p))
    shape_a, colour_a = pick(len(SHAPES)), pick(len(COLOURS))
    shape_b, colour_b = pick(len(SHAPES)), pick(len(COLOURS), (colour_a,))
    new_shape, new_colour = pick(len(SHAPES), (shape_a,)), pick(len(COLOURS), (colour_a, colour_b))
    image, masks = render_shapes(torch.tensor([[shape_a, shape_b]]),
                                 torch.tensor([[colour_a, colour_b]]),
                                 torch.tensor([[LARGE, LARGE]]), torch.tensor([[pos_a, pos_b]]))
    return {"image": image[0], "mask_a": masks[0, 0], "mask_b": masks[0, 1],
            "select": "the" + describe_object(shape_a, colour_a, -1, -1)[1:],
            "prompt": describe_object(new_shape, new_colour, -1, -1),
            "b": (shape_b, colour_b), "new": (new_shape, new_colour)}


def read_one(image: torch.Tensor, keep: torch.Tensor) -> tuple[int, int]:
    """(shape, colour) the reader sees in `image` with pixels outside `keep` blacked out."""
    attrs = read_shapes((image * keep).unsqueeze(0))
    return int(attrs["shape"][0]), int(attrs["colour"][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diffusion", type=Path, default=Path("runs/ddpm-shapes-scenes"))
    parser.add_argument("--clip", type=Path, default=Path("runs/clip-shapes"))
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--guide-scale", type=float, default=CLIP_GUIDE_SCALE)
    parser.add_argument("--cfg", type=float, default=3.0)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--jumps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    run = load_run(args.diffusion)
    options = dataclasses.replace(run.method.default_sampling(), cfg=args.cfg)
    clip = load_clip(args.clip)
    counts = dict.fromkeys(("selected", "shape", "colour", "both", "outside", "b_kept"), 0)
    rows, seconds = [], 0.0
    for i in range(args.n):
        s = scene(i)
        t0 = time.process_time()
        edit = text_edit(run, clip, s["image"], select=s["select"], prompt=s["prompt"],
                         guide_scale=args.guide_scale,
                         steps=args.steps, jumps=args.jumps, seed=i, options=options)
        seconds += time.process_time() - t0
        mask = edit.mask
        covered = (mask & s["mask_a"]).sum() / s["mask_a"].sum()
        selected = bool(covered >= 0.9 and not (mask & s["mask_b"]).any())
        shape, colour = read_one(edit.image, mask)
        outside = bool(torch.equal(edit.image[:, ~mask], s["image"][:, ~mask]))
        b_kept = read_one(edit.image, ~mask) == s["b"]
        hits = {"selected": selected, "shape": shape == s["new"][0],
                "colour": colour == s["new"][1], "outside": outside, "b_kept": b_kept}
        hits["both"] = hits["shape"] and hits["colour"]
        for key, hit in hits.items():
            counts[key] += int(hit)
        read = describe_object(shape, colour, -1, -1) if shape >= 0 else "nothing"
        print(f"{i}: {s['select']!r} -> {s['prompt']!r}: read {read}; "
              + " ".join(f"{k}={int(v)}" for k, v in hits.items()), flush=True)
        rows += [s["image"], mask.expand(3, -1, -1).to(torch.uint8) * 255, edit.image]
    write_page(args, counts, seconds, rows)


def write_page(args: argparse.Namespace, counts: dict[str, int], seconds: float,
               rows: list[torch.Tensor]) -> None:
    n = args.n
    args.out.mkdir(parents=True, exist_ok=True)
    save_grid(torch.stack(rows), args.out / "edit-shapes.png", nrow=6, upscale=2)
    names = {"selected": "mask covers A (>= 90%) and none of B", "shape": "redrawn region reads "
             "as the asked shape", "colour": "redrawn region reads as the asked colour",
             "both": "shape and colour both right", "outside": "every pixel outside the mask "
             "bit-identical", "b_kept": "the other object still reads as itself"}
    lines = [
        "# Text-driven editing on two-object shapes scenes",
        "",
        f"`genlab edit` on {n} seeded 32 x 32 scenes (two large objects in cells that do not "
        "touch): select object A by its caption, ask for another shape in another colour. "
        f"Diffusion: `{args.diffusion}` (conditional; the asked object is its label, "
        f"CFG {args.cfg:g}); CLIP: `{args.clip}` (mask by occlusion, guidance scale "
        f"{args.guide_scale:g}); RePaint {args.steps} steps, {args.jumps} jumps. "
        "Judged by the analytic shapes reader on the redrawn pixels alone. Chance (a random "
        f"object): shape 1/{len(SHAPES)}, colour 1/{len(COLOURS)}.",
        "",
        "| check | rate |",
        "|---|---|",
        *(f"| {names[k]} | {counts[k]}/{n} ({counts[k] / n:.0%}) |" for k in names),
        "",
        f"CPU seconds per edit: {seconds / n:.1f} ({torch.get_num_threads()} thread(s), "
        f"{platform.processor() or platform.machine()}).",
        "",
        "![input, mask, output per scene, two scenes per row](edit-shapes.png)",
        "",
        "Command: `python " + " ".join(sys.argv) + "`",
        "",
    ]
    (args.out / "edit-shapes.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
