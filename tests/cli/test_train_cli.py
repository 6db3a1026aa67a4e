"""``modelry train`` as a user meets it: options, config files, JSON output, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from modelry.cli.demo import campaign_table, write_csv


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(campaign_table(1500, seed=3), tmp_path_factory.mktemp("d") / "campaign.csv")


def _versions(home: Path) -> list[Path]:
    root = home / "models"
    return (
        [p for p in root.glob("*/*") if p.is_dir() and not p.name.startswith(".")]
        if root.exists()
        else []
    )


def test_help_documents_every_option(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", "--help")
    assert result.code == 0
    for option in (
        "--target",
        "--drop",
        "--hidden",
        "--optimizer",
        "--l1",
        "--l2",
        "--balance",
        "--time-order",
        "--split-by",
        "--config",
        "--print-config",
        "--json",
        "--seed",
        "--sensitive",
        "--early-stopping",
        "--loss",
        "--momentum",
    ):
        assert option in result.out, option


def test_json_output_holds_the_documented_keys(cli, campaign: Path, home: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "train", str(campaign), "--target", "responded", "--epochs", "8", "--lr", "0.01", "--json"
    )
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    for key in (
        "name",
        "version",
        "task",
        "metrics",
        "baseline",
        "train_seconds",
        "epochs_run",
        "artifact",
    ):
        assert key in doc
    assert doc["name"] == "campaign" and doc["version"] == 1 and doc["task"] == "binary"
    for split in ("valid", "test"):
        assert set(doc["metrics"][split]) >= {
            "roc_auc",
            "pr_auc",
            "accuracy",
            "f1",
            "log_loss",
            "brier",
        }
        assert set(doc["baseline"][split]) >= {"roc_auc", "accuracy"}
    assert doc["metrics"]["test"]["roc_auc"] > 0.75
    artifact = Path(doc["artifact"])
    assert (artifact / "model.onnx").is_file() and (artifact / "plots" / "roc.png").is_file()
    assert (artifact / "plots" / "learning_curves.png").is_file()


def test_the_seed_network_is_expressible(cli, campaign: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "train",
        str(campaign),
        "--target",
        "responded",
        "--hidden",
        "64,32",
        "--activation",
        "relu",
        "--optimizer",
        "adam",
        "--lr",
        "0.001",
        "--loss",
        "bce",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--print-config",
    )
    assert result.code == 0, result.err
    config = yaml.safe_load(result.out)
    assert config["model"]["hidden"] == [64, 32]
    assert (
        config["training"]
        | {"optimizer": "adam", "lr": 0.001, "loss": "bce", "epochs": 2, "batch_size": 32}
        == config["training"]
    )


def test_flags_override_the_config_file(cli, campaign: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "train.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "data": {"target": "responded"},
                "training": {"epochs": 7, "lr": 0.01},
                "model": {"hidden": [8]},
            }
        )
    )
    result = cli("train", str(campaign), "--config", str(path), "--epochs", "2", "--print-config")
    assert result.code == 0, result.err
    config = yaml.safe_load(result.out)
    assert config["training"]["epochs"] == 2  # the flag wins
    assert config["training"]["lr"] == 0.01  # the file beats the default
    assert config["model"]["hidden"] == [8]
    assert config["data"]["target"] == "responded"
    # The printed config is itself a valid config file: the run can be repeated exactly.
    again = tmp_path / "again.yaml"
    again.write_text(result.out)
    assert (
        yaml.safe_load(cli("train", str(campaign), "--config", str(again), "--print-config").out)
        == config
    )


def _bad(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["missing.csv", "--target", "y"], "missing.csv"),
        (["@empty", "--target", "y"], "empty"),
        (["@campaign", "--target", "nope"], "nope"),
        (["@campaign"], "--target"),
        (["@one_class", "--target", "y"], "single value"),
        (["@all_missing", "--target", "y"], "'b'"),
        (["@text_in_numeric", "--target", "y"], "'a'"),
        (["@campaign", "--target", "responded", "--optimizer", "rmsprop"], "optimizer"),
        (["@campaign", "--target", "responded", "--hidden", "64,x"], "--hidden"),
        (["@campaign", "--target", "responded", "--name", "../evil"], "../evil"),
        (["@campaign", "--target", "responded", "--config", "nope.yaml"], "nope.yaml"),
    ],
)
def test_bad_input_is_one_clear_line_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    cli, campaign: Path, tmp_path: Path, home: Path, args: list[str], expected: str
) -> None:
    rng = np.random.default_rng(0)
    files = {
        "@campaign": campaign,
        "@empty": _bad(tmp_path, "empty.csv", ""),
        "@one_class": _bad(tmp_path, "one.csv", "a,y\n" + "".join(f"{i},no\n" for i in range(50))),
        "@all_missing": _bad(
            tmp_path,
            "allmiss.csv",
            "a,b,y\n"
            + "".join(f"{i},,{'yes' if rng.random() < 0.5 else 'no'}\n" for i in range(50)),
        ),
        "@text_in_numeric": _bad(
            tmp_path,
            "text.csv",
            "a,y\n"
            + "".join(
                f"{i if i != 17 else 'abc'},{'yes' if i % 2 else 'no'}\n" for i in range(100)
            ),
        ),
    }
    argv = ["train", *[str(files.get(a, a)) for a in args]]
    if argv[1] == "missing.csv":
        argv[1] = str(tmp_path / "missing.csv")
    result = cli(*argv)
    assert result.code != 0
    assert "Traceback" not in result.err and "Traceback" not in result.out
    assert expected in result.err, result.err
    assert _versions(home) == []


def test_debug_shows_the_traceback(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from modelry.errors import SourceError

    with pytest.raises(SourceError):
        cli("--debug", "train", str(tmp_path / "missing.csv"), "--target", "y")


def test_pseudonymise_is_repeatable_and_comma_separated(cli, campaign: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "train", str(campaign), "--target", "responded", "--pseudonymise", "a,b",
        "--pseudonymise", "c", "--print-config",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert yaml.safe_load(result.out)["data"]["pseudonymise"] == ["a", "b", "c"]
