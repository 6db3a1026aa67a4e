"""The applications over HTTP: thin endpoints over the apps' decisions and the data plane.

``POST /v1/apps/marketing/{name}:target`` scores ``instances`` with the response model
``name`` (through the data plane, batched with everyone else's requests to it) and
chooses whom to contact for the most expected profit (:mod:`modelry.apps.marketing.targeting`),
under a budget or a capacity. The model itself stays on the standard V1 and V2 routes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from modelry.api.bodies import json_response, read_body, served_for
from modelry.apps.marketing.targeting import choose, effect_output
from modelry.errors import InvalidInputError
from modelry.protocol import v1
from modelry.protocol.codecs import records_to_columns
from modelry.protocol.predictions import relabel_row_error
from modelry.protocol.v2_wire import loads
from modelry.serving.dataplane import DataPlane

_FIELDS = {"instances", "cost_per_contact", "value_per_conversion", "budget", "capacity"}


class AppsAPI:
    """``/v1/apps/...``: the applications' decisions."""

    def __init__(self, plane: DataPlane, max_body_bytes: int) -> None:
        self.plane = plane
        self.limit = max_body_bytes

    async def target(self, request: Request, labels: list[str]) -> Response:
        body = await read_body(request, self.limit)
        served = await served_for(self.plane, request, labels)
        doc, lenient = loads(body)
        if type(doc) is not dict:
            raise InvalidInputError("body: expected an object with 'instances'", field="body")
        for name in sorted(doc.keys() - _FIELDS):
            raise InvalidInputError(f"{name}: unknown field", field=name)
        for name in ("instances", "cost_per_contact", "value_per_conversion"):
            if name not in doc:
                raise InvalidInputError(f"{name}: missing field", field=name)
        effect = effect_output(served.runtime)  # 422 unless it is a binary classifier
        columns, n_rows = records_to_columns(doc["instances"], served.spec, check_finite=lenient)
        cost = _economics(doc["cost_per_contact"], "cost_per_contact", n_rows)
        value = _economics(doc["value_per_conversion"], "value_per_conversion", n_rows)
        budget = _limit(doc.get("budget"), "budget", float)
        capacity = _limit(doc.get("capacity"), "capacity", int)
        try:
            outputs = await self.plane.outputs(served, columns, n_rows)
        except InvalidInputError as exc:
            raise relabel_row_error(exc, "instances") from exc
        selection = choose(
            outputs[effect], cost=cost, value=value, budget=budget, capacity=capacity
        )
        order = np.argsort(-selection.effect, kind="stable")
        ranked = [
            v1.TargetedCustomer(
                index=int(i),
                score=float(selection.effect[i]),
                expected_profit=float(selection.expected_profit[i]),
                contacted=bool(selection.contacted[i]),
            )
            for i in order
        ]
        answer = {"model": labels[0], "version": served.version, **selection.summary()}
        return json_response({**answer, "ranked": ranked})


def _economics(value: Any, name: str, rows: int) -> float | list[float]:
    """A number, or a list of one number per instance (the optimiser checks their signs)."""
    if type(value) in (int, float):
        return float(value)
    if type(value) is list and len(value) == rows and all(type(v) in (int, float) for v in value):
        return [float(v) for v in value]
    raise InvalidInputError(
        f"{name}: expected a number, or a list of {rows} numbers (one per instance)", field=name
    )


def _limit(value: Any, name: str, kind: type[int] | type[float]) -> Any:
    """A budget (any number) or a capacity (a whole number), or None when not given."""
    if value is None:
        return None
    if type(value) is not kind and not (kind is float and type(value) is int):
        expected = "a whole number" if kind is int else "a number"
        raise InvalidInputError(f"{name}: expected {expected}, got {value!r}", field=name)
    return kind(value)
