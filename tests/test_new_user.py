"""What a new user tripped over (issue 18): each surprise, pinned."""

import sys

from conftest import ROOT, assert_one_line_error, run_cli, tiny

LEGACY = ROOT / "tests" / "fixtures" / "runs-v0.1"


def _set(items):
    return sum((["--set", item] for item in items), [])


def test_wandb_missing_is_checked_before_the_run_folder_is_made(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    args = ["train", ROOT / "configs" / "dcgan.yaml", "--wandb",
            *_set(tiny(tmp_path, "data.name=shapes", "train.steps=1", "name=w"))]
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, "genlab[wandb]")
    assert not (tmp_path / "runs" / "w").exists()  # a retry will not land in w-2


def test_info_shows_the_config_of_any_method(capsys):
    code, out, err = run_cli(["info", LEGACY / "ddpm-v0"], capsys)
    assert code == 0, err
    text = " ".join(out.split())
    assert "method ddpm" in text and "(, )" not in text
    assert "config method: channels=(8, 16)" in text and "conditional=True" in text
    assert "config train: steps=4" in text and "config.yaml" in text


def test_a_clip_run_does_not_point_to_samples_it_never_wrote(tmp_path, capsys):
    args = ["train", "clip-shapes", *_set(tiny(tmp_path, "train.steps=1", "name=clip",
                                               "train.sample_every=0",
                               "train.tensorboard=false", method="clip"))]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert "done: 1 steps" in out and "samples" not in out
    assert not (tmp_path / "runs" / "clip" / "samples").exists()


def test_an_unknown_key_points_to_the_list_of_keys(capsys):
    code, _, err = run_cli(["config", "dcgan", "--set", "method.z_dimm=3"], capsys)
    assert_one_line_error(code, err, "method.z_dimm", "genlab config CONFIG --keys")


def test_flags_show_no_value_in_help(capsys):
    code, out, _ = run_cli(["sample", "--help"], capsys)
    assert code == 0
    line = next(line for line in out.splitlines() if "--no-ema" in line)
    assert "<bool>" not in line


def test_eval_of_a_clip_run_says_so_before_any_work(tmp_path, capsys, monkeypatch):
    import genlab.metrics.judge as judge_module

    args = ["train", "clip-shapes", *_set(tiny(tmp_path, "train.steps=1", "name=clip",
                                               "train.tensorboard=false", method="clip"))]
    assert run_cli(args, capsys)[0] == 0

    def no_judge(*args, **kwargs):
        raise AssertionError("a judge was loaded or trained")

    monkeypatch.setattr(judge_module, "load_judge", no_judge)
    code, _, err = run_cli(["eval", tmp_path / "runs" / "clip", "--n", "20"], capsys)
    assert_one_line_error(code, err, "makes no images", "clip-eval")


def test_interpolate_steps_help_counts_every_frame(capsys):
    code, out, _ = run_cli(["interpolate", "--help"], capsys)
    assert code == 0 and "frames per row, both ends included" in " ".join(out.split())


def test_a_second_img2img_or_inpaint_does_not_overwrite_the_first(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    args = ["train", "ddpm-shapes", *_set(tiny(tmp_path, "train.steps=1", "name=d",
                                               "train.tensorboard=false", method="ddpm"))]
    assert run_cli(args, capsys)[0] == 0
    run = tmp_path / "runs" / "d"
    image, mask = tmp_path / "in.png", tmp_path / "mask.png"
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(image)
    Image.fromarray(np.full((16, 16), 255, np.uint8)).save(mask)
    for _ in range(2):
        code, _, err = run_cli(["img2img", run, "--init", image, "--label", "0", "--steps", "2"],
                               capsys)
        assert code == 0, err
        code, _, err = run_cli(["inpaint", run, "--image", image, "--mask", mask, "--label", "0",
                                "--steps", "2", "--jumps", "1"], capsys)
        assert code == 0, err
    names = sorted(p.name for p in tmp_path.glob("in-*.png"))
    assert names == ["in-img2img-2.png", "in-img2img.png", "in-inpainted-2.png",
                     "in-inpainted.png"]
