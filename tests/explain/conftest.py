"""The model every explanation test reads: trained once per session on known effects."""

from __future__ import annotations

import pytest
from explainkit import Trained, train_known

from modelry.data.schema import Task


@pytest.fixture(scope="session")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return train_known(tmp_path_factory.mktemp("explain-binary"), Task.BINARY, 4000, 15)
