"""Writes the single-instance request bodies the HTTP benchmark posts.

    python payloads.py CSV OUTDIR [--row N]

``v1.json``: ``{"instances": [record]}``; ``v2.json``: one V2 tensor per column (BYTES for
strings, FP64 for numbers, shape [1]); ``v2b.bin``: the same tensors with their data in the binary
tensor extension, as tritonclient sends them by default (its JSON header's length in
``v2b.header-length``, for the ``Inference-Header-Content-Length`` header);
``const.json``: the same record for the floor. The record
is row N of the CSV (``;``-separated bank file or ``,``), without the target ``y`` and the dropped
``duration``.
"""

from __future__ import annotations

import argparse
import csv
import json
import struct
from pathlib import Path

DROP = {"y", "duration"}


def _value(text: str) -> float | str:
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def _binary(value: float | str) -> bytes:
    """One element in the binary tensor extension: FP64 little-endian, or a BYTES element
    (4-byte little-endian length, then UTF-8)."""
    if isinstance(value, str):
        data = value.encode()
        return len(data).to_bytes(4, "little") + data
    return struct.pack("<d", value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("csv", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--row", type=int, default=0)
    args = parser.parse_args()
    text = args.csv.read_text(encoding="utf-8")
    delimiter = ";" if text.splitlines()[0].count(";") else ","
    rows = csv.DictReader(text.splitlines(), delimiter=delimiter)
    record = next(r for i, r in enumerate(rows) if i == args.row)
    instance = {k: _value(v) for k, v in record.items() if k not in DROP}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "v1.json").write_text(json.dumps({"instances": [instance]}))
    inputs = [
        {
            "name": k,
            "datatype": "BYTES" if isinstance(v, str) else "FP64",
            "shape": [1],
            "data": [v],
        }
        for k, v in instance.items()
    ]
    (args.out / "v2.json").write_text(json.dumps({"inputs": inputs}))
    blobs = [_binary(item["data"][0]) for item in inputs]
    for item, blob in zip(inputs, blobs, strict=True):
        del item["data"]
        item["parameters"] = {"binary_data_size": len(blob)}
    head = json.dumps({"inputs": inputs}).encode()
    (args.out / "v2b.bin").write_bytes(head + b"".join(blobs))
    (args.out / "v2b.header-length").write_text(str(len(head)))
    (args.out / "const.json").write_text(json.dumps({"instances": [instance]}))


if __name__ == "__main__":
    main()
