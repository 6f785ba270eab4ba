"""Amazon ECR as the image registry: is the release tag's image there (digest, push time)?

`[image] provider = "ecr"`. The check_image step asks `image_details` every `poll` seconds
until the image appears or `wait` has passed (CI may still be building it). boto3 loads
only when the provider is built.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from ..durations import format_duration
from .aws_session import AWS_SETTINGS, AwsClients, AwsError, clients_for
from .registry import BuildContext, Check, ProviderSpec, Setting


class EcrImages:
    """The ImageRegistry for one ECR repository."""

    def __init__(
        self, clients: AwsClients, repository: str, registry_id: str | None = None, wait: float = 1200.0, poll: float = 15.0
    ) -> None:
        self.clients = clients
        self.repository = repository
        self.registry_id = registry_id or None
        self.wait = wait  # how long check_image waits for CI to push the image
        self.poll = poll

    def _scope(self) -> dict[str, Any]:
        scope: dict[str, Any] = {"repositoryName": self.repository}
        if self.registry_id:
            scope["registryId"] = self.registry_id
        return scope

    async def image_details(self, tag: str) -> tuple[bool, str, dict[str, str]]:
        """Whether `<repository>:<tag>` exists, a line saying so, and evidence (digest, pushed at).

        An image that is not there is (False, …); a repository that is missing, refused
        credentials or no answer raise AwsError: that is not "CI is still building".
        """
        try:
            answer = await self.clients.call(
                "ecr", "describe_images", f"for {self.repository}:{tag}", **self._scope(), imageIds=[{"imageTag": tag}]
            )
        except AwsError as error:
            if error.code == "ImageNotFoundException":
                return False, f"no image {self.repository}:{tag} in ECR ({self.clients.describe()}) yet", {}
            raise
        details = answer.get("imageDetails") or []
        if not details:
            return False, f"no image {self.repository}:{tag} in ECR ({self.clients.describe()}) yet", {}
        image = details[0]
        digest = str(image.get("imageDigest") or "unknown")
        pushed = image.get("imagePushedAt")
        pushed_text = _utc(pushed) if isinstance(pushed, datetime) else "unknown"
        evidence = {"image": f"{self.repository}:{tag}", "digest": digest, "pushed at": pushed_text}
        return True, f"{self.repository}:{tag} is in ECR ({digest[:19]}…, pushed {pushed_text})", evidence

    async def image_exists(self, tag: str) -> tuple[bool, str]:
        exists, detail, _ = await self.image_details(tag)
        return exists, detail

    async def check(self) -> list[Check]:
        """`shipdeck doctor`: the repository is reachable and these credentials may read it."""
        what = f"ECR repository {self.repository} ({self.clients.describe()})"
        try:
            answer = await self.clients.call("ecr", "describe_repositories", "", repositoryNames=[self.repository], **_registry(self.registry_id))
        except AwsError as error:
            return [Check(False, what, str(error))]
        uri = str((answer.get("repositories") or [{}])[0].get("repositoryUri", "found"))
        return [Check(True, what, f"readable: {uri}; check_image waits up to {format_duration(self.wait)} for CI")]


def _registry(registry_id: str | None) -> dict[str, str]:
    return {"registryId": registry_id} if registry_id else {}


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(ctx: BuildContext) -> EcrImages:
    settings: Mapping[str, Any] = ctx.settings
    return EcrImages(clients_for(ctx), settings["repository"], settings["registry_id"] or None, wait=settings["wait"], poll=settings["poll"])


async def check(ctx: BuildContext) -> list[Check]:
    images: EcrImages = build(ctx)
    return await images.check()


PROVIDERS = (
    ProviderSpec(
        "image",
        "ecr",
        "Amazon ECR: the image for the release tag exists (digest, push time); waits while CI builds it",
        {
            "repository": Setting("str", required=True, help="the ECR repository name, like web"),
            **AWS_SETTINGS,
            "registry_id": Setting("str", default="", help="the AWS account id owning the registry (default: the credentials' account)"),
            "wait": Setting("duration", default=1200.0, minimum=0.0, help="how long check_image waits for CI to push the image"),
            "poll": Setting("duration", default=15.0, minimum=0.01, help="how often check_image asks while it waits"),
        },
        build=build,
        check=check,
        example={"provider": "ecr", "repository": "web", "region": "us-east-1", "wait": "20m"},
    ),
)
