"""`genlab bench text2img`: held-out prompts, and the whole benchmark on tiny real runs (page,
raw rows, the reader's ceiling, resume, one-line errors)."""

import json

import pytest

from conftest import CLIP_DATA, ROOT, run_cli, tiny
from genlab import train
from genlab.bench.text2img_approaches import held_out_prompts
from genlab.errors import ConfigError
from genlab.runs.config import load_config

COLUMNS = ("colour", "shape", "size", "position", "CLIP score", "s / image")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny clip, vqgan, class-conditional ddpm and text-ldm (on a tiny vae) runs on 16 px
    shapes, 2 steps each."""
    out = tmp_path_factory.mktemp("t2i")
    clip = train(load_config(None, tiny(out, *CLIP_DATA, "train.steps=2", "name=clip",
                                        method="clip")), show_progress=False).run_dir
    vq = train(load_config(None, tiny(out, "train.steps=2", "name=vq", method="vqgan")),
               show_progress=False).run_dir
    ddpm = train(load_config(ROOT / "configs" / "ddpm-shapes.yaml", tiny(
        out, "data.shapes.label=shape", "train.steps=2", "name=ddpm", method="ddpm")),
        show_progress=False).run_dir
    vae = train(load_config(ROOT / "configs" / "vae-latent.yaml", tiny(
        out, "train.steps=2", "name=vae", "method.downsamples=1", "method.z_channels=4",
        method="vae")), show_progress=False).run_dir
    ldm = train(load_config(ROOT / "configs" / "ldm-text-shapes.yaml", tiny(
        out, "train.steps=2", "name=tldm", "method.name=text-ldm", "method.heads=2",
        f"method.vae_run={vae}", f"method.clip_run={clip}", method="ldm")),
        show_progress=False).run_dir
    return {"clip": clip, "vqgan": vq, "diffusion": ddpm, "ldm": ldm}


def test_held_out_prompts_are_seeded_and_cover_the_forms():
    first = held_out_prompts(5, seed=0)
    assert first == held_out_prompts(5, seed=0) and first != held_out_prompts(5, seed=1)
    assert len({p.text for p in first}) == 5 and all(" at the " in p.text for p in first)
    short = held_out_prompts(20, seed=0, form="short")
    assert len({p.text for p in short}) == 18  # every short combination, then repeats
    assert short[18:] == short[:2] and all(p.size == p.position == -1 for p in short)
    with pytest.raises(ConfigError, match="prompt form"):
        held_out_prompts(3, form="long")


def test_bench_text2img_on_tiny_runs(runs, tmp_path, capsys):
    results = tmp_path / "results"
    args = ["bench", "text2img", "--clip", runs["clip"], "--vqgan", runs["vqgan"],
            "--prompts", "3", "--steps", "2", "--cutouts", "2", "--out", results]
    models = ["--diffusion", runs["diffusion"], "--guide-scale", "10", "--ldm", runs["ldm"]]
    code, out, err = run_cli([*args, *models], capsys)
    assert code == 0, err
    page = (results / "text2img-shapes.md").read_text()
    header = next(line for line in page.splitlines() if line.startswith("| approach |"))
    assert all(f"| {c} |" in header for c in COLUMNS), header
    for label in ("real (rendered", "CLIP + VQGAN", "CLIP-guided diffusion",
                  "text-conditioned LDM | DDIM 2 steps", "random (chance)"):
        assert f"| {label}" in page
    assert "held out only as scenes and seeds" in page and "## What the numbers say" in page
    assert "![examples](text2img-shapes/examples.png)" in page
    command = next(line for line in page.splitlines() if line.startswith("Command:"))
    # the page's command measures the same rows again
    for option in ("--cutouts 2 --vqgan-init black --init-weight 1 ", "--guide-scale 10 ",
                   "--cfg 3 ", "--steps 2 --vqgan-steps 2`"):
        assert option in command, command
    assert (results / "text2img-shapes" / "examples.png").is_file()

    raw = results / "text2img-shapes" / "raw"
    names = ("real", "clip-vqgan", "clip-diffusion", "text-ldm", "random")
    assert sorted(p.stem for p in raw.glob("*.json")) == sorted([*names, "protocol"])
    for name in names:
        row = json.loads((raw / f"{name}.json").read_text())
        for key in ("found", "colour_acc", "shape_acc", "size_acc", "position_acc",
                    "clip_score", "seconds_per_image", "models", "judge", "prompts", "seed"):
            assert row[key] is not None, (name, key)
        assert len(row["items"]) == 3 and -1 <= row["clip_score"] <= 1
        assert (raw.parent / row["grid"]).is_file()
    real = json.loads((raw / "real.json").read_text())
    assert all(real[f"{k}_acc"] == 1.0 for k in ("colour", "shape", "size", "position"))
    assert json.loads((raw / "clip-vqgan.json").read_text())["models"]["steps"] == 2
    assert json.loads((raw / "clip-diffusion.json").read_text())["models"]["guide_scale"] == 10

    code, out, err = run_cli([*args, *models], capsys)  # all measured: resumes, redoes nothing
    assert code == 0, err
    assert all(f"{name}: done earlier" in out + err for name in names), out + err
    code, out, err = run_cli([*args, "--seed", "1"], capsys)  # other prompts: measured anew
    assert code == 0 and "done earlier" not in out + err
    page = (results / "text2img-shapes.md").read_text()
    assert "| CLIP-guided diffusion | skipped: no --diffusion RUN given" in page
    assert "| text-conditioned LDM | skipped: no --ldm RUN given" in page


def test_missing_or_wrong_runs_are_one_line_errors(runs, tmp_path, capsys):
    base = {"--clip": runs["clip"], "--vqgan": runs["vqgan"]}
    for change, needle in (({"--clip": tmp_path / "missing"}, "not found"),
                           ({"--vqgan": tmp_path / "missing"}, "not found"),
                           ({"--clip": runs["vqgan"]}, "not a clip run"),
                           ({"--diffusion": runs["vqgan"]}, "not a diffusion run"),
                           ({"--diffusion": tmp_path / "missing"}, "not found"),
                           ({"--ldm": runs["diffusion"]}, "text-conditioned runs"),
                           ({"--form": "long"}, "prompt form"),
                           ({"--vqgan-init": "purple"}, "unknown canvas"),
                           ({"--init-weight": "-1"}, "--init-weight")):
        options = sum(([k, v] for k, v in {**base, **change}.items()), [])
        code, _, err = run_cli(["bench", "text2img", *options, "--prompts", "2", "--steps", "1",
                                "--out", tmp_path / "results"], capsys)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, (change, err)
    assert not (tmp_path / "results" / "text2img-shapes.md").exists()
