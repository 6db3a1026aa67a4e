"""Text that is not ours prints as written: Rich markup never eats a bracket.

Rich reads ``[word]`` as a style tag: unescaped, ``pip install 'modelry[privacy]'``
printed as ``pip install 'modelry'``, a column named ``a[b]`` as ``a``, and a value
``[/]`` crashed the command with a MarkupError. Every test here names such text in
a message, a warning, a table cell or a path, and looks for it verbatim.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelry.cli import console
from modelry.errors import MissingExtraError

COLUMNS = ["a[b]", "[bold]leak", "colour"]
VALUES = ["[red]x", "[/]", "plain"]


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines long enough for a whole path or table row, however the consoles were made.

    Rich reads COLUMNS once, when a console is made: under xdist that is at collection,
    before ``run_cli`` sets it, and the width falls back to 80.
    """
    for terminal in (console.out, console.err):
        monkeypatch.setattr(terminal, "_width", 160)


@pytest.fixture
def odd_dir() -> Iterator[Path]:
    """A short folder whose name is markup (pytest's tmp_path is too long for one line)."""
    path = Path(tempfile.mkdtemp(prefix="[bold]m"))
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _table(folder: Path) -> Path:
    """``a[b]`` a number, ``[bold]leak`` missing exactly when y is 'yes', colour markup."""
    rng = random.Random(0)
    path = folder / "t[fairness].csv"
    with path.open("w") as f:
        f.write(",".join([*COLUMNS, "y"]) + "\n")
        for i in range(240):
            y = "yes" if i % 5 < 2 else "no"
            leak = "" if y == "yes" else str(rng.randint(1, 9))
            f.write(f"{rng.random():.3f},{leak},{VALUES[i % 3]},{y}\n")
    return path


def _warned(err: str) -> bool:
    """A warning line names the leaking column as it is spelled."""
    leak = "[bold]leak is missing exactly when y is 'yes'"
    return any(line.startswith("warning: ") and leak in line for line in err.splitlines())


def test_an_error_naming_an_extra_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    console.error(MissingExtraError("opacus", "privacy").message)
    assert (
        capsys.readouterr().err
        == "error: opacus is not installed: pip install 'modelry[privacy]'\n"
    )


def test_an_error_holding_markup_prints_it(run_cli: Any, odd_dir: Path) -> None:
    missing = odd_dir / "modelry[fairness].csv"
    result = run_cli("inspect", str(missing), "--target", "y", home=odd_dir / "home")
    assert result.code == 1
    assert result.err == f"error: {missing}: no such file; check the path\n"
    bad = run_cli("models", "show", "x[bold]y", home=odd_dir / "home")
    assert bad.code == 1 and "'x[bold]y'" in bad.err
    option = run_cli("inspect", str(_table(odd_dir)), "--type", "[bold]", home=odd_dir / "home")
    assert option.code == 1 and "'[bold]'" in option.err, option.err


def test_inspect_shows_odd_column_names_values_and_warnings(run_cli: Any, odd_dir: Path) -> None:
    data = _table(odd_dir)
    result = run_cli("inspect", str(data), "--target", "y", home=odd_dir / "home")
    assert result.code == 0, result.err
    assert "t[fairness].csv: 240 rows" in result.out
    rows = {line.split("│")[1].strip(): line for line in result.out.splitlines() if "│" in line}
    assert set(COLUMNS) <= set(rows), result.out
    assert all(value in rows["colour"] for value in VALUES), rows["colour"]
    assert _warned(result.err), result.err


def test_help_keeps_bracketed_defaults(run_cli: Any, odd_dir: Path) -> None:
    result = run_cli("train", "--help", home=odd_dir / "home")
    for default in ("[relu]", "[adam]", "[off]", "[on]", "[auto]", "[0.001]"):
        assert default in result.out, default
    audit = run_cli("audit", "--help", home=odd_dir / "home")
    assert "[the model's" in audit.out


@pytest.mark.slow
def test_train_show_explain_predict_print_names_values_and_paths(
    run_cli: Any, odd_dir: Path
) -> None:
    home, data = odd_dir / "home", _table(odd_dir)
    trained = run_cli("train", str(data), "--target", "y", "--epochs", "2", home=home)
    assert trained.code == 0, trained.err
    assert _warned(trained.err), trained.err
    version = home / "models" / "t-fairness" / "1"  # the name is the file's, made valid
    assert f"artifact  {version}\n" in trained.out, trained.out
    shown = run_cli("models", "show", "t-fairness", home=home)
    assert f"path    {version}\n" in shown.out, shown.out

    overall = run_cli("explain", "t-fairness", home=home)
    assert overall.code == 0, overall.err
    assert all(name in overall.out for name in COLUMNS), overall.out

    record = json.dumps({"a[b]": 0.5, "[bold]leak": 3, "colour": "[/]"})
    local = run_cli("explain", "t-fairness", "--record", record, home=home)
    assert local.code == 0, local.err
    rows = {line.split()[0]: line for line in local.out.splitlines() if line.startswith("  ")}
    assert set(COLUMNS) <= set(rows), local.out
    assert "[/]" in rows["colour"], rows["colour"]

    out = odd_dir / "scored[bold].csv"
    scored = run_cli("predict", "t-fairness", str(data), "-o", str(out), home=home)
    assert scored.code == 0, scored.err
    assert scored.out.rstrip().endswith(f"→ {out}"), scored.out
