"""Python HTTP floor: bare Starlette on uvicorn, POST reads the body and returns a constant JSON
body (the idea of ../shared/anchors/floor_starlette.py, answering on every path the bench posts to).

Run: uvicorn floor_starlette:app --host 127.0.0.1 --port 8001 --no-access-log
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = b"[[0.5]]"


async def predict(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/{path:path}", predict, methods=["POST"])])
