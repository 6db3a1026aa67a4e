"""Per-model serving settings: stored as one JSON file per model, merged on update."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelry.errors import ConfigError
from modelry.registry.serving_config import (
    ModelServing,
    read_serving,
    serving_path,
    update_serving,
    write_serving,
)


def test_a_model_without_settings_serves_with_the_defaults(tmp_path: Path) -> None:
    cfg = read_serving(tmp_path, "bank")
    assert cfg == ModelServing() and cfg.num_replicas == 1 and not cfg.autoscaling
    assert 0 < cfg.num_cpus < 1  # several replicas share a core


def test_updates_merge_and_replicas_and_bounds_exclude_each_other(tmp_path: Path) -> None:
    update_serving(tmp_path, "bank", num_replicas=3, num_cpus=0.5)
    cfg = update_serving(tmp_path, "bank", min_replicas=1, max_replicas=4)
    assert cfg.autoscaling and cfg.num_cpus == 0.5  # the CPUs kept
    cfg = update_serving(tmp_path, "bank", num_replicas=2)
    assert not cfg.autoscaling and cfg.num_replicas == 2 and cfg.min_replicas is None
    assert read_serving(tmp_path, "bank") == cfg
    stored = serving_path(tmp_path, "bank").read_text()
    assert '"num_replicas": 2' in stored and "batcher" not in stored  # defaults left out


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_replicas": 3, "max_replicas": 1}, "min_replicas is above"),
        ({"min_replicas": 1}, "together"),
        ({"num_cpus": 0}, "greater than 0"),
        ({"batcher": "mine"}, "modelry"),
    ],
)
def test_invalid_settings_are_refused_by_name(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        update_serving(tmp_path, "bank", **changes)
    assert not serving_path(tmp_path, "bank").exists()


def test_a_damaged_file_and_a_bad_name_are_config_errors(tmp_path: Path) -> None:
    write_serving(tmp_path, "bank", ModelServing(num_replicas=2))
    serving_path(tmp_path, "bank").write_text('{"num_replicas": "many"}')
    with pytest.raises(ConfigError, match="not valid serving settings"):
        read_serving(tmp_path, "bank")
    with pytest.raises(ConfigError, match="invalid model name"):
        read_serving(tmp_path, "../etc")
