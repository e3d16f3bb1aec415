from pathlib import Path

import pytest
import yaml

from genlab.config import apply_overrides, preset_names
from genlab.errors import ConfigError
from genlab.methods.registry import METHOD_NAMES, METHODS
from genlab.runs.config import RunConfig, dump_config, load_config

CONFIGS = sorted(Path(__file__).parents[1].joinpath("configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_shipped_config_validates(path):
    cfg = load_config(path)
    assert cfg.name == (cfg.name if path.stem == "demo" else path.stem)
    written = yaml.safe_load(path.read_text())["method"].get("name", "gan")
    assert cfg.method.name == written
    assert type(cfg.method).__name__.lower().startswith(written.replace("-", "")[:3])


def test_overrides_parse_yaml_scalars_and_nest():
    cfg = load_config(None, ["train.steps=12", "method.betas=[0.0, 0.9]", "method.clip=0.01",
                             "data.shapes.label=colour", "train.wandb=false"])
    assert cfg.train.steps == 12
    assert cfg.method.betas == (0.0, 0.9)
    assert cfg.method.clip == 0.01
    assert cfg.data.shapes.label == "colour"


def test_unknown_key_names_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method:\n  n_critc: 5\n")
    with pytest.raises(ConfigError, match="method.n_critc"):
        load_config(path)
    with pytest.raises(ConfigError, match="train.stepz"):
        load_config(None, ["train.stepz=3"])


def test_wrong_type_names_key_and_value():
    with pytest.raises(ConfigError, match=r"train.steps.*'abc'"):
        load_config(None, ["train.steps=abc"])


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_overrides({}, ["novalue"])


def test_dump_round_trips():
    cfg = load_config(None, ["method.arch=mlp", "train.steps=7"])
    import yaml

    again = RunConfig.model_validate(yaml.safe_load(dump_config(cfg)))
    assert again == cfg


@pytest.mark.parametrize("name", sorted(METHODS))
def test_a_typo_in_any_methods_config_names_the_key_the_user_wrote(name):
    # text-ldm was missing from a hand-kept name list: its typos read method.text-ldm.typo
    with pytest.raises(ConfigError, match=r"unknown config key 'method\.typo'"):
        load_config(None, [f"method.name={name}", "method.typo=1"])


def test_the_method_union_is_the_registry():
    assert set(METHOD_NAMES) == set(METHODS) >= {"gan", "vae", "ddpm", "ldm", "text-ldm",
                                                   "vqgan", "clip"}
    for name, cls in METHODS.items():
        assert type(load_config(None, [f"method.name={name}"]).method) is cls.Config


def test_presets_resolve_by_name_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    assert preset_names() == sorted(p.stem for p in CONFIGS)
    by_name, by_path = load_config("dcgan"), load_config(CONFIGS[0].parent / "dcgan.yaml")
    assert by_name == by_path and by_name.name == "dcgan"
    assert load_config("dcgan.yaml") == by_path
    with pytest.raises(ConfigError, match="preset name .*dcgan"):
        load_config("dcgna")
    (tmp_path / "dcgan.yaml").write_text("train:\n  steps: 7\n")  # a local file wins
    assert load_config("dcgan.yaml").train.steps == 7
