
"""genlab eval / control / best checkpoint / time budget, end to end on tiny runs."""

import hashlib
import json

import pytest
import torch

from conftest import ROOT, run_cli, tiny
from genlab.runs.config import load_config


@pytest.fixture(autouse=True)
def judge_cache(tmp_path_factory, monkeypatch):
    # One judge cache for the whole module: never the user's real cache.
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def test_eval_writes_report_with_floor(trained_run, tmp_path, capsys):
    out = tmp_path / "ev"
    code, stdout, err = run_cli(["eval", trained_run, "--n", "64", "--out", out], capsys)
    assert code == 0, err
    payload = json.loads((out / "eval.json").read_text())
    gen, floor = payload["generated"], payload["floor"]
    for key in ("fid", "kid", "is", "precision", "recall", "density", "coverage",
                "classes_covered", "class_kl", "cond_acc"):
        assert key in gen, key
    assert floor["fid"] < gen["fid"]  # a 4-step model is far worse than real data
    assert payload["protocol"]["n_real"] == 64
    assert payload["protocol"]["classes_read_by"] == "analytic shapes reader"
    report = (out / "report.md").read_text()
    assert "real-vs-real floor" in report and "| FID |" in report
    assert (out / "class_histogram.png").is_file() and (out / "samples.png").is_file()


def test_eval_truncates_through_the_method_and_checks_psi_first(trained_run, tmp_path, capsys):
    from conftest import assert_one_line_error

    out = tmp_path / "ev"
    code, _, err = run_cli(["eval", trained_run, "--n", "32", "--truncation", "0.5", "--out",
                            out], capsys)
    assert code == 0, err
    assert json.loads((out / "eval.json").read_text())["protocol"]["truncation"] == 0.5
    code, _, err = run_cli(["eval", trained_run, "--n", "32", "--truncation", "1.5", "--out",
                            tmp_path / "bad"], capsys)
    assert_one_line_error(code, err, "(0, 1]")
    assert not (tmp_path / "bad" / "eval.json").exists()


def test_inception_features_end_to_end(trained_run, tmp_path, capsys):
    from genlab.metrics.inception import write_random_inception_weights

    weights = write_random_inception_weights(tmp_path / "inception.pth")
    out = tmp_path / "ev"
    code, _, err = run_cli(["eval", trained_run, "--n", "12", "--features", "inception",
                            "--inception-weights", weights, "--out", out], capsys)
    assert code == 0, err
    payload = json.loads((out / "eval.json").read_text())
    assert payload["protocol"]["features"] == "inception"
    assert payload["generated"]["fid"] >= 0
    code, _, err = run_cli(["eval", trained_run, "--n", "12", "--features", "inception",
                            "--inception-weights", tmp_path / "missing.pth"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "missing.pth" in err


class LinearGenerator:
    """A stand-in method: images = tanh(W z), so steering has a clear gradient path."""

    num_classes = 0
    device = torch.device("cpu")

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.w = torch.randn(3 * 8 * 8, 16, generator=g) * 0.3
        self.nets = torch.nn.ModuleDict()

    def sample_latents(self, n, generator=None):
        return torch.randn(n, 16, generator=generator)

    def decode(self, z, labels=None):
        return torch.tanh(z @ self.w.T).view(-1, 3, 8, 8)


def test_steering_raises_the_target_probability():
    from genlab.generate.control import steer

    g = torch.Generator().manual_seed(1)
    head = torch.randn(4, 3 * 8 * 8, generator=g) * 0.2
    classifier = lambda x: x.flatten(1) @ head.T  # noqa: E731
    result = steer(LinearGenerator(), classifier, target=2, n=32, steps=60, lr=0.1)
    assert result.prob_before < 0.5 and result.prob_after > 0.9
    assert result.before.shape == result.after.shape == (32, 3, 8, 8)
    # the latents stay near the prior: the penalty keeps them from running off
    assert result.z.pow(2).mean() < 10


def test_restarts_redraw_only_stuck_latents():
    """With too few steps many latents stay below 0.5; restarts redraw those and never make
    a latent worse, so the mean probability can only rise."""
    from genlab.generate.control import steer, target_probability

    g = torch.Generator().manual_seed(1)
    head = torch.randn(4, 3 * 8 * 8, generator=g) * 0.2
    classifier = lambda x: x.flatten(1) @ head.T  # noqa: E731
    short = steer(LinearGenerator(), classifier, target=2, n=32, steps=3, lr=0.1)
    again = steer(LinearGenerator(), classifier, target=2, n=32, steps=3, lr=0.1, restarts=4)
    p_short = target_probability(classifier, short.after, 2)
    p_again = target_probability(classifier, again.after, 2)
    assert (p_again >= p_short - 1e-6).all() and again.prob_after > short.prob_after
    kept = p_short >= 0.5  # latents that were fine are left alone
    assert torch.equal(again.z[kept], short.z[kept])


def test_control_command_end_to_end(tmp_path, capsys):
    from genlab import train

    cfg = load_config(ROOT / "configs" / "dcgan.yaml",
                      tiny(tmp_path, "train.steps=6", "name=unc"))
    run = train(cfg, show_progress=False).run_dir
    code, stdout, err = run_cli(["control", run, "--target", "triangle", "--steps", "5",
                                 "--n", "16"], capsys)
    assert code == 0, err
    before, after = (float(x) for x in stdout.split("target:")[1].split("after")[0]
                     .replace("before,", "").split())
    assert 0 <= before <= 1 and 0 <= after <= 1
    assert (run / "samples" / "control-2.png").is_file()
    code, _, err = run_cli(["control", run, "--target", "hexagon"], capsys)
    assert code == 2 and "hexagon" in err
    code, _, err = run_cli(["control", ROOT / "tests", "--target", "0"], capsys)
    assert code == 2


def test_training_keeps_the_best_checkpoint(tmp_path, capsys):
    code, _, err = run_cli(["train", ROOT / "configs/demo.yaml", "--name", "ev",
                            *sum((["--set", s] for s in tiny(
                                tmp_path, "train.steps=4", "train.eval_every=2",
                                "train.eval_n=32")), [])], capsys)
    assert code == 0, err
    run = tmp_path / "runs" / "ev"
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval/fid" in r]
    assert [r["step"] for r in evals] == [2, 4]
    best = min(evals, key=lambda r: r["eval/fid"])
    state = torch.load(run / "checkpoints" / "best" / "state.pt", weights_only=True)
    assert state["best"]["step"] == best["step"] == state["step"]
    code, _, err = run_cli(["sample", run, "--checkpoint", "best", "--n", "3",
                            "--out", tmp_path / "b.png"], capsys)
    assert code == 0, err


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_time_budget_stops_training(tmp_path, clock):
    import time

    from genlab import train

    cfg = load_config(ROOT / "configs" / "dcgan.yaml",
                      tiny(tmp_path, "train.steps=100000", "train.max_minutes=0.002",
                           f"train.budget_clock={clock}"))
    cpu_before = time.process_time()
    result = train(cfg, show_progress=False)
    assert not result.interrupted and 0 < result.step < 100000
    state = torch.load(sorted((result.run_dir / "checkpoints").glob("step-*"))[-1] / "state.pt",
                       weights_only=True)
    assert state["train_seconds"] >= 0.12
    if clock == "cpu":  # the budget was CPU seconds of this process
        assert state["train_seconds"] <= time.process_time() - cpu_before


def test_bench_gan_smoke(tmp_path, capsys):
    """The whole benchmark pipeline at a toy budget: runs, results files, page."""
    args = ["bench", "gan", "--data", "shapes", "--minutes", "0.01", "--seeds", "1", "--n",
            "48", "--methods", "dcgan,wgan-gp", "--runs", tmp_path / "runs", "--out",
            tmp_path / "results"]
    for item in ("data.shapes.n_train=300", "data.shapes.n_test=100", "data.image_size=16",
                 "method.g_width=8", "method.d_width=8", "train.batch_size=16",
                 "train.precision=fp32"):
        args += ["--set", item]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    page = (tmp_path / "results" / "gan-shapes.md").read_text()
    assert "| dcgan | 1 |" in page and "| wgan-gp | 1 |" in page and "floor" in page
    assert "Truncation sweep" in page and "BCE GANs collapse modes" in page
    assert (tmp_path / "results" / "gan-shapes" / "fid-vs-time.png").is_file()
    raw = tmp_path / "results" / "gan-shapes" / "raw"
    results = json.loads((raw / "dcgan-s0.json").read_text())
    assert (raw.parent / results["grid"]).is_file()
    assert set(results["truncation"]) == {"0.25", "0.5", "0.75", "1.0"}
    # the judge that measured the page is kept beside it, and each result names it
    pinned = tmp_path / "results" / "judges" / "shapes-16px" / "weights.safetensors"
    assert results["judge"] == hashlib.sha256(pinned.read_bytes()).hexdigest()[:16]
    # a second call reuses finished runs instead of training again...
    code, stdout, err = run_cli(args, capsys)
    assert code == 0 and "dcgan seed 0: done earlier" in stdout + err
    # ...but redoes a run that another judge measured
    results["judge"] = "another-judge"
    (raw / "dcgan-s0.json").write_text(json.dumps(results))
    code, stdout, err = run_cli(args, capsys)
    assert code == 0 and "dcgan seed 0: done earlier" not in stdout + err
    assert "wgan-gp seed 0: done earlier" in stdout + err
    assert json.loads((raw / "dcgan-s0.json").read_text())["judge"] != "another-judge"
    # --page-only trains nothing and says what is missing
    more = [a if a != "1" else "2" for a in args] + ["--page-only"]
    code, stdout, err = run_cli(more, capsys)
    assert code == 0, err
    assert not (raw / "dcgan-s1.json").exists()
    assert "not measured yet: dcgan-s1, wgan-gp-s1" in (tmp_path / "results" /
                                                        "gan-shapes.md").read_text()


def test_bench_gan_workers_run_side_by_side(tmp_path, capsys):
    """--workers 2 trains two runs in separate processes, one CPU thread each."""
    args = ["bench", "gan", "--data", "shapes", "--minutes", "0.005", "--seeds", "1", "--n",
            "32", "--methods", "dcgan,wgan", "--runs", tmp_path / "runs", "--out",
            tmp_path / "results", "--workers", "2"]
    for item in ("data.shapes.n_train=200", "data.shapes.n_test=64", "data.image_size=16",
                 "method.g_width=8", "method.d_width=8", "train.batch_size=16",
                 "train.precision=fp32"):
        args += ["--set", item]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    raw = tmp_path / "results" / "gan-shapes" / "raw"
    share = max(1, torch.get_num_threads() // 2)
    for method in ("dcgan", "wgan"):
        assert json.loads((raw / f"{method}-s0.json").read_text())["threads"] == share
    assert "--workers 2" in (tmp_path / "results" / "gan-shapes.md").read_text()


@pytest.mark.parametrize("method", ["vae", "ddpm"])
def test_eval_works_on_vae_and_diffusion_runs(tmp_path, capsys, method):
    from genlab import train
    from genlab.runs.config import load_config

    config = {"vae": "vae", "ddpm": "ddpm-shapes"}[method]
    cfg = load_config(ROOT / "configs" / f"{config}.yaml",
                      tiny(tmp_path, "data.name=shapes", "data.shapes.label=shape",
                           "train.steps=2", method=method))
    run_dir = train(cfg, show_progress=False).run_dir
    extra = ["--steps", "2", "--cfg", "2"] if method == "ddpm" else []
    code, stdout, err = run_cli(["eval", run_dir, "--n", "32", "--out", tmp_path / "ev",
                                 *extra], capsys)
    assert code == 0, err
    payload = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert payload["generated"]["fid"] > payload["floor"]["fid"]
    if method == "vae":  # an unconditional VAE steers like a GAN generator
        code, stdout, err = run_cli(["control", run_dir, "--target", "circle", "--steps", "2",
                                     "--n", "4"], capsys)
        assert code == 0 and "before" in stdout, err
    if method == "ddpm":
        assert payload["protocol"]["steps"] == 2 and payload["protocol"]["cfg"] == 2
        assert "cond_acc" in payload["generated"]
        # loss guidance by the judge of the same data, end to end
        code, stdout, err = run_cli(["sample", run_dir, "--n", "3", "--steps", "2", "--label",
                                     "0", "--guide", "judge:square", "--guide-scale", "3",
                                     "--out", tmp_path / "g.png"], capsys)
        assert code == 0 and (tmp_path / "g.png").is_file(), err
        code, stdout, err = run_cli(["sample", run_dir, "--label", "0", "--guide",
                                     "judge:hexagon"], capsys)
        assert code == 2 and "unknown --guide class 'hexagon'" in err
