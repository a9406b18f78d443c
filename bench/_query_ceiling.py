"""The ceiling for bench/query.py: a bare FastAPI app returning prepared bytes from memory.

    python bench/_query_ceiling.py DIR HOST PORT

Serves every file of DIR at `/NAME` with the media type listed in `DIR/types.json`, on uvicorn with
the settings `dsm serve` uses (one worker, log level warning, no access log): what DSM's answers
would cost if producing the bytes were free.
"""

import json
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response


def create(folder: Path) -> FastAPI:
    types = json.loads((folder / "types.json").read_text())
    bodies = {name: (folder / name).read_bytes() for name in types}
    app = FastAPI()

    @app.get("/{name}")
    def answer(name: str) -> Response:
        return Response(bodies[name], media_type=types[name])

    @app.get("/health/live")
    def live() -> dict:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    uvicorn.run(
        create(Path(sys.argv[1])),
        host=sys.argv[2],
        port=int(sys.argv[3]),
        log_level="warning",
        access_log=False,
    )
