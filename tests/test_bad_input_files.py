"""Bad input files (issue 13). User images of any mode and bit depth are converted by one rule
(`genlab.images.to_rgb_or_grey`) on both paths that read them (`read_image`, `folder:PATH`) and
reported in one warning per call or dataset; files that are not what they should be are
one-line errors (exit 2, no traceback). The tables are the bad-input corpus for files; the
property tests throw arbitrary images, bytes and config text at the same readers."""

import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import assert_one_line_error, run_cli, tiny
from genlab import train
from genlab.data import DataWarning, load_dataset
from genlab.errors import ConfigError, DataError
from genlab.images import read_image
from genlab.methods.registry import METHOD_NAMES
from genlab.runs.config import load_config

PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
VALUES_16 = [0, 128, 129, 257, 32767, 32896, 65535]
EXPECTED_8 = [0, 0, 1, 1, 127, 128, 255]  # round(x * 255 / 65535), not min(x, 255)


def _save(image: Image.Image, path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def _png_bytes(image: Image.Image) -> bytes:
    image.save(buffer := io.BytesIO(), "PNG")
    return buffer.getvalue()


def _data_warnings(call, *args, **kwargs):
    """call's result and the messages of the DataWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call(*args, **kwargs)
    return result, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


# --- the conversion rule, through read_image --------------------------------------------------

@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
def test_16_bit_images_are_scaled_to_8_bits_not_clipped(tmp_path, mode):
    path, order = (tmp_path / "deep.png", "<u2") if mode == "I;16" else (tmp_path / "d.tif", ">u2")
    _save(Image.frombytes(mode, (7, 1), np.array(VALUES_16, order).tobytes()), path)
    assert Image.open(path).mode == mode
    grey, messages = _data_warnings(read_image, path, 1)
    assert grey.dtype == torch.uint8 and grey.tolist() == [[EXPECTED_8]]
    assert len(messages) == 1 and "16-bit scaled to 8-bit" in messages[0]
    assert path.name in messages[0]
    rgb, _ = _data_warnings(read_image, path, 3)
    assert rgb.shape == (3, 1, 7) and rgb[:, 0].tolist() == [EXPECTED_8] * 3


@pytest.mark.parametrize("mode, values, expected, note", [
    ("I", [0, 7, 255], [0, 7, 255], None),                            # fits: taken as is
    ("I", [0, 1000, 65535], [0, 4, 255], "scaled as 16-bit"),         # 16-bit range
    ("I", [-1000, 39000, 99000], [0, 102, 255], "min-max"),           # anything else
    ("F", [0.0, 0.2, 1.0], [0, 51, 255], "0..1"),                      # [0, 1] times 255
    ("F", [0.0, 12.4, 200.6], [0, 12, 201], "rounded"),                # [0, 255] rounded
    ("F", [-2.0, 0.0, 3.0], [0, 102, 255], "min-max"),                 # anything else
    ("F", [np.nan, np.inf, 0.2, 1.0], [0, 0, 51, 255], "non-finite"),  # NaN, inf: 0
])
def test_32_bit_integer_and_float_images_follow_the_documented_rule(tmp_path, mode, values,
                                                                    expected, note):
    array = np.array([values], np.int32 if mode == "I" else np.float32)
    path = _save(Image.fromarray(array), tmp_path / "wide.tif")
    assert Image.open(path).mode == mode
    image, messages = _data_warnings(read_image, path, 1)
    assert image.tolist() == [[expected]]
    assert len(messages) == (0 if note is None else 1)
    assert note is None or note in messages[0], messages


def test_alpha_is_composited_on_white(tmp_path):
    rgba = np.array([[[200, 100, 0, 128], [10, 20, 30, 255], [10, 20, 30, 0]]], np.uint8)
    path = _save(Image.fromarray(rgba, "RGBA"), tmp_path / "rgba.png")
    image, messages = _data_warnings(read_image, path, 3)
    # 200 * 128/255 + 255 * 127/255 = 227.4 ...: the half-transparent pixel is half white
    assert image[:, 0].T.tolist() == [[227, 177, 127], [10, 20, 30], [255, 255, 255]]
    assert len(messages) == 1 and "alpha composited on white" in messages[0]

    la = _save(Image.fromarray(np.array([[[100, 128]]], np.uint8), "LA"), tmp_path / "la.png")
    assert _data_warnings(read_image, la, 1)[0].tolist() == [[[177]]]

    palette = Image.frombytes("P", (2, 1), bytes([0, 1]))  # black (transparent), red
    palette.putpalette([0, 0, 0, 255, 0, 0])
    p = _save(palette, tmp_path / "p.png", transparency=0)
    assert _data_warnings(read_image, p, 3)[0][:, 0].T.tolist() == [[255, 255, 255], [255, 0, 0]]

    keyed = Image.fromarray(np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8))
    rgb = _save(keyed, tmp_path / "keyed.png", transparency=(1, 2, 3))
    assert _data_warnings(read_image, rgb, 3)[0][:, 0].T.tolist() == [[255, 255, 255], [4, 5, 6]]

    opaque = rgba.copy()
    opaque[..., 3] = 255
    path = _save(Image.fromarray(opaque, "RGBA"), tmp_path / "opaque.png")
    image, messages = _data_warnings(read_image, path, 3)
    assert image[:, 0].T.tolist() == opaque[0, :, :3].tolist() and messages == []


def test_a_plain_8_bit_image_reads_without_any_warning(tmp_path):
    path = _save(Image.new("RGB", (4, 3), (1, 2, 3)), tmp_path / "plain.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor torch's about PIL's read-only buffer
        assert read_image(path, 3)[:, 0, 0].tolist() == [1, 2, 3]
        assert read_image(path, 1).shape == (1, 3, 4)


def test_read_image_checks_the_size_it_is_given_before_converting(tmp_path):
    path = _save(Image.fromarray(np.zeros((8, 8), np.uint16)), tmp_path / "small16.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no conversion warning before the error
        with pytest.raises(DataError, match=r"small16.png is 8x8.*16x16.*resize"):
            read_image(path, 3, size=16)
    with pytest.warns(DataWarning, match="16-bit"):
        assert read_image(path, 3, size=8).shape == (3, 8, 8)


# --- the same rule in the folder dataset, one warning ------------------------------------------

def test_the_folder_dataset_converts_by_the_same_rule_and_warns_once(tmp_path):
    _save(Image.fromarray(np.full((8, 8), 32896, np.uint16)), tmp_path / "a.png")
    _save(Image.fromarray(np.full((8, 8, 4), (200, 100, 0, 128), np.uint8)), tmp_path / "b.png")
    _save(Image.new("RGB", (1, 1), (9, 9, 9)), tmp_path / "c.png")
    _save(Image.new("RGB", (8, 8), (1, 2, 3)), tmp_path / "d.png")
    _save(Image.fromarray(np.full((8, 8), 1000, np.int32)), tmp_path / "e.tif")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    data, messages = _data_warnings(load_dataset, f"folder:{tmp_path}", image_size=8)
    assert data.images.shape == (5, 3, 8, 8)
    assert [data.images[i, :, 4, 4].tolist() for i in range(5)] == [
        [128] * 3, [227, 177, 127], [9] * 3, [1, 2, 3], [4] * 3]
    assert len(messages) == 1, messages
    for part in ("skipped 1 of 6 files", "bad.png", "converted 4 of 5 images",
                 "1 16-bit scaled to 8-bit", "1 with alpha composited on white",
                 "1 tiny (1x1) upscaled to 8x8", "1 32-bit integer scaled as 16-bit"):
        assert part in messages[0], messages[0]


# --- config files that are not configs --------------------------------------------------------

CONFIG_FILES = {  # id: (file contents, what the one-line error says)
    "random-bytes": (b"\x89\xff\xfe\x00\x80garbage\xc3(", "is not a UTF-8 text file"),
    "a-png": (_png_bytes(Image.new("RGB", (4, 4))), "is not a UTF-8 text file"),
    "utf-16": ("train:\n  steps: 3\n".encode("utf-16"), "is not a UTF-8 text file"),
    "empty": (b"", "is empty"),
    "whitespace": (b"  \n\n\t\n", "is empty"),
    "comments-only": (b"# a config\n# to write later\n", "is empty"),
    "document-markers": (b"---\n...\n", "holds no settings"),
    "null": (b"~\n", "holds no settings"),
    "a-list": (b"- data\n- method\n", "mapping of sections"),
    "a-scalar": (b"dcgan\n", "mapping of sections"),
    "syntax-error": (b"method: [unclosed\n", "not valid YAML at line"),
    "tab-indent": (b"train:\n\tsteps: 3\n", "not valid YAML"),
    "nul-byte": (b"train: {steps: 3}\x00\n", "not valid YAML"),
    "impossible-date": (b"seed: 2020-13-45\n", "not valid YAML"),
    "bad-int-tag": (b"train: {steps: !!int x}\n", "not valid YAML"),
    "python-tag": (b"a: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
    "deep-nesting": (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    "recursive-alias": (b"train: &x {steps: *x}\n", "'train.steps'"),
    "unknown-section": (b"trian:\n  steps: 3\n", "'trian'"),
    "section-not-mapping": (b"train: 5\n", "'train'"),
    "key-not-string": (b"1: 2\n", "'1'"),
    "line-separator-in-a-value": (b'method: {name: "a\\u2028b"}\n', "a\\u2028b"),
}


def _config_path(tmp_path: Path, case: str) -> Path:
    """The bad config of a CONFIG_FILES id, or one of the folders that are not config files."""
    if case == "a-folder":
        (tmp_path / "cfg").mkdir()
        return tmp_path / "cfg"
    if case == "a-run-folder":
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "config.yaml").write_text("train: {steps: 3}\n")
        return tmp_path / "run"
    path = tmp_path / "c.yaml"
    path.write_bytes(CONFIG_FILES[case][0])
    return path


FOLDERS = {"a-folder": "is a folder", "a-run-folder": "--resume"}
CONFIG_CASES = {**{case: needle for case, (_, needle) in CONFIG_FILES.items()}, **FOLDERS}


def test_an_override_yaml_cannot_construct_is_taken_as_a_string():
    assert load_config(None, ["name=2020-13-45"]).name == "2020-13-45"  # not a ValueError
    with pytest.raises(ConfigError, match="'seed'.*2020-13-45"):
        load_config(None, ["seed=2020-13-45"])


# --- the bad-input corpus for files, through the command line ----------------------------------

@pytest.fixture(scope="module")
def ddpm_run(tmp_path_factory):
    """A tiny unconditional 16 px DDPM, trained for one step: something to img2img with."""
    out = tmp_path_factory.mktemp("bad-input")
    cfg = load_config(None, tiny(out, "train.steps=1", "name=ddpm", method="ddpm"))
    return train(cfg, show_progress=False).run_dir


IMAGE_ROWS = {  # id: (command, the bad file's name, its bytes (or a folder, or none), needle)
    "init-random-bytes": ("img2img", "x.png", bytes(range(256)) * 3, "is not a readable image"),
    "init-empty": ("img2img", "x.png", b"", "is not a readable image"),
    "init-text-as-jpeg": ("img2img", "notes.jpg", b"not a picture\n", "is not a readable image"),
    "init-folder": ("img2img", "x.png", "folder", "is a folder"),
    "init-missing": ("img2img", "x.png", None, "not found"),
    "init-1x1": ("img2img", "x.png", _png_bytes(Image.new("RGB", (1, 1))), "resize"),
    "init-16-bit-wrong-size": ("img2img", "x.png", _png_bytes(
        Image.fromarray(np.full((8, 8), 40000, np.uint16))), "resize"),
    "mask-truncated": ("inpaint", "m.png", _png_bytes(Image.effect_noise((16, 16), 64))[:99],
                       "is not a readable image"),
    "mask-wrong-size": ("inpaint", "m.png", _png_bytes(Image.new("L", (8, 8), 255)), "resize"),
}


def _tiny_args(tmp_path: Path) -> list[str]:
    """--set options for a small, fast training run (should the config get that far)."""
    return [arg for item in tiny(tmp_path, "train.steps=1") for arg in ("--set", item)]


def _assert_error_after_warnings(code, err, needle):
    """One-line error, exit 2, no traceback; what came before it may only be warning lines."""
    *before, last = [line for line in err.strip().splitlines() if line.strip()]
    assert_one_line_error(code, last, needle)
    assert all(line.startswith("warning: ") for line in before) and len(before) <= 1, err


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_bad_config_file_row(tmp_path, capsys, case):
    """load_config raises a one-line ConfigError; `genlab config` prints it, exit 2."""
    with pytest.raises(ConfigError) as caught:
        load_config(path := _config_path(tmp_path, case))
    assert len(str(caught.value).splitlines()) == 1, caught.value
    code, _, err = run_cli(["config", path], capsys)
    assert_one_line_error(code, err, CONFIG_CASES[case])


@pytest.mark.parametrize("case", ["random-bytes", "empty", "comments-only", "a-folder"])
def test_cli_train_bad_file_row(tmp_path, capsys, case):
    code, _, err = run_cli(["train", _config_path(tmp_path, case), *_tiny_args(tmp_path)],
                           capsys)
    assert_one_line_error(code, err, CONFIG_CASES[case])


def test_cli_train_on_a_folder_of_broken_images_row(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    for name in ("a.png", "b.jpg"):
        (tmp_path / "data" / name).write_bytes(bytes(range(256)))
    code, _, err = run_cli(["train", "dcgan", *_tiny_args(tmp_path), "--set",
                            f"data.name=folder:{tmp_path / 'data'}"], capsys)
    assert_one_line_error(code, err, "no readable images among 2 files")


@pytest.mark.parametrize("row", IMAGE_ROWS)
def test_cli_image_bad_file_row(ddpm_run, tmp_path, capsys, row):
    command, name, contents, needle = IMAGE_ROWS[row]
    bad = tmp_path / name
    if contents == "folder":
        bad.mkdir()
    elif contents is not None:
        bad.write_bytes(contents)
    if command == "img2img":
        args = ["img2img", ddpm_run, "--init", bad]
    else:
        good = _save(Image.new("RGB", (16, 16), (5, 5, 5)), tmp_path / "good.png")
        args = ["inpaint", ddpm_run, "--image", good, "--mask", bad]
    code, _, err = run_cli([*args, "--out", tmp_path / "out.png"], capsys)
    # a 16-bit init says it was converted before the model size refuses it (see the report)
    _assert_error_after_warnings(code, err, needle)


def test_cli_config_prints_a_name_that_looks_like_markup(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text('name: "[/x] [bold]y"\n')
    code, out, err = run_cli(["config", tmp_path / "c.yaml"], capsys)
    assert code == 0 and "[/x] [bold]y" in out, err


# --- properties: arbitrary images, bytes and config text ---------------------------------------

MODES = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "I", "F", "I;16",
         "I;16B", "RGBX"]
FORMATS = ["PNG", "TIFF", "BMP", "GIF", "JPEG", "WEBP"]


@st.composite
def pil_images(draw):
    """A small image of any mode with arbitrary pixels (NaN and inf floats included)."""
    mode = draw(st.sampled_from(MODES))
    size = (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    n = len(Image.new(mode, size).tobytes())
    image = Image.frombytes(mode, size, draw(st.binary(min_size=n, max_size=n)))
    if mode in ("P", "L", "RGB") and draw(st.booleans()):
        image.info["transparency"] = (0, 0, 0) if mode == "RGB" else 0
    return image, draw(st.sampled_from(FORMATS))


def _write_any(image: Image.Image, fmt: str, folder: Path, stem: str) -> Path:
    """image in fmt, else as TIFF (which takes every mode drawn)."""
    try:
        image.save(path := folder / f"{stem}.{fmt.lower()}", fmt)
    except (OSError, ValueError, KeyError, TypeError):  # a mode this format cannot hold
        path.unlink(missing_ok=True)
        image.save(path := folder / f"{stem}.tiff", "TIFF")
    return path


@PROPERTY
@given(st.lists(pil_images(), min_size=1, max_size=3), st.sampled_from([1, 3]))
def test_any_image_reads_as_uint8_grey_or_rgb(images, channels):
    with tempfile.TemporaryDirectory() as tmp:
        paths = [_write_any(image, fmt, Path(tmp), f"im{i}") for i, (image, fmt) in
                 enumerate(images)]
        for path in paths:
            with Image.open(path) as written:
                w, h = written.size
            try:
                array, messages = _data_warnings(read_image, path, channels)
            except DataError as err:
                assert len(str(err).splitlines()) == 1
                continue
            assert array.dtype == torch.uint8 and array.shape == (channels, h, w)
            assert len(messages) <= 1
        try:
            data, messages = _data_warnings(load_dataset, f"folder:{tmp}", image_size=8)
        except DataError as err:
            assert len(str(err).splitlines()) == 1
            return
        assert data.images.dtype == torch.uint8 and data.images.shape[1:] in ((1, 8, 8),
                                                                             (3, 8, 8))
        assert len(messages) <= 1


@PROPERTY
@given(st.one_of(st.binary(max_size=300),
                 st.binary(max_size=300).map(lambda b: b"\x89PNG\r\n\x1a\n" + b)))
def test_random_bytes_as_an_image_are_a_one_line_error_or_skipped(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.png"
        path.write_bytes(data)
        try:
            with Image.open(path) as image:
                image.load()
            readable = True  # by PIL itself
        except Exception:
            readable = False
        try:
            read_image(path, 3)
        except DataError as err:
            assert len(str(err).splitlines()) == 1 and "x.png" in str(err)
        else:
            assert readable
        _save(Image.new("RGB", (4, 4)), Path(tmp) / "good.png")
        data, messages = _data_warnings(load_dataset, f"folder:{tmp}", image_size=4)
        assert len(data) in (1, 2) and len(messages) <= 1
        if not readable:
            assert len(data) == 1 and "skipped 1 of 2 files" in messages[0]


KEYS = st.sampled_from(["data", "method", "train", "name", "seed", "steps", "shapes", "lr",
                        "image_size", "batch_size", "z_dim", "x"])
LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
          | st.sampled_from(METHOD_NAMES))
YAML_VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(KEYS, inner, max_size=3), max_leaves=12)
CONFIG_BYTES = st.one_of(st.binary(max_size=200),
                         st.text(max_size=200).map(str.encode),
                         YAML_VALUES.map(lambda v: yaml.safe_dump(v).encode()))


@PROPERTY
@given(CONFIG_BYTES)
def test_any_config_file_loads_or_is_a_one_line_error(capsys, contents):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_bytes(contents)
        try:
            load_config(path)
        except ConfigError as err:
            assert len(str(err).splitlines()) == 1, str(err)
        code, _, err = run_cli(["config", path], capsys)
        if code:
            assert_one_line_error(code, err)
