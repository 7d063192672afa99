"""Static files with a content hash in their name, cached for a year."""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"


class StaticFiles:
    """Map ``css/site.css`` to ``css/site.3f2a9c1b0d.css`` and serve only what exists."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self.directory = directory
        self.by_name: dict[str, str] = {}
        self.by_fingerprint: dict[str, Path] = {}
        for path in sorted(directory.rglob("*")):
            if not path.is_file():
                continue
            name = path.relative_to(directory).as_posix()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            stem, dot, suffix = name.rpartition(".")
            fingerprinted = f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"
            self.by_name[name] = fingerprinted
            self.by_fingerprint[fingerprinted] = path

    def url(self, name: str) -> str:
        return "/static/" + self.by_name[name]

    async def endpoint(self, request: Request) -> Response:
        path = self.by_fingerprint.get(request.path_params["path"])
        if path is None:
            raise HTTPException(404)
        return FileResponse(path, headers={"Cache-Control": IMMUTABLE})
