"""moto's real AWS server on 127.0.0.1 (a random free port), with fake credentials.

boto3 talks HTTP to it exactly as to AWS. The server runs in this process, so a test can also
reach moto's backend state (see aws_ecs_rollout.py). A `Wire` passed to `moto_server` records
every request's headers as moto saw them (the SigV4 `Authorization` header names the access key
id that signed it) and answers chosen operations with an error instead of moto.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import httpx

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
# Fake, and recognisable: a test asserts they never appear in shipdeck's output.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIACANARY0000000001", "AWS_SECRET_ACCESS_KEY": "canary-secret-4b1f9e2a7c", "AWS_DEFAULT_REGION": REGION}


@dataclass
class Wire:
    """What crossed the wire to moto, and errors to answer in its place.

    `faults` maps an operation (`DescribeServices`: the `X-Amz-Target` suffix or the `Action`
    query parameter) to (HTTP status, AWS error code, message) in AWS's JSON error shape.
    """

    headers: list[dict[str, str]] = field(default_factory=list)
    faults: dict[str, tuple[int, str, str]] = field(default_factory=dict)

    def authorizations(self) -> list[str]:
        return [h.get("Authorization", "") for h in self.headers]

    def wrap(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """A WSGI middleware around moto's application."""

        def recorded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            headers = {key[5:].replace("_", "-").title(): str(value) for key, value in environ.items() if key.startswith("HTTP_")}
            self.headers.append(headers)
            operation = headers.get("X-Amz-Target", "").rpartition(".")[2] or _query_action(environ.get("QUERY_STRING", ""))
            fault = self.faults.get(operation)
            if fault is None:
                return app(environ, start_response)
            status, code, message = fault
            body = json.dumps({"__type": code, "message": message}).encode()
            start_response(f"{status} Error", [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code), ("Content-Length", str(len(body)))])
            return [body]

        return recorded


def _query_action(query: str) -> str:
    from urllib.parse import parse_qs

    return parse_qs(query).get("Action", [""])[0]


@contextmanager
def moto_server(wire: Wire | None = None) -> Iterator[str]:
    """Start moto's server; yields its URL. Sets the fake credentials for the duration.

    With a `wire`, every request passes through `wire.wrap` first."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class Recording(ThreadedMotoServer):
        def _server_entry(self) -> None:  # moto's own, with the wire wrapped around its application
            app: Any = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(self._ip_address, self._port, wire.wrap(app) if wire else app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    saved = {name: os.environ.get(name) for name in (*CREDENTIALS, "AWS_PROFILE", "AWS_SESSION_TOKEN")}
    os.environ.update(CREDENTIALS)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    server = Recording(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def reset(url: str) -> None:
    """Forget every resource (and every patch on a backend): each test starts from an empty AWS."""
    httpx.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()


def client(service: str, url: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=url, region_name=REGION)


def push_image(url: str, repository: str, tag: str, marker: str = "") -> str:
    """Push a (manifest-only) image `repository:tag`; returns its digest."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": "sha256:" + (marker or tag).encode().hex().ljust(64, "0")[:64]},
        "layers": [],
    }
    answer = client("ecr", url).put_image(repositoryName=repository, imageTag=tag, imageManifest=json.dumps(manifest))
    return str(answer["image"]["imageId"]["imageDigest"])
