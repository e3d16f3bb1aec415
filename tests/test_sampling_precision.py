"""The diffusion UNet's arithmetic when sampling: auto (bf16 where the hardware is fast at it,
as in training), fp32 or bf16 (autocast around the UNet only, its output back in fp32), and
the --precision flag's errors."""

import pytest
import torch

from conftest import assert_one_line_error, run_cli
from genlab.engine.hardware import cpu_has_fast_bf16
from genlab.errors import ConfigError
from genlab.generate.guidance import sampling_options, sampling_precision
from genlab.runs.load import load_run
from genlab.sampling import in_precision


def test_in_precision_runs_the_unet_in_bf16_and_answers_fp32():
    seen = []

    def unet(x, t, **kwargs):
        seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu")
                    else None)
        return type("Out", (), {"sample": (x @ torch.ones(4, 4)).to(torch.bfloat16)})()

    x = torch.randn(2, 4)
    assert in_precision(unet, "fp32") is unet
    out = in_precision(unet, "bf16")(x, torch.zeros(2), class_labels=None).sample
    assert seen == [torch.bfloat16] and out.dtype == torch.float32
    with pytest.raises(ConfigError, match="unknown sampling precision 'fp16'"):
        in_precision(unet, "fp16")


def test_auto_is_bf16_where_fast_and_choices_are_checked():
    cpu = torch.device("cpu")
    assert sampling_precision("auto", cpu) == ("bf16" if cpu_has_fast_bf16() else "fp32")
    assert sampling_precision("bf16", cpu) == "bf16"
    with pytest.raises(ConfigError, match="--precision 'fp16': use auto, fp32, bf16"):
        sampling_precision("fp16", cpu)


def test_bf16_sampling_is_close_to_fp32_and_recorded(ddpm_run):
    run = load_run(ddpm_run)
    assert sampling_options(run) is None  # nothing given: the run's own
    assert run.method.default_sampling().precision == sampling_precision("auto", run.device)
    bf16 = sampling_options(run, sampler="ddim", steps=3, precision="bf16")
    fp32 = sampling_options(run, sampler="ddim", steps=3, precision="fp32")
    assert (bf16.precision, fp32.precision) == ("bf16", "fp32")
    a, b = run.sample(4, seed=0, options=fp32), run.sample(4, seed=0, options=bf16)
    assert not torch.equal(a, b)  # the UNet really ran in bf16
    assert (a - b).abs().mean() < 0.05  # ... and gave nearly the same images


def test_precision_flag_errors(ddpm_run, trained_run, tmp_path, capsys):
    code, _, err = run_cli(["sample", ddpm_run, "--precision", "fp16", "--n", "2",
                            "--out", tmp_path / "a.png"], capsys)
    assert_one_line_error(code, err, "--precision 'fp16'")
    code, _, err = run_cli(["sample", trained_run, "--precision", "bf16", "--n", "2",
                            "--out", tmp_path / "b.png"], capsys)
    assert_one_line_error(code, err, "--precision apply to diffusion runs")
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "b.png").exists()
    code, _, err = run_cli(["sample", trained_run, "--precision", "fp32", "--n", "2",
                            "--out", tmp_path / "c.png"], capsys)  # what a GAN samples in
    assert code == 0, err
