import subprocess
import sys
import zlib

import numpy as np

from modelry.data.columns import Coded
from modelry.features.feature_config import TextFeature
from modelry.features.text import TextEncoder, bucket


def objects(*values: object) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def fitted(n: int = 64) -> TextEncoder:
    return TextEncoder(TextFeature(name="note", n_features=n)).fit(objects("x"))


def test_rows_are_l2_normalised_log_counts_of_hashed_tokens() -> None:
    out = fitted().transform(objects("Hello, hello world!", "World"))
    assert out.shape == (2, 64) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    h = zlib.crc32(b"hello") % 64
    w = zlib.crc32(b"world") % 64
    expected = np.zeros(64)
    expected[h] += np.log1p(2)
    expected[w] += np.log1p(1)
    np.testing.assert_allclose(out[0], expected / np.linalg.norm(expected), rtol=1e-6)
    assert out[1, w] == 1.0


def test_missing_and_empty_text_is_zero() -> None:
    out = fitted().transform(objects(None, "", "!!!"))
    assert not out.any()


def test_hashing_is_stable_across_processes() -> None:
    code = (
        "from modelry.features.text import bucket; "
        "print([bucket(t, 256) for t in ('marketing', 'données', 'python')])"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert runs == {str([bucket(t, 256) for t in ("marketing", "données", "python")]) + "\n"}


def test_coded_equals_objects_and_round_trip() -> None:
    enc = fitted(16)
    coded = Coded(codes=np.array([1, 0, -1, 1]), categories=objects("a b", "b c c"))
    np.testing.assert_array_equal(enc.transform(coded), enc.transform(coded.decode()))
    again = TextEncoder.from_dict(enc.to_dict())
    np.testing.assert_array_equal(again.transform(coded), enc.transform(coded))
    assert again.output_names[:2] == ["note#0", "note#1"]


def test_many_rows_cross_chunks() -> None:
    texts = objects(*[f"word{i % 50} other" for i in range(20_000)])
    out = fitted(32).transform(texts)
    np.testing.assert_array_equal(out[0], out[50 * 300])
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)


def test_contact_data_is_redacted_before_hashing_in_every_path() -> None:
    from modelry.data.columns import Coded

    notes = np.array(["mail ann@example.com now", "call +44 20 7946 0958", "plain"], dtype=object)
    enc = TextEncoder(TextFeature(name="notes", n_features=64)).fit(notes)
    placeholders = np.array(["mail [EMAIL] now", "call [PHONE]", "plain"], dtype=object)
    expected = enc.transform(placeholders)
    np.testing.assert_array_equal(enc.transform(notes), expected)
    coded = Coded(codes=np.array([0, 1, 2]), categories=notes)
    np.testing.assert_array_equal(enc.transform(coded), expected)
