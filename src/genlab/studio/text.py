"""Text to image in the studio, with no web code: which runs are CLIPs, VQGANs and text-
conditioned (from their method, through the registry); CLIP + VQGAN in the worker process of
`text_worker` (the calls `genlab text2img` makes, the image sent every few steps); text-
conditioned diffusion through `Studio.sample` (what `genlab sample --prompt` writes). Every
value is checked by `guard` first; nothing is written into a run folder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from genlab.errors import GenlabError
from genlab.methods.clip import CLIP
from genlab.methods.vqgan import VQGAN as VQGANMethod
from genlab.studio.catalog import method_of, runs_of
from genlab.studio.engine import Sampled, SampleRequest, Studio
from genlab.studio.guard import StudioError, check_text, list_runs
from genlab.studio.text_worker import (
    UPDATES,
    Job,
    TextFrame,
    TextRequest,
    Worker,
    last_checkpoint,
)


@dataclass
class TextToImage:
    """The Text to image tab's work over a `Studio`: which runs are CLIPs, VQGANs and text-
    conditioned, CLIP + VQGAN optimisations (in the worker process) and text prompts to
    text-conditioned runs."""

    studio: Studio
    _prompts: dict[tuple[Path, str], bool] = field(default_factory=dict)
    _worker: Worker = field(default_factory=Worker)

    # ----- which runs ----------------------------------------------------------------------
    def runs_of(self, kind: type) -> list[str]:
        return runs_of(self.studio.runs_dir, kind)

    def clip_runs(self) -> list[str]:
        return self.runs_of(CLIP)

    def vqgan_runs(self) -> list[str]:
        return self.runs_of(VQGANMethod)

    def text_runs(self) -> list[str]:
        """Runs that sample with a prompt (SampleForm.prompts): each is loaded once to ask
        its method, and the answer kept until its next checkpoint."""
        names = []
        for name in list_runs(self.studio.runs_dir):
            cls = self._method(name)
            if not cls.generative or cls.translates:
                continue
            key = last_checkpoint(self.studio.run_dir(name))
            if key not in self._prompts:
                try:
                    self._prompts[key] = self.studio.form(name).prompts
                except GenlabError:
                    self._prompts[key] = False  # a run that does not load: not offered
            if self._prompts[key]:
                names.append(name)
        return names

    def _method(self, name: str) -> type:
        return method_of(self.studio.runs_dir, name)

    def _picked(self, name: object, kind: type, what: str, where: str) -> Path:
        """The run folder a picker names, refused unless its method is `kind`."""
        path = self.studio.run_dir(name)
        cls = self._method(str(name))
        if not issubclass(cls, kind):
            made = getattr(cls, "name", "damaged")
            raise StudioError(f"{name} is a {made} run, not a {what} run: pick one from the "
                              f"{where} list")
        return path

    # ----- CLIP + VQGAN ----------------------------------------------------------------------
    def text_to_image(self, request: TextRequest, every: int | None = None, owner: str = ""
                      ) -> Iterator[TextFrame]:
        """Frames while the latent is optimised: the first step's image, then one every
        `every` steps (default: about UPDATES in all), then the final image, which is the PNG
        the frames' `command` writes. Closing the generator, or `stop(owner)`, stops the
        optimisation (then the last frame is not `done`)."""
        req = request.checked()
        clip_dir = self._picked(req.clip, CLIP, "clip", "CLIP")
        vqgan_dir = self._picked(req.vqgan, VQGANMethod, "vqgan", "VQGAN")
        job = Job(req, clip_dir, vqgan_dir, self.studio.device,
                  every or max(1, req.steps // UPDATES),
                  req.command(clip_dir, vqgan_dir, self.studio.device))
        with self.studio.locks.hold(vqgan_dir):
            yield from self._worker.run(job, owner)

    def stop(self, owner: str) -> bool:
        """Stop the optimisation `owner` (a page's session) started; False if none runs."""
        return self._worker.stop(owner)

    def warm(self) -> None:
        """Start the worker process ahead of the first run (when the tab opens)."""
        self._worker.warm()

    def close(self) -> None:
        self._worker.close()

    # ----- text-conditioned diffusion --------------------------------------------------------
    def sample_text(self, run: object, prompt: object, *, seed: object = 0, n: object = 8,
                    steps: object = None, cfg: object = None) -> Sampled:
        """The grid `genlab sample RUN --prompt PROMPT` writes, refused for a run that takes
        no prompt."""
        text = check_text(prompt, "prompt", required=True)
        form = self.studio.form(run)
        if not form.prompts:
            raise StudioError(f"{run} takes no prompt: pick a text-conditioned run from the "
                              "list (a text-ldm run)")
        return self.studio.sample(SampleRequest(run=str(run), seed=seed, n=n, steps=steps,
                                                cfg=cfg, prompt=text))
