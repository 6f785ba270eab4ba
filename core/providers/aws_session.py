"""What the ECR and ECS providers share: a boto3 client, blocking calls off the loop, error text.

boto3 is imported only when a client is made (`shipdeck status` never loads it). Credentials
come from boto3's own chain (environment, profile, instance role); shipdeck never prints or
journals them. Error text is AWS's message about the *request*, which can quote the
Authorization header (so the access key id): the credentials boto3 signs with are masked out.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from ..sanitize import plain
from ..secrets import Secret, mask
from .base import ProviderError, in_thread
from .registry import BuildContext, Setting

# The settings every AWS provider takes: where its AWS is.
AWS_SETTINGS = {
    "region": Setting("str", required=True, help="the AWS region, like us-east-1"),
    "endpoint_url": Setting("url", default="", help="endpoint override (tests point it at a local AWS stand-in)"),
}

# Access is denied (or the credentials are wrong): retrying will not help, a person must act.
_REFUSED = {
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "IncompleteSignature",
    "SignatureDoesNotMatch",
    "ExpiredTokenException",
    "ExpiredToken",
}


class AwsError(ProviderError):
    """An AWS call failed; `code` is AWS's error code ('' when no answer came)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class AwsClients:
    """boto3 clients for one region and endpoint, made on first use (thread-safe)."""

    def __init__(self, region: str, endpoint_url: str | None, timeout: float = 20.0) -> None:
        self.region = region
        self.endpoint_url = endpoint_url or None
        self.timeout = timeout
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._session: Any = None

    def client(self, service: str) -> Any:
        with self._lock:
            existing = self._clients.get(service)
            if existing is None:
                import boto3
                from botocore.config import Config as BotoConfig

                # Few client retries: shipdeck's own polling decides how long to keep trying.
                config = BotoConfig(
                    connect_timeout=self.timeout,
                    read_timeout=self.timeout,
                    retries={"max_attempts": 3, "mode": "standard"},
                    user_agent_extra="shipdeck",
                )
                if self._session is None:
                    self._session = boto3.session.Session()
                existing = self._session.client(
                    service, region_name=self.region or None, endpoint_url=self.endpoint_url, config=config
                )
                self._clients[service] = existing
            return existing

    async def call(self, service: str, operation: str, what: str, /, **params: Any) -> dict[str, Any]:
        """`client.operation(**params)` in a worker thread; AwsError with `what` and what to do."""
        return await in_thread(self.call_blocking, service, operation, what, **params)

    def call_blocking(self, service: str, operation: str, what: str, /, **params: Any) -> dict[str, Any]:
        client = self.client(service)
        method: Callable[..., dict[str, Any]] = getattr(client, operation)
        try:
            return method(**params)
        except Exception as error:  # noqa: BLE001 - classified below; nothing from boto3 leaks raw
            raise self.error(service, operation, what, error) from None

    def error(self, service: str, operation: str, what: str, error: BaseException) -> AwsError:
        """A sentence for a failed call: which system and call, what AWS said, what to do."""
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError, PartialCredentialsError

        where = f"AWS {service.upper()} {operation} ({self.describe()})"
        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            message = plain(mask(str(error.response.get("Error", {}).get("Message", "")), self.credentials()))[:300]
            hint = (
                "check the AWS credentials in the captain's environment and their IAM permissions, then run `shipdeck doctor`"
                if code in _REFUSED
                else "check the names in shipdeck.toml"
            )
            return AwsError(f"{where} {what}: {code}: {message}; {hint}", code)
        if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
            return AwsError(
                f"{where} {what}: no AWS credentials found; export AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                "in the captain's shell, then run `shipdeck doctor`",
                "NoCredentials",
            )
        if isinstance(error, NoRegionError):
            return AwsError(f"{where} {what}: no region; set region in shipdeck.toml", "NoRegion")
        if isinstance(error, EndpointConnectionError):
            return AwsError(f"{where} {what}: no answer from the endpoint; check the network path and region", "")
        return AwsError(f"{where} {what}: {type(error).__name__}: {plain(mask(str(error), self.credentials()))[:300]}", "")

    def credentials(self) -> list[Secret]:
        """What boto3 signs with, to mask out of AWS's answers; none when it has none (or no client was made)."""
        with self._lock:
            session = self._session
        try:
            found = session.get_credentials() if session is not None else None
            frozen = found.get_frozen_credentials() if found is not None else None
        except Exception:  # noqa: BLE001 - a credential chain that fails here has nothing to mask
            return []
        if frozen is None:
            return []
        pairs = (("AWS_ACCESS_KEY_ID", frozen.access_key), ("AWS_SECRET_ACCESS_KEY", frozen.secret_key), ("AWS_SESSION_TOKEN", frozen.token))
        return [Secret(name, str(value)) for name, value in pairs if value]

    def describe(self) -> str:
        region = self.region or "default region"
        return f"{region}, {self.endpoint_url}" if self.endpoint_url else region


def clients_for(ctx: BuildContext) -> AwsClients:
    """The clients for a provider's `region` and `endpoint_url` settings."""
    return AwsClients(ctx.settings["region"], ctx.settings["endpoint_url"] or None)


def split_image(reference: str) -> tuple[str, str | None]:
    """`repo/uri:tag` -> (`repo/uri`, `tag`); the tag is None for a digest or no tag.

    A registry host may carry a port (`host:5000/web`), so only a colon after the last slash
    starts a tag.
    """
    if "@" in reference:
        return reference.split("@", 1)[0], None
    name, slash, last = reference.rpartition("/")
    if ":" in last:
        repository, tag = last.rsplit(":", 1)
        return f"{name}{slash}{repository}", tag
    return reference, None
