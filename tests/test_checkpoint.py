import pytest
import torch

from genlab.engine.checkpoint import (
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from genlab.errors import CheckpointError


def _save(root, step, keep=2):
    return save_checkpoint(root, step, {"w": torch.full((3,), float(step))},
                           {"step": step, "opt": {"lr": 0.1}}, keep_last=keep)


def test_save_load_and_keep_last(tmp_path):
    root = tmp_path / "checkpoints"
    for step in (10, 20, 30):
        _save(root, step)
    names = [p.name for p in list_checkpoints(root)]
    assert names == ["step-0000020", "step-0000030"]
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temp or trash left
    tensors, state = load_checkpoint(find_checkpoint(tmp_path))
    assert state["step"] == 30 and torch.equal(tensors["w"], torch.full((3,), 30.0))
    assert find_checkpoint(tmp_path, "20").name == "step-0000020"
    with pytest.raises(CheckpointError, match="no checkpoint at step 5"):
        find_checkpoint(tmp_path, "5")


def test_leftover_temp_folder_is_ignored(tmp_path):
    root = tmp_path / "checkpoints"
    _save(root, 10)
    (root / ".tmp-step-0000020-999").mkdir()  # what a kill during a save leaves behind
    assert find_checkpoint(tmp_path).name == "step-0000010"


@pytest.mark.parametrize("victim", ["weights.safetensors", "state.pt"])
def test_truncated_file_is_a_clear_error(tmp_path, victim):
    path = _save(tmp_path / "checkpoints", 10)
    data = (path / victim).read_bytes()
    (path / victim).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"{victim} is corrupt"):
        load_checkpoint(path)


def test_missing_checkpoints_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        find_checkpoint(tmp_path)
