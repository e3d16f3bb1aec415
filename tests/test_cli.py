"""The command line: every user mistake is one line on stderr and exit code 2."""

import shutil

from PIL import Image

from conftest import ROOT, assert_one_line_error, run_cli


def test_unknown_config_key(capsys, tmp_path):
    code, _, err = run_cli(["train", ROOT / "configs/dcgan.yaml", "--set", "method.z_dimm=3"],
                           capsys)
    assert_one_line_error(code, err, "method.z_dimm")


def test_wrong_type(capsys):
    code, _, err = run_cli(["train", ROOT / "configs/dcgan.yaml", "--set", "train.steps=lots"],
                           capsys)
    assert_one_line_error(code, err, "train.steps", "lots")


def test_unknown_option_is_a_usage_error_not_a_traceback(capsys):
    code, _, err = run_cli(["train", ROOT / "configs/dcgan.yaml", "--bogus"], capsys)
    assert code == 2 and "No such option: --bogus" in err and "Traceback" not in err, err


def test_missing_config_file(capsys, tmp_path):
    code, _, err = run_cli(["train", tmp_path / "nope.yaml"], capsys)
    assert_one_line_error(code, err, "nope.yaml", "not found")


def test_missing_run_folder(capsys, tmp_path):
    for cmd in (["sample", tmp_path / "ghost"], ["info", tmp_path / "ghost"],
                ["interpolate", tmp_path / "ghost"],
                ["train", "--resume", tmp_path / "ghost"]):
        code, _, err = run_cli(cmd, capsys)
        assert_one_line_error(code, err, "ghost", "not found")


def test_truncated_checkpoint(capsys, tmp_path, trained_run):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    weights = sorted((run / "checkpoints").glob("step-*"))[-1] / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    code, _, err = run_cli(["sample", run], capsys)
    assert_one_line_error(code, err, "weights.safetensors", "corrupt")
    code, _, err = run_cli(["train", "--resume", run], capsys)
    assert_one_line_error(code, err, "corrupt")
    # the earlier checkpoint is intact and still usable
    code, _, err = run_cli(["sample", run, "--checkpoint", "2", "--n", "4"], capsys)
    assert code == 0, err


def test_offline_dataset_error(capsys, tmp_path):
    code, _, err = run_cli(["train", ROOT / "configs/dcgan.yaml", "--set", "data.name=mnist",
                            "--set", f"data.root={tmp_path}"], capsys)
    assert_one_line_error(code, err, "mnist", "--download")


def test_resume_cannot_change_the_model(capsys, trained_run):
    code, _, err = run_cli(["train", "--resume", trained_run, "--set", "method.z_dim=5"],
                           capsys)
    assert_one_line_error(code, err, "method")


def test_bad_label_and_truncation(capsys, trained_run, tmp_path):
    code, _, err = run_cli(["sample", trained_run, "--label", "hexagon",
                            "--out", tmp_path / "x.png"], capsys)
    assert_one_line_error(code, err, "hexagon", "circle")
    code, _, err = run_cli(["sample", trained_run, "--truncation", "1.5",
                            "--out", tmp_path / "x.png"], capsys)
    assert_one_line_error(code, err, "truncation")


def test_sample_interpolate_info(capsys, trained_run, tmp_path):
    out = tmp_path / "grid.png"
    code, stdout, err = run_cli(["sample", trained_run, "--n", "12", "--label", "square",
                                 "--truncation", "0.5", "--out", out], capsys)
    assert code == 0, err
    image = Image.open(out)
    assert image.size == (8 * 18 + 2, 2 * 18 + 2)  # 12 images of 16px, 8 per row, 2px padding
    code, stdout, err = run_cli(["interpolate", trained_run, "--steps", "5", "--rows", "3",
                                 "--slerp", "--out", tmp_path], capsys)
    assert code == 0, err
    gif = Image.open(tmp_path / "interpolation.gif")
    assert gif.n_frames == 8  # there (5 frames) and back (3 more)
    assert Image.open(tmp_path / "interpolation.png").size == (5 * 18 + 2, 3 * 18 + 2)
    first = (tmp_path / "interpolation.png").read_bytes()
    # a second walk (another seed) goes beside the first, never over it
    code, stdout, err = run_cli(["interpolate", trained_run, "--steps", "5", "--rows", "3",
                                 "--seed", "1", "--out", tmp_path], capsys)
    assert code == 0, err
    assert (tmp_path / "interpolation.png").read_bytes() == first
    assert (tmp_path / "interpolation-2.png").is_file()
    assert (tmp_path / "interpolation-2.gif").is_file()
    code, stdout, err = run_cli(["info", trained_run], capsys)
    assert code == 0 and "checkpoints at steps: 2, 4" in stdout


def test_same_seed_same_samples(capsys, trained_run, tmp_path):
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    for path, seed in zip(paths, (0, 0, 1), strict=True):
        assert run_cli(["sample", trained_run, "--seed", seed, "--out", path], capsys)[0] == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_datasets_command(capsys):
    code, out, err = run_cli(["datasets"], capsys)
    assert code == 0, err
    assert "shapes" in out and "fashion-mnist" in out and "folder:" in out


def test_folder_dataset_with_a_corrupt_file_trains_and_warns_once(capsys, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(12):
            pixels = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / cls / f"{i}.png")
    (tmp_path / "data" / "dogs" / "bad.png").write_bytes(b"not a png at all")
    code, out, err = run_cli(["train", ROOT / "configs/cdcgan.yaml",
                              "--set", f"data.name=folder:{tmp_path / 'data'}",
                              "--set", "data.image_size=16", "--set", "train.steps=2",
                              "--set", "train.batch_size=8", "--set", "method.g_width=8",
                              "--set", "method.d_width=8", "--set", "train.precision=fp32",
                              "--set", f"train.out_dir={tmp_path / 'runs'}", "--name", "f"],
                             capsys)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "bad.png" in warnings[0] and "1 of 25" in warnings[0]
    assert (tmp_path / "runs" / "f" / "samples" / "final.png").is_file()
    import json

    info = json.loads((tmp_path / "runs" / "f" / "run.json").read_text())
    assert info["data"]["class_names"] == ["cats", "dogs"]


def test_config_list_shows_every_preset_with_its_method(capsys):
    code, out, err = run_cli(["config", "--list"], capsys)
    assert code == 0, err
    for preset, method in (("dcgan", "gan"), ("ddpm-shapes", "ddpm"), ("ldm-text-shapes",
                                                                        "text-ldm")):
        row = next(line for line in out.splitlines() if f" {preset} " in line)
        assert method in row


def test_train_takes_a_preset_name_and_a_bad_one_is_one_line(capsys, tmp_path):
    code, out, err = run_cli(["train", "demo", "--steps", "1", "--set", "data.image_size=16",
                              "--set", "method.g_width=8", "--set", "method.d_width=8",
                              "--set", f"train.out_dir={tmp_path}", "--set",
                              "train.tensorboard=false", "--set", "train.sample_n=3"], capsys)
    assert code == 0, err
    assert (tmp_path / "demo" / "checkpoints").is_dir()
    code, _, err = run_cli(["train", "dcgna"], capsys)
    assert_one_line_error(code, err, "dcgna", "preset name", "genlab config --list")
