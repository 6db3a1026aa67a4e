"""The per-request path of a preprocessor: a few rows encoded in plain Python.

A numpy call costs a microsecond or more whatever its size, and the vectorised
path makes several per column, so a one-row request spent most of its time in
fixed costs. A :class:`RowPlan` instead computes each row's non-zero cells in plain
Python and writes each into a zeroed C float array (:mod:`array`) with one scalar
assignment, whose float64 → float32 cast is the vectorised path's; numpy then views
that memory as the ``[n, width]`` matrix. (Scalar assignments cost less than
collecting the cells and assigning them with one fancy index, and an ``array``
assignment is a shorter code path than a numpy one, which counts under load.)

The output is bit for bit the vectorised path's, because every step does the same
arithmetic on the same values:

* numbers: ``(x - mean) * (1 / std)`` in float64, rounded to float32 once (as
  ``np.multiply(..., out=float32)`` does); bins with ``bisect_right`` over the edges
  (``np.searchsorted(side="right")``). A log1p column goes through the encoder's
  own vectorised ``write`` on a one-value array (float32 arithmetic, numpy's SIMD
  ``log``, which gives each element the same result at any position and length);
  its results are memoised per raw value, since counts repeat.
* categories and booleans: the same dict lookups, falling back on the same
  ``_slot``/``_bit`` functions, as :func:`~modelry.features.values.lookup`.
* anything else (text, dates, dictionary-encoded columns, unusual dtypes): the
  encoder's ``prepare`` and ``write`` on the column, into its block of the output.

A column may be a plain list of values (:data:`~modelry.data.columns.InputColumn`), as
the HTTP codecs hand a request's rows over: it is read as the array it stands for
(a list of numbers as the float64 array, anything else as the object array).

Values are checked column by column, in encoder order, so a bad value raises the
same :class:`~modelry.errors.InvalidInputError` (column, row, value) as the
vectorised path.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections.abc import Callable, Mapping
from itertools import repeat
from typing import Any, TypeAlias

import numpy as np

from modelry.data.columns import InputColumn, Records, as_array
from modelry.features.boolean import _FAST, _INVALID, _MISSING, BooleanEncoder, _bit
from modelry.features.categorical import CategoricalEncoder
from modelry.features.encoders import AnyEncoder
from modelry.features.numeric import NumericEncoder
from modelry.features.values import invalid_value, to_float

MAX_ROWS = 16
"""Up to this many rows the row path is used, where it is clearly faster. For the bank model
(19 encoders, 187 dense columns) the compiled row path took ~18 µs for 1 row and ~110 µs
for 16 (records, as V1 hands them over), against ~210 and ~280 µs vectorised on the same
input (``bench/preprocess.py [--vectorised]``, medians on a noisy 2-core VM); before the
compiled path the two crossed near 35 rows."""

LOG_CACHE_LIMIT = 4096
"""Memoised log1p results per column; beyond this, values are computed, not stored."""

_UNSEEN = -2
_INF = math.inf
_FLOAT64 = np.dtype(np.float64)
_OBJECT = np.dtype(object)
_NDARRAY = np.ndarray
_NO_CODES = np.zeros(0, dtype=np.int64)  # numeric encoders write no codes
_NUMBERS = frozenset({int, float})
_ZERO = array("f", [0.0])

Cells: TypeAlias = "array[float]"
"""The dense output, flat: a cell's index is ``row * width + column``. A C float array:
assigning a Python float to a cell is a plain C cast (as numpy's float64 → float32 cast),
without numpy's per-call machinery; numpy then views the same memory."""

Blocks = list[tuple[int, np.ndarray]]
"""Encoded ``[n, k]`` float32 blocks by first dense column, from vectorised encoders."""

Step = Callable[[InputColumn, Cells, list[int], Blocks, int], None]
"""Encodes one column of ``n`` rows into the cells, the flat codes list, or a block."""


class RowPlan:
    """Encodes a few rows: one step per encoder, each at its fixed output offsets.

    Args:
        plan: ``(encoder, first dense column, code column or -1)`` per encoder.
        width: Dense columns in all.
        n_codes: Code columns in all.
    """

    def __init__(self, plan: list[tuple[AnyEncoder, int, int]], width: int, n_codes: int) -> None:
        self.width = width
        self.n_codes = n_codes
        self._steps: list[tuple[str, Step]] = [
            (encoder.name, _step(encoder, start, code, width, n_codes))
            for encoder, start, code in plan
        ]
        self._plain = _compile_plain(plan, self._steps, width, n_codes, records=False)
        self._plain_records = _compile_plain(plan, self._steps, width, n_codes, records=True)

    def transform(
        self, columns: Mapping[str, InputColumn], n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(dense, codes)`` of ``n`` rows; the caller checked names and row counts."""
        cells: Cells = _ZERO * (n * self.width)  # float64 values cast as np.multiply(out=) does
        codes = [0] * (n * self.n_codes)
        blocks: Blocks = []
        plain = self._plain_records if type(columns) is Records else self._plain
        if not plain(columns, n, cells, codes, blocks):
            cells, codes, blocks = _ZERO * (n * self.width), [0] * (n * self.n_codes), []
            for name, step in self._steps:
                step(columns[name], cells, codes, blocks, n)
        out = np.frombuffer(cells, dtype=np.float32).reshape(n, self.width)
        for start, block in blocks:
            out[:, start : start + block.shape[1]] = block
        if self.n_codes:
            return out, np.array(codes, dtype=np.int64).reshape(n, self.n_codes)
        return out, np.empty((n, 0), dtype=np.int64)


def _step(encoder: AnyEncoder, start: int, code: int, width: int, n_codes: int) -> Step:
    if isinstance(encoder, NumericEncoder):
        return _numeric(encoder, start, width)
    if isinstance(encoder, CategoricalEncoder):
        return _categorical(encoder, start, code, width, n_codes)
    if isinstance(encoder, BooleanEncoder):
        return _boolean(encoder, start, width)
    return _generic(encoder, start, code, width, n_codes)


def _numeric(encoder: NumericEncoder, start: int, width: int) -> Step:
    name = encoder.name
    fill, mean, inverse = encoder.fill_, encoder.mean_, 1.0 / encoder.std_
    indicator = encoder.indicator_
    edges = list(encoder.edges_)
    first_bin = start + (2 if indicator else 1)
    scaled = _log_scaled(encoder) if encoder.log1p_ else None

    def step(values: InputColumn, cells: Cells, codes: list[int], blocks: Blocks, n: int) -> None:
        if type(values) is list and set(map(type, values)) <= _NUMBERS:
            items = values  # what the codecs send: ints and floats
        elif type(values) is _NDARRAY and values.dtype is _FLOAT64:
            items = values.tolist()
        else:  # strings, None, ints, Coded: the vectorised parser, and its errors
            items = to_float(as_array(values), name).tolist()
        base = start
        for row, x in enumerate(items):
            if x - x != 0:  # not finite (x - x is NaN for NaN and ±inf)
                if x == _INF or x == -_INF:
                    raise invalid_value(name, row, x, "a finite number")
                x = fill  # NaN: missing
                if indicator:
                    cells[base + 1] = 1.0
            cells[base] = (x - mean) * inverse if scaled is None else scaled(x)
            if edges:
                cells[base - start + first_bin + bisect_right(edges, x)] = 1.0
            base += width

    return step


def _log_scaled(encoder: NumericEncoder) -> Callable[[float], float]:
    """The encoder's float32 output for one (filled, finite) raw value of a log1p column."""
    cache: dict[float, float] = {}  # one dict operation at a time: safe across threads
    width = encoder.n_dense

    def scaled(x: float) -> float:
        value = cache.get(x)
        if value is None:
            block = np.zeros((1, width), dtype=np.float32)  # per call: threads share this
            encoder.write(np.array([x], dtype=np.float64), block, 0, _NO_CODES)
            value = float(block[0, 0])
            if len(cache) < LOG_CACHE_LIMIT:
                cache[x] = value
        return value

    return scaled


def _categorical(
    encoder: CategoricalEncoder, start: int, code: int, width: int, n_codes: int
) -> Step:
    index, slot_of, onehot = encoder.index_, encoder._slot, encoder.onehot_

    def step(values: InputColumn, cells: Cells, codes: list[int], blocks: Blocks, n: int) -> None:
        if isinstance(values, list) or (type(values) is _NDARRAY and values.dtype is _OBJECT):
            # values.lookup: the verbatim keys in C, anything else via _slot.
            items = values if isinstance(values, list) else values.tolist()
            try:
                slots = list(map(index.get, items, repeat(_UNSEEN, len(items))))
            except TypeError:  # an unhashable value
                slots = [_UNSEEN] * len(items)
            if _UNSEEN in slots:
                slots = [
                    slot_of(item) if slot == _UNSEEN else slot
                    for item, slot in zip(items, slots, strict=True)
                ]
        else:
            slots = encoder.prepare(values).tolist()
        if onehot:  # a row's hot cell: start + slot
            cell = start
            for slot in slots:
                cells[cell + slot] = 1.0
                cell += width
        else:  # a row's code cell
            cell = code
            for slot in slots:
                codes[cell] = slot
                cell += n_codes

    return step


def _boolean(encoder: BooleanEncoder, start: int, width: int) -> Step:
    name, mean, indicator = encoder.name, encoder.mean_, encoder.indicator_

    def step(values: InputColumn, cells: Cells, codes: list[int], blocks: Blocks, n: int) -> None:
        if isinstance(values, list) or (type(values) is _NDARRAY and values.dtype is _OBJECT):
            bits: list[float] = []
            for row, value in enumerate(values if isinstance(values, list) else values.tolist()):
                try:
                    bit = _FAST.get(value, _UNSEEN)
                except TypeError:  # unhashable
                    bit = _UNSEEN
                if bit == _UNSEEN:
                    bit = _bit(value)
                if bit == _INVALID:
                    raise invalid_value(name, row, value, "a boolean (true/false, yes/no, 1/0)")
                bits.append(math.nan if bit == _MISSING else float(bit))
        else:
            bits = encoder.prepare(values).tolist()
        base = start
        for x in bits:
            if x != x:
                cells[base] = mean
                if indicator:
                    cells[base + 1] = 1.0
            else:
                cells[base] = x
            base += width

    return step


def _generic(encoder: AnyEncoder, start: int, code: int, width: int, n_codes: int) -> Step:
    """The encoder's own vectorised prepare and write: a block, copied in at the end."""
    n_dense = encoder.n_dense

    def step(values: InputColumn, cells: Cells, codes: list[int], blocks: Blocks, n: int) -> None:
        prepared = encoder.prepare(as_array(values))
        block = np.zeros((n, n_dense), dtype=np.float32)
        column = np.zeros(n, dtype=np.int64)
        encoder.write(prepared, block, 0, column)
        if code >= 0:
            for row, value in enumerate(column.tolist()):
                codes[row * n_codes + code] = value
        if n_dense:
            blocks.append((start, block))

    return step


PlainPath = Callable[[Mapping[str, InputColumn], int, Cells, list[int], Blocks], bool]
"""Encodes plain rows and says True; or says False, some cells perhaps written, when a
value needs the steps: the steps then encode the rows from scratch."""


def _compile_plain(
    plan: list[tuple[AnyEncoder, int, int]],
    steps: list[tuple[str, Step]],
    width: int,
    n_codes: int,
    *,
    records: bool,
) -> PlainPath:
    """One Python function per model for the common request: the steps' arithmetic, inlined.

    With ``records`` it reads :class:`~modelry.data.columns.Records` row by row (a
    record's value is ``rows[r][name]``), else list columns (``columns[name][r]``).

    It covers rows whose values the steps would take as they are: numbers that are
    finite ``int``/``float`` (not bools), categories any hashable value, booleans any
    value but an invalid one. Rows go outermost and every column is straight-line code,
    with the model's constants bound by name, so a cell costs a few bytecodes instead of
    a step call, a type scan and a loop per column (a one-row bank request: ~9 µs
    instead of ~24). Anything else (an array, a NaN, a string in a number column, an
    unhashable category, a bad boolean) returns False, and the steps, in encoder
    order, encode the rows from scratch and raise their usual errors.
    Columns the steps encode with the vectorised encoders (text, dates) run their step
    after the rows. The source holds only integers and generated names; the model's
    values (column names, means, edges, lookup tables) are bound in its namespace.
    """
    env: dict[str, Any] = {"bisect_right": bisect_right, "BOOL": _FAST}

    def read(i: int) -> str:
        return f"row[K{i}]" if records else f"c{i}[r]"

    listed: list[str] = []  # the columns read per row
    body: list[str] = []
    after: list[str] = []
    for i, ((encoder, start, code), (name, step)) in enumerate(zip(plan, steps, strict=True)):
        env[f"K{i}"] = name
        if isinstance(encoder, NumericEncoder | CategoricalEncoder | BooleanEncoder):
            listed.append(f"c{i}")
        if isinstance(encoder, NumericEncoder):
            body += [
                f"x = {read(i)}",
                "if (type(x) is not float and type(x) is not int) or x - x != 0:",
                "    return False",
            ]
            if encoder.log1p_:
                env[f"L{i}"] = _log_scaled(encoder)
                body.append(f"cells[base + {start}] = L{i}(x)")
            else:
                env[f"M{i}"], env[f"I{i}"] = encoder.mean_, 1.0 / encoder.std_
                body.append(f"cells[base + {start}] = (x - M{i}) * I{i}")
            if len(encoder.edges_):
                env[f"E{i}"] = list(encoder.edges_)
                first_bin = start + (2 if encoder.indicator_ else 1)
                body.append(f"cells[base + {first_bin} + bisect_right(E{i}, x)] = 1.0")
        elif isinstance(encoder, CategoricalEncoder):
            env[f"X{i}"], env[f"S{i}"] = encoder.index_, encoder._slot
            body += [
                f"v = {read(i)}",
                f"s = X{i}.get(v, {_UNSEEN})",  # TypeError when unhashable: the steps
                f"if s == {_UNSEEN}:",
                f"    s = S{i}(v)",
            ]
            if encoder.onehot_:
                body.append(f"cells[base + {start} + s] = 1.0")
            else:
                body.append(f"codes[cbase + {code}] = s")
        elif isinstance(encoder, BooleanEncoder):
            env[f"B{i}"], env[f"M{i}"] = _bit, encoder.mean_
            body += [
                f"v = {read(i)}",
                f"b = BOOL.get(v, {_UNSEEN})",
                f"if b == {_UNSEEN}:",
                f"    b = B{i}(v)",
                "if b == 0 or b == 1:",
                f"    cells[base + {start}] = float(b)",
                f"elif b == {_MISSING}:",
                f"    cells[base + {start}] = M{i}",
            ]
            if encoder.indicator_:
                body.append(f"    cells[base + {start + 1}] = 1.0")
            body += ["else:", "    return False"]
        else:
            env[f"T{i}"] = step
            after.append(f"T{i}(columns[K{i}], cells, codes, blocks, n)")
    source = ["def plain(columns, n, cells, codes, blocks):", "    try:"]
    if records:
        source += ["        base = cbase = 0", "        for row in columns.rows:"]
    else:
        source += [f"        {c} = columns[K{c[1:]}]" for c in listed]
        if listed:
            test = " or ".join(f"type({c}) is not list" for c in listed)
            source += [f"        if {test}:", "            return False"]
        source += ["        base = cbase = 0", "        for r in range(n):"]
    source += [f"            {line}" for line in body]
    source += [f"            base += {width}", f"            cbase += {n_codes}"]
    source += ["    except Exception:", "        return False"]
    source += [f"    {line}" for line in after]
    source.append("    return True")
    exec(compile("\n".join(source), f"<row plan of {len(plan)} encoders>", "exec"), env)
    plain: PlainPath = env["plain"]
    return plain
