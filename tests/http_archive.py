"""A local HTTP server on 127.0.0.1 serving .tar.gz archives built in the tests."""

from __future__ import annotations

import io
import tarfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ServedFiles:
    files: dict[str, bytes] = field(default_factory=dict)  # URL path -> bytes
    drop_first_response: bool = False  # the first full response breaks off half-way
    ranges: list[str | None] = field(default_factory=list)  # Range header of each request


def serve(archive: ServedFiles) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            requested = self.headers.get("Range")
            archive.ranges.append(requested)
            body = archive.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            start = int(requested.split("=")[1].rstrip("-")) if requested else 0
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if archive.drop_first_response and not start:
                archive.drop_first_response = False
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body[start:])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def tar_gz(members: dict[str, bytes], extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info)
    return buffer.getvalue()
