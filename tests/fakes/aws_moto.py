"""moto's real AWS server on 127.0.0.1 (a random free port), with fake credentials.

boto3 talks HTTP to it exactly as to AWS. The server runs in this process, so a test can also
reach moto's backend state (see aws_ecs_rollout.py).
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from typing import Any, Iterator

import httpx

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
# Fake, and recognisable: a test asserts they never appear in shipdeck's output.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIACANARY0000000001", "AWS_SECRET_ACCESS_KEY": "canary-secret-4b1f9e2a7c", "AWS_DEFAULT_REGION": REGION}


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's server; yields its URL. Sets the fake credentials for the duration."""
    from moto.server import ThreadedMotoServer

    saved = {name: os.environ.get(name) for name in (*CREDENTIALS, "AWS_PROFILE", "AWS_SESSION_TOKEN")}
    os.environ.update(CREDENTIALS)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
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
