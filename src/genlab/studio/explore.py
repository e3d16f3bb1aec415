"""The Explore tab's work, with no web code: a walk between latents (`genlab interpolate`) and
noise steered toward a class by the judge's gradient (`genlab control`), each by the function
its command calls, writing only into the studio's scratch folder.

Steering needs the judge of the run's data. `genlab control` trains a missing one first; the
studio does the same only when that takes seconds (JUDGE_QUICK), and otherwise refuses with
the command that trains it, so a click never starts minutes of silent work."""

from __future__ import annotations

import json
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from genlab.studio.engine import SampleForm
from genlab.studio.guard import SEED_MAX, StudioError, check_int, check_text

if TYPE_CHECKING:
    from genlab.data.config import DataConfig
    from genlab.runs.load import LoadedRun
    from genlab.studio.engine import Studio

FRAMES_MAX, ROWS_MAX = 32, 8  # an interpolation's frames per row and rows
CONTROL_N_MAX, CONTROL_STEPS_MAX, RESTARTS_MAX = 16, 200, 4  # one steering click
COLUMNS = 8  # images per row of the grid `genlab control` writes
# train images x epochs x pixels of a judge the page may train (about 15 s on 2 CPU cores;
# the tests' 16 px shapes: 0.2 M; the full 16 px shapes set, 46 s: 15 M)
JUDGE_QUICK = 5_000_000


def interpolate(studio: Studio, name: object, *, seed: object = 0, steps: object = 16,
                rows: object = 4, spherical: bool = False) -> tuple[Path, Path, str]:
    """`genlab interpolate` into the studio's scratch folder: the grid, the GIF and the
    command that writes the same files."""
    from genlab.generate.interpolate import interpolate as walk

    seed = check_int(seed, "seed", 0, SEED_MAX)
    steps = check_int(steps, "frames", 2, FRAMES_MAX)
    rows = check_int(rows, "rows", 1, ROWS_MAX)
    run = studio.loaded(name)
    form = SampleForm.of(run)
    if not form.samples:
        raise StudioError(form.why_not)
    out = Path(tempfile.mkdtemp(dir=studio.scratch))
    with studio.locks.hold(run.path):
        png, gif = walk(run, out, steps=steps, rows=rows, seed=seed, spherical=bool(spherical))
    command = ["genlab", "interpolate", str(run.path), "--steps", str(steps), "--rows",
               str(rows), "--seed", str(seed), *(["--slerp"] if spherical else [])]
    return png, gif, shlex.join(command)


@dataclass(frozen=True)
class ControlForm:
    """Whether a run's noise can be steered, read from its method as `genlab control` needs
    it: it samples from noise, is not conditioned on classes (those take a class directly)
    and takes no sampling options (diffusion runs are steered while sampling), and its data
    has classes to steer toward."""

    steers: bool
    why_not: str
    classes: tuple[str, ...] = ()

    @classmethod
    def of(cls, run: LoadedRun) -> ControlForm:
        name, sample = run.path.name, SampleForm.of(run)
        if not sample.samples:
            return cls(False, sample.why_not)
        if run.conditional:
            return cls(False, f"{name} is conditioned on classes: ask for one in the Sample "
                              "tab (genlab sample --label) instead of steering its noise")
        if sample.options is not None:
            return cls(False, f"{name} is steered while sampling: use the Sample tab's guide "
                              "judge:CLASS (genlab sample --guide judge:CLASS)")
        if len(run.info.class_names) < 2:
            return cls(False, f"{name}'s data has no classes to steer toward")
        return cls(True, "", tuple(run.info.class_names))


@dataclass(frozen=True)
class ControlRequest:
    """What the steering section asks for, as `genlab control` takes it."""

    run: str
    target: str
    n: int = 8
    steps: int = 50
    restarts: int = 2
    seed: int = 0

    def checked(self) -> ControlRequest:
        return ControlRequest(
            run=self.run, target=check_text(self.target, "target class", required=True) or "",
            n=check_int(self.n, "number of images", 1, CONTROL_N_MAX),
            steps=check_int(self.steps, "steps", 1, CONTROL_STEPS_MAX),
            restarts=check_int(self.restarts, "restarts", 0, RESTARTS_MAX),
            seed=check_int(self.seed, "seed", 0, SEED_MAX))

    def command(self, run_dir: Path) -> str:
        return shlex.join(["genlab", "control", str(run_dir), "--target", self.target,
                           "--steps", str(self.steps), "--n", str(self.n), "--restarts",
                           str(self.restarts), "--seed", str(self.seed)])


@dataclass
class Controlled:
    """Before and after grids, the judge's mean probability of the target on each, the
    command, and the file it writes (before rows over after rows), made here in scratch."""

    before: Image.Image
    after: Image.Image
    prob_before: float
    prob_after: float
    command: str
    path: Path


def judge_command(data: DataConfig) -> str:
    """`genlab judge train` for exactly this data (every option that is not the default)."""
    from genlab.data.config import DataConfig

    ours, default = data.plain().model_dump(mode="json"), DataConfig().model_dump(mode="json")
    args = ["genlab", "judge", "train", "--data", data.name]

    def differ(mine: dict, theirs: dict, prefix: str) -> None:
        for key, value in mine.items():
            if isinstance(value, dict):
                differ(value, theirs.get(key) or {}, f"{prefix}{key}.")
            elif key != "name" and value != theirs.get(key):
                text = value if isinstance(value, str) else json.dumps(value)
                args.extend(["--set", f"data.{prefix}{key}={text}"])

    differ(ours, default, "")
    return shlex.join(args)


def prepare_control(studio: Studio, request: ControlRequest) -> tuple[ControlRequest, str]:
    """The checked request and a note for the page ("" when the judge is ready; what is
    trained first when a missing judge is quick to train). A run that cannot be steered, a
    class it lacks, or a judge that takes long to train is a one-line StudioError."""
    from genlab.errors import EvalError
    from genlab.metrics.judge import DEFAULT_EPOCHS, load_judge

    request = request.checked()
    run = studio.loaded(request.run)
    form = ControlForm.of(run)
    if not form.steers:
        raise StudioError(form.why_not)
    if request.target not in form.classes:
        raise StudioError(f"target class {request.target!r}: pick one of "
                          f"{', '.join(form.classes)}")
    try:
        load_judge(run.cfg.data, train_if_missing=False, progress=False)
        return request, ""
    except EvalError:
        pass  # none cached or shipped: how long would `genlab control` train one?
    train = run.cfg.data.plain().load("train")
    epochs = DEFAULT_EPOCHS.get(train.name, 0)
    work = len(train) * epochs * train.images.shape[-1] * train.images.shape[-2]
    if not epochs or work > JUDGE_QUICK:
        raise StudioError(f"no judge for {train.name} at {train.image_size}px yet, and "
                          f"training one takes minutes: run `{judge_command(run.cfg.data)}` "
                          "once, then steer here")
    return request, (f"training the judge of {train.name} first ({len(train):,} images, "
                     f"{epochs} epochs, as `genlab control` does)...")


def control(studio: Studio, request: ControlRequest) -> Controlled:
    """`genlab control` with its output in scratch (call prepare_control first: this trains a
    missing judge whatever it costs, as the command does)."""
    from genlab.evaluation.control import control_run
    from genlab.images import grid_image

    run = studio.loaded(request.run)
    out = Path(tempfile.mkdtemp(dir=studio.scratch)) / "control.png"
    with studio.locks.hold(run.path):
        result, path = control_run(run.path, request.target, steps=request.steps, n=request.n,
                                   restarts=request.restarts, seed=request.seed, out=out)
    return Controlled(grid_image(result.before, nrow=COLUMNS),
                      grid_image(result.after, nrow=COLUMNS), result.prob_before,
                      result.prob_after, request.command(run.path), path)
