"""The serving path preprocesses requests: this package must stay free of pandas and torch."""

import subprocess
import sys


def test_preprocessor_imports_neither_pandas_nor_torch() -> None:
    code = (
        "import sys, modelry.features.preprocessor, modelry.features.encoders; "
        "print(sorted(m for m in ('pandas', 'torch', 'sklearn') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
