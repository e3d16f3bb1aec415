"""genlab export: the exported folder's own pipeline makes the images `genlab sample` makes."""

import ast
import json

import pytest
import torch
from diffusers import DDPMScheduler, DiffusionPipeline, DPMSolverMultistepScheduler
from diffusers.utils import dynamic_modules_utils

from conftest import ROOT, run_cli, tiny
from genlab import train
from genlab.generate.guidance import sampling_options
from genlab.runs.config import load_config
from genlab.runs.load import load_run, load_unet_folder
from genlab.sampling import make_scheduler, sample_loop

ATOL = 1e-5  # float32 arithmetic in another order
EPSILON = ["method.prediction_type=epsilon", "method.beta_schedule=linear"]


def _train(out, *extra):
    cfg = load_config(ROOT / "configs" / "ddpm-shapes.yaml",
                      tiny(out, "data.shapes.label=shape", "train.steps=2", *extra,
                           method="ddpm"))
    return train(cfg, show_progress=False).run_dir


@pytest.fixture(scope="module")
def v_run(tmp_path_factory):
    """The preset's recipe, tiny: 3 classes, v-prediction, cosine schedule, DDIM + CFG 3."""
    return _train(tmp_path_factory.mktemp("v"), "name=v")


@pytest.fixture(scope="module")
def eps_run(tmp_path_factory):
    """3 classes, the noise predicted on the linear schedule."""
    return _train(tmp_path_factory.mktemp("eps"), "name=eps", *EPSILON)


@pytest.fixture(scope="module")
def unconditional_run(tmp_path_factory):
    """No classes, the noise predicted, DDPM as the run's sampler."""
    return _train(tmp_path_factory.mktemp("uncond"), "name=uncond", "method.conditional=false",
                  "method.sampler=ddpm", "method.sample_steps=3", *EPSILON)


@pytest.fixture(autouse=True)
def _module_cache(tmp_path_factory, monkeypatch):
    """diffusers copies a folder's pipeline code into its modules cache before importing it:
    keep that copy out of the home folder."""
    monkeypatch.setattr(dynamic_modules_utils, "HF_MODULES_CACHE",
                        str(tmp_path_factory.getbasetemp() / "hf-modules"))


def _export(run_dir, out, capsys):
    code, _, err = run_cli(["export", run_dir, "--out", out], capsys)
    assert code == 0, err
    return DiffusionPipeline.from_pretrained(out, trust_remote_code=True)


def _pipe_images(pipe, **kwargs):
    """The pipeline's images in genlab's range, [-1, 1]."""
    return pipe(output_type="pt", **kwargs).images * 2 - 1


def _seed(seed):
    return torch.Generator().manual_seed(seed)


def test_conditional_export_samples_as_genlab(eps_run, tmp_path, capsys):
    pipe = _export(eps_run, tmp_path / "pipe", capsys)
    assert type(pipe).__name__ == "GenlabPipeline" and pipe.num_classes == 3
    run = load_run(eps_run, precision="fp32")
    labels = torch.tensor([0, 2, 1, 2])
    # the run's own defaults (DDIM, 2 steps, eta 0, CFG 3) on both sides
    theirs = _pipe_images(pipe, class_labels=labels.tolist(), generator=_seed(3))
    assert torch.allclose(theirs, run.sample(4, seed=3, labels=labels), atol=ATOL)
    for steps, cfg in ((3, 1.0), (4, 0.0), (3, 1.5)):
        opts = sampling_options(run, steps=steps, cfg=cfg)
        theirs = _pipe_images(pipe, class_labels=labels, num_inference_steps=steps,
                              guidance_scale=cfg, generator=_seed(5))
        assert torch.allclose(theirs, run.sample(4, seed=5, labels=labels, options=opts),
                              atol=ATOL)
    assert not torch.allclose(theirs, _pipe_images(pipe, class_labels=labels,
                                                   num_inference_steps=3, generator=_seed(6)))
    pil = pipe(class_labels=1, generator=_seed(3)).images
    assert len(pil) == 1 and pil[0].size == (16, 16)
    with pytest.raises(ValueError, match="0..2"):
        pipe(class_labels=[3])


def test_stochastic_samplers_match_too(eps_run, tmp_path, capsys):
    """Fresh noise in the steps (DDIM with eta, DDPM, DPM-Solver swapped in the diffusers way)
    is seeded from the starting noise, as genlab seeds it."""
    pipe = _export(eps_run, tmp_path / "pipe", capsys)
    run = load_run(eps_run, precision="fp32")
    labels = torch.tensor([1, 0])
    opts = sampling_options(run, steps=3, eta=0.7)
    theirs = _pipe_images(pipe, class_labels=labels, num_inference_steps=3, eta=0.7,
                          generator=_seed(2))
    assert torch.allclose(theirs, run.sample(2, seed=2, labels=labels, options=opts), atol=ATOL)
    for sampler, scheduler in (("ddpm", DDPMScheduler), ("dpm", DPMSolverMultistepScheduler)):
        pipe.scheduler = scheduler.from_config(pipe.scheduler.config)
        assert pipe.scheduler.config.timestep_spacing == "trailing"
        opts = sampling_options(run, sampler=sampler, steps=3)
        theirs = _pipe_images(pipe, class_labels=labels, num_inference_steps=3,
                              generator=_seed(2))
        assert torch.allclose(theirs, run.sample(2, seed=2, labels=labels, options=opts),
                              atol=ATOL), sampler


def _genlab_in_float64(run, z, labels, steps):
    """genlab's own DDIM sampling (its eps function, sample_loop) with every number in float64,
    the schedule included: the reference both float32 samplers are measured against."""
    method = run.method.to(torch.float64)
    method.noise.alphas_cumprod = method.noise.alphas_cumprod.double()
    scheduler = make_scheduler("ddim", method.sampler_config)
    scheduler.alphas_cumprod = scheduler.alphas_cumprod.double()
    scheduler.final_alpha_cumprod = scheduler.final_alpha_cumprod.double()
    return sample_loop(method.sampling_eps(labels), z.double(), scheduler,
                       steps=steps).clamp(-1, 1)


def test_v_prediction_export_samples_as_genlab(v_run, tmp_path, capsys):
    """The pipeline hands v to the scheduler, which computes x0 = sqrt(a) x - sqrt(1 - a) v;
    genlab turns v into the noise first (`as_eps`) and the scheduler inverts it, x0 = (x -
    sqrt(1 - a) eps) / sqrt(a). The same in exact arithmetic, but at the cosine schedule's last
    timestep a = 2.4e-9: 1 - a rounds to 1 in float32 and the second form cancels x against
    itself, so genlab's float32 images are ~5e-3 from its own float64 ones, the pipeline's
    within float tolerance of them."""
    pipe = _export(v_run, tmp_path / "pipe", capsys)
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    run = load_run(v_run, precision="fp32")
    labels = torch.tensor([0, 2, 1, 2])
    ours = run.sample(4, seed=3, labels=labels)
    theirs = _pipe_images(pipe, class_labels=labels, generator=_seed(3))
    exact = _genlab_in_float64(run, torch.randn(4, 3, 16, 16, generator=_seed(3)), labels,
                               steps=2)
    assert torch.allclose(theirs.double(), exact, atol=ATOL)
    assert torch.allclose(ours, theirs, atol=2e-2)  # genlab's float32 error, one grey level


def test_exported_folder_keeps_genlab_sampling_config(v_run, tmp_path, capsys):
    out = tmp_path / "pipe"
    _export(v_run, out, capsys)
    scheduler = json.loads((out / "scheduler" / "scheduler_config.json").read_text())
    assert scheduler["_class_name"] == "DDIMScheduler"  # the run's sampler
    assert scheduler["timestep_spacing"] == "trailing"
    assert scheduler["prediction_type"] == "v_prediction"
    assert scheduler["clip_sample"] is True
    assert scheduler["beta_schedule"] == "squaredcos_cap_v2"
    index = json.loads((out / "model_index.json").read_text())
    assert index["_class_name"] == ["pipeline_genlab", "GenlabPipeline"]
    assert (index["num_inference_steps"], index["guidance_scale"], index["eta"]) == (2, 3.0, 0.0)
    # --unet reads the run's sampling defaults back: the same images as the run itself
    back, run = load_unet_folder(out), load_run(v_run)
    assert back.method.default_sampling() == run.method.default_sampling()
    labels = torch.tensor([2, 0])
    assert torch.equal(back.sample(2, seed=1, labels=labels), run.sample(2, seed=1, labels=labels))
    # the explicit form of loading a local pipeline file works as well
    pipe = DiffusionPipeline.from_pretrained(out, custom_pipeline=str(out / "pipeline_genlab.py"),
                                             trust_remote_code=True)
    assert pipe.config.guidance_scale == 3.0
    # the pipeline file needs no genlab: it imports torch and diffusers only
    tree = ast.parse((out / "pipeline_genlab.py").read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {m.split(".")[0] for m in modules} <= {"__future__", "inspect", "typing", "torch",
                                                  "diffusers"}


def test_unconditional_export_samples_as_genlab(unconditional_run, tmp_path, capsys):
    pipe = _export(unconditional_run, tmp_path / "pipe", capsys)
    assert pipe.num_classes == 0
    assert type(pipe.scheduler).__name__ == "DDPMScheduler"  # the run's sampler
    run = load_run(unconditional_run, precision="fp32")
    theirs = _pipe_images(pipe, batch_size=3, generator=_seed(4))  # DDPM, 3 steps
    assert torch.allclose(theirs, run.sample(3, seed=4), atol=ATOL)
    # the same starting noise given as latents
    z = torch.randn(3, 3, 16, 16, generator=_seed(4))
    assert torch.allclose(_pipe_images(pipe, latents=z), theirs, atol=ATOL)
    with pytest.raises(ValueError, match="unconditional"):
        pipe(class_labels=[0])
