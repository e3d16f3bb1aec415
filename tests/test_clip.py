"""CLIP: the loss by hand, tokens, captions in the data and batches, standard weights from a
file, zero-shot and retrieval metrics, and a tiny run through the engine and `clip-eval`."""

import json
import math
import warnings

import pytest
import torch
from PIL import Image

from conftest import CLIP_DATA, TINY_METHOD, run_cli, tiny
from genlab import train
from genlab.data import DataWarning, ImageData, load_dataset
from genlab.engine.batches import DeviceBatcher
from genlab.errors import CheckpointError, DataError
from genlab.losses import clip_loss
from genlab.methods.base import DataInfo
from genlab.methods.clip import CLIP
from genlab.metrics.clip_eval import retrieval_recall, shapes_prompts, zero_shot_accuracy
from genlab.nets.clip import load_pretrained_clip, tokenize
from genlab.runs.config import load_config

SOT, EOT = 49406, 49407  # CLIP's start and end tokens
# The smallest standard open_clip CLIP with its own text tower (63M parameters).
SMALLEST_STANDARD = "ViT-S-32"
TINY_CLIP = ["method.name=clip", *TINY_METHOD["clip"], *CLIP_DATA]


# --- loss and tokens -------------------------------------------------------------------------

def test_clip_loss_by_hand():
    eye = torch.eye(2)
    # logits = 2 * I: each row and column is -log(e^2 / (e^2 + e^0)) = log(1 + e^-2)
    expected = math.log(1 + math.exp(-2))
    assert clip_loss(eye, eye, torch.tensor(2.0)).item() == pytest.approx(expected, rel=1e-6)
    assert clip_loss(3 * eye, eye, torch.tensor(2.0)).item() == pytest.approx(expected, rel=1e-6)
    images, texts = torch.randn(2, 6, 8, generator=torch.Generator().manual_seed(1))
    scale = torch.tensor(10.0)
    assert clip_loss(images, texts, scale).item() == pytest.approx(
        clip_loss(texts, images, scale).item(), rel=1e-6)  # symmetric
    matched = clip_loss(images, images, scale)
    assert matched < clip_loss(images, images.roll(1, 0), scale)  # misaligned pairs cost more
    assert matched < clip_loss(images, texts, scale)


def test_tokenize_shares_repeated_captions_and_keeps_the_end_token():
    with pytest.warns(UserWarning, match="1 text.* longer than the model's 6-token context"):
        tokens = tokenize(["a red circle", "a red circle", "a small blue square at the top left"],
                          6)
    assert tokens.dtype == torch.int64 and tokens.shape == (3, 6)
    assert torch.equal(tokens[0], tokens[1]) and tokens[0, 0] == SOT and tokens[0, 4] == EOT
    assert tokens[2, -1] == EOT  # cut to 6 tokens, still ended


def test_a_text_that_exactly_fills_the_context_is_not_reported_as_cut():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokens = tokenize(["a red circle now"], 6)  # start + 4 words + end
    assert tokens[0, -1] == EOT


# --- captions in the data and in batches -----------------------------------------------------

def _png(path, colour):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)


def test_folder_captions_count_broken_and_missing_lines_in_one_warning(tmp_path):
    for i in range(4):
        _png(tmp_path / f"{i}.png", (10 * i, 0, 0))
    lines = [json.dumps({"file": "0.png", "caption": "dark"}), "{broken", "",
             json.dumps({"file": "1.png"}), json.dumps({"file": "2.png", "caption": "red"})]
    (tmp_path / "captions.jsonl").write_text("\n".join(lines))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_dataset(f"folder:{tmp_path}")
    assert data.captions == ["dark", "", "red", ""]
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(messages) == 1
    assert "skipped 2 lines" in messages[0] and "captions.jsonl:2" in messages[0]
    assert "2 of 4 images have no caption" in messages[0]


def test_template_captions_for_labelled_data():
    digits = load_dataset("digits", split="test", caption_template="a photo of a {class}")
    assert digits.captions[0] == f"a photo of a {int(digits.labels[0])}"
    cfg = load_config(None, ["data.shapes.n_train=20", "data.shapes.label=shape_colour",
                             "data.caption_template=a {class}"])
    shapes = cfg.data.load()
    assert shapes.captions[0] == f"a {shapes.class_names[int(shapes.labels[0])]}"


def test_varied_shapes_captions_keep_the_images():
    full = load_config(None, ["data.shapes.n_train=200"]).data.load()
    varied = load_config(None, ["data.shapes.n_train=200", "data.shapes.captions=varied"]
                         ).data.load()
    assert torch.equal(full.images, varied.images)
    assert all(v in f or len(v) < len(f) for f, v in zip(full.captions, varied.captions,
                                                         strict=True))
    assert "a red circle" in varied.captions or any(" at the " not in c and c.count(" ") == 2
                                                    for c in varied.captions)


def test_batcher_slices_extra_tensors_like_labels():
    n = 40
    data = ImageData("t", torch.zeros(n, 1, 8, 8, dtype=torch.uint8), torch.arange(n), [])
    batcher = DeviceBatcher(data, 8, seed=1, extra={"text": torch.arange(n)[:, None] * 10})
    batch = batcher.batch(3, parts=2)
    assert torch.equal(batch["text"][:, 0], batch["label"] * 10)
    with pytest.raises(ValueError, match="one row per image"):
        DeviceBatcher(data, 8, seed=1, extra={"text": torch.zeros(3, 2)})


def test_clip_needs_captions():
    method = CLIP(load_config(None, TINY_CLIP).method, DataInfo(3, 16))
    data = ImageData("bare", torch.zeros(4, 3, 16, 16, dtype=torch.uint8), None, [])
    with pytest.raises(DataError, match="no captions"):
        method.prepare_data(data)


# --- metrics ---------------------------------------------------------------------------------

class _StandIn(torch.nn.Module):
    """Images carry their class in pixel [0, 0, 0]; texts are "class K" prompts."""

    def __init__(self, classes: int, random: bool = False):
        super().__init__()
        self.classes, self.random = classes, random
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def encode_image(self, images):
        if self.random:
            return torch.randn(len(images), self.classes)
        index = ((images[:, 0, 0, 0] + 1) * 127.5).round().long()
        return torch.nn.functional.one_hot(index, self.classes).float()

    def encode_text(self, tokens):
        return torch.nn.functional.one_hot(tokens, self.classes).float()


def test_zero_shot_accuracy_perfect_and_chance():
    classes, n = 10, 2000
    labels = torch.randint(0, classes, (n,), generator=torch.Generator().manual_seed(0))
    images = labels.view(n, 1, 1, 1).expand(n, 1, 2, 2).to(torch.uint8).contiguous()
    prompts = [f"class {c}" for c in range(classes)]

    def tokenizer(texts):
        return torch.tensor([int(t.split()[-1]) for t in texts])

    assert zero_shot_accuracy(_StandIn(classes), tokenizer, images, labels, prompts) == 1.0
    torch.manual_seed(0)
    chance = zero_shot_accuracy(_StandIn(classes, random=True), tokenizer, images, labels,
                                prompts)
    assert abs(chance - 1 / classes) < 0.04
    # A class given by several prompts is their mean embedding.
    ensembles = [[f"class {c}", f"class {c}"] for c in range(classes)]
    assert zero_shot_accuracy(_StandIn(classes), tokenizer, images, labels, ensembles) == 1.0
    assert len(shapes_prompts("shape_colour")) == 18 and shapes_prompts("shape_colour")[0] == [
        "a red circle"]
    assert len(shapes_prompts("colour")) == 6 and len(shapes_prompts("shape")[0]) == 6


def test_retrieval_recall():
    emb = torch.eye(6)
    assert set(retrieval_recall(emb, emb).values()) == {1.0}
    shifted = retrieval_recall(emb, emb.roll(1, 0), k=(1,))
    assert shifted == {"i2t_r1": 0.0, "t2i_r1": 0.0}
    # Images 0 and 1 share caption 0, image 2 has caption 1.
    images = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    texts = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    got = retrieval_recall(images, texts, k=(1,), text_of_image=torch.tensor([0, 0, 1]))
    assert got == {"i2t_r1": 1.0, "t2i_r1": 1.0}


# --- standard weights from a file ------------------------------------------------------------

def test_load_pretrained_standard_clip(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "weights.safetensors"
    cfg = load_config(None, ["method.name=clip", f"method.model={SMALLEST_STANDARD}",
                             f"method.pretrained={path}", "method.freeze=true"]).method
    method = CLIP(cfg, DataInfo(1, 28))  # random weights until the run starts
    net = method.nets["clip"].model
    # Other weights than the method's (+1), fp16 on disk (126 MB); loading casts to fp32.
    saved = {k: (v + 1).half().contiguous() for k, v in net.state_dict().items()}
    save_file(saved, path)
    # What the engine calls at the start of a new run: load_pretrained_clip (open_clip's
    # create_model_and_transforms with the file, strict), then a strict copy into the net.
    method.load_initial_weights()
    state = net.state_dict()
    assert state.keys() == saved.keys()  # nothing missing, nothing unexpected
    assert all(torch.equal(state[k], saved[k].to(state[k].dtype)) for k in saved)
    assert method.tokenize(["a photo of a 3"]).shape == (1, 77) and not method.optimizers
    assert method.embed_images(torch.zeros(2, 1, 28, 28)).shape == (2, 384)
    with pytest.raises(CheckpointError, match="not found"):
        load_pretrained_clip(tmp_path / "missing.safetensors", SMALLEST_STANDARD)
    (tmp_path / "bad.safetensors").write_bytes(b"\x00 not weights" * 10)
    with pytest.raises(CheckpointError, match="cannot load"):
        load_pretrained_clip(tmp_path / "bad.safetensors", SMALLEST_STANDARD)
    # TorchScript archives carry code: refused, never loaded
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "openai.pt")
    with pytest.raises(CheckpointError, match="TorchScript"):
        load_pretrained_clip(tmp_path / "openai.pt", SMALLEST_STANDARD)


# --- a tiny run through the engine and the CLI -----------------------------------------------

def test_clip_trains_and_clip_eval_writes_results(tmp_path, capsys):
    cfg = load_config(None, tiny(tmp_path, *CLIP_DATA, "train.steps=3", "name=clip",
                                 "train.sample_every=1", method="clip"))
    run_dir = train(cfg, show_progress=False).run_dir
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"loss", "logit_scale", "batch_acc"} <= set(records[-1])
    assert not list(run_dir.glob("samples/*.png"))  # not generative: no sample grids
    code, out, err = run_cli(["clip-eval", run_dir, "--n", "40"], capsys)
    assert code == 0, err
    results = json.loads((run_dir / "clip_eval.json").read_text())
    assert results["n"] == 40 and results["classes"] == 18 and results["step"] == 3
    assert {"zero_shot_acc", "i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5"} <= set(results)
    assert "zero_shot_acc" in out
    code, out, err = run_cli(["clip-eval", run_dir, "--prompts", "colour", "--n", "20"], capsys)
    assert code == 0 and json.loads((run_dir / "clip_eval.json").read_text())["classes"] == 6
    code, out, err = run_cli(["sample", run_dir], capsys)
    assert code == 2 and "clip-eval" in err and "Traceback" not in err
