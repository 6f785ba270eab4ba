"""Amazon ECS as the deployer: a task-definition revision with the tagged image, then the service.

`[deploy] provider = "ecs"`. A deploy describes the service's current task definition,
registers an identical revision whose `container` runs `<image>:<tag>` (tagged with the
attempt's key, which is how `reconcile` finds it after a crash), updates the service and
follows the PRIMARY deployment (`rolloutState`, running/desired/failed tasks) until ECS says
COMPLETED or FAILED. A rollback passes `restore`, the task definition ARN journaled before the
release (see `running`), and the service goes back to exactly it.

Before writing, the deployer compares: a service that already runs `<image>:<tag>` (a resumed
release) is followed, never updated again. boto3 loads only when the provider is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..durations import format_duration
from .aws_session import AWS_SETTINGS, AwsClients, AwsError, clients_for, split_image
from .base import DeployResult, ProgressCallback, ProviderError, Running
from .ecs_rollout import Rollout, new_events, progress_of, read_rollout
from .registry import BuildContext, Check, ProviderSpec, Setting

if TYPE_CHECKING:
    from ..clock import Clock

KEY_TAG = "shipdeck-key"  # on a registered revision: the deploy attempt that made it
VERSION_TAG = "shipdeck-version"
# What RegisterTaskDefinition accepts of a DescribeTaskDefinition answer (the rest is ECS's bookkeeping).
REGISTERABLE = (
    "family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
    "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
    "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform", "enableFaultInjection",
)


class EcsDeployer:
    """The Deployer (and KnowsRunning) for one ECS service."""

    def __init__(
        self, clients: AwsClients, *, cluster: str, service: str, container: str, image: str, clock: Clock,
        timeout: float = 900.0, poll: float = 5.0,
    ) -> None:
        self.clients = clients
        self.cluster = cluster
        self.service = service
        self.container = container
        self.image = image.rstrip("/")
        self.clock = clock
        self.timeout = timeout
        self.poll = poll

    @property
    def where(self) -> str:
        return f"ECS service {self.service} in cluster {self.cluster} ({self.clients.describe()})"

    # -- what runs ---------------------------------------------------------------------------

    async def running(self) -> Running:
        """The tag of the container's image in the service's current task definition (None if not ours)."""
        arn = str((await self._service())["taskDefinition"])
        definition, _ = await self._task_definition(arn)
        reference = self._container_image(definition, arn)
        repository, tag = split_image(reference)
        restore = {"task_definition": arn}
        if repository != self.image or tag is None:
            return Running(None, f"{self.container} in {_short(arn)} runs {reference}, not a tag of {self.image}", restore)
        return Running(tag, f"{self.container} in {_short(arn)} runs {reference}", restore)

    # -- deploy ------------------------------------------------------------------------------

    async def deploy(
        self, tag: str, key: str, on_progress: ProgressCallback, restore: Mapping[str, str] | None = None
    ) -> DeployResult:
        """Put `<image>:<tag>` on the service (or exactly `restore["task_definition"]`) and follow it."""
        service = await self._service()
        current = str(service["taskDefinition"])
        seen: set[str] = set()
        new_events(service, seen)  # what happened before this deploy is not its log
        target = (restore or {}).get("task_definition")
        if target:
            await self._task_definition(target)  # still there? a deregistered ARN is refused now, not mid-update
            note = f"restoring {_short(target)}"
        else:
            definition, tags = await self._task_definition(current)
            if self._container_image(definition, current) == f"{self.image}:{tag}":
                target, note = current, f"{_short(current)} already runs {tag}: following it"
            else:
                target = await self._registered(definition, tag, key)
                note = f"registered {_short(target)} with {self.image}:{tag}"
        if current != target:
            await self.clients.call("ecs", "update_service", f"to {_short(target)}", cluster=self.cluster, service=self.service, taskDefinition=target)
            note += f"; {self.service} updated from {_short(current)}"
        return await self._follow(tag, target, on_progress, note, seen)

    async def reconcile(self, tag: str, key: str, on_progress: ProgressCallback) -> DeployResult | None:
        """After a crash: follow a deployment of `<image>:<tag>`, or None when the service never got one.

        A revision this attempt registered that the service does not run (and no deployment
        lists) cannot be told apart from a rollout ECS already rolled back: ProviderError.
        """
        service = await self._service()
        wanted = f"{self.image}:{tag}"
        # The service's own task definition first: it is what the last update_service asked for.
        candidates = [str(service["taskDefinition"])] + [str(d.get("taskDefinition", "")) for d in service.get("deployments") or []]
        for arn in dict.fromkeys(candidates):
            definition, _ = await self._task_definition(arn)
            if self._container_image(definition, arn) == wanted:
                return await self._follow(tag, arn, on_progress, f"found {_short(arn)} on the service", _all_but_recent(service))
        latest, tags = await self._task_definition(_family(str(service["taskDefinition"])))
        if tags.get(KEY_TAG) == key:
            raise ProviderError(
                f"{self.where}: {_short(str(latest['taskDefinitionArn']))} was registered for this deploy ({key}) but the service "
                "does not run it: either the update never happened or ECS rolled it back. Check the service's events "
                f"(aws ecs describe-services --cluster {self.cluster} --services {self.service})"
            )
        return None

    async def _registered(self, definition: Mapping[str, Any], tag: str, key: str) -> str:
        """A new revision like `definition` with the tagged image; reuses one this attempt already registered."""
        family = str(definition["family"])
        latest, latest_tags = await self._task_definition(family)
        if latest_tags.get(KEY_TAG) == key and self._container_image(latest, family) == f"{self.image}:{tag}":
            return str(latest["taskDefinitionArn"])  # registered before a crash, never put on the service
        fields = {name: definition[name] for name in REGISTERABLE if definition.get(name) not in (None, [], {})}
        fields["containerDefinitions"] = [
            {**container, "image": f"{self.image}:{tag}"} if container.get("name") == self.container else dict(container)
            for container in definition["containerDefinitions"]
        ]
        _, old_tags = await self._task_definition(str(definition["taskDefinitionArn"]))
        tags = {**{k: v for k, v in old_tags.items() if not k.startswith("shipdeck-")}, KEY_TAG: key, VERSION_TAG: tag}
        answer = await self.clients.call(
            "ecs", "register_task_definition", f"for {self.image}:{tag}", **fields, tags=[{"key": k, "value": v} for k, v in tags.items()]
        )
        return str(answer["taskDefinition"]["taskDefinitionArn"])

    async def _follow(self, tag: str, target: str, on_progress: ProgressCallback, note: str, seen: set[str]) -> DeployResult:
        """Report the deployment of `target` until ECS decides; ProviderError when time runs out.

        `seen` holds the service events that are not this deploy's log.
        """
        deadline = self.clock.now() + self.timeout
        label = f"{self.service} → {_short(target)}"
        last: tuple[object, ...] | None = None
        rollout: Rollout | None = None
        log: tuple[str, ...] = (note,)
        while True:
            service = await self._service()
            rollout = read_rollout(service, target)
            log += new_events(service, seen)
            if rollout.signature != last or log:
                await on_progress(progress_of(rollout, label, log))
                last, log = rollout.signature, ()
            evidence = {"task definition": target, "deployment": rollout.deployment_id, "tasks": f"{rollout.running}/{rollout.desired}"}
            if rollout.state == "COMPLETED":
                return DeployResult(tag, True, f"{self.service} runs {_short(target)} ({rollout.running}/{rollout.desired} tasks)", evidence)
            if rollout.state == "FAILED":
                return DeployResult(tag, False, f"ECS deployment of {_short(target)} failed: {rollout.reason or 'no reason given'}", evidence)
            if rollout.state in ("ROLLED_BACK", "GONE"):
                back = _short(rollout.primary_task_definition or str(service.get("taskDefinition", "")))
                why = f": {rollout.reason}" if rollout.reason else ""
                return DeployResult(tag, False, f"ECS circuit breaker rolled {self.service} back to {back}{why}", {**evidence, "rolled back to": back})
            if self.clock.now() >= deadline:
                raise ProviderError(
                    f"{self.where}: deployment {rollout.deployment_id} of {_short(target)} still {rollout.state} after "
                    f"{format_duration(self.timeout)} ({rollout.running}/{rollout.desired} tasks running, {rollout.failed} failed). "
                    "Production state is unknown: some tasks may run the new version. Check the service's deployments and events "
                    f"(aws ecs describe-services --cluster {self.cluster} --services {self.service})"
                )
            await self.clock.sleep(min(self.poll, max(deadline - self.clock.now(), 0.0)))

    # -- reading ECS -------------------------------------------------------------------------

    async def _service(self) -> Mapping[str, Any]:
        answer = await self.clients.call("ecs", "describe_services", "", cluster=self.cluster, services=[self.service])
        services = [s for s in answer.get("services") or [] if s.get("status") != "INACTIVE"]
        if not services:
            reason = "; ".join(str(f.get("reason", "")) for f in answer.get("failures") or []) or "not found"
            raise AwsError(f"{self.where}: {reason}; check cluster and service in [deploy]", "ServiceNotFound")
        return dict(services[0])

    async def _task_definition(self, name: str) -> tuple[Mapping[str, Any], dict[str, str]]:
        """A task definition (by ARN, or a family's latest revision) and its tags."""
        answer = await self.clients.call("ecs", "describe_task_definition", f"for {name}", taskDefinition=name, include=["TAGS"])
        tags = {str(t.get("key")): str(t.get("value")) for t in answer.get("tags") or []}
        return answer["taskDefinition"], tags

    def _container_image(self, definition: Mapping[str, Any], arn: str) -> str:
        containers = definition.get("containerDefinitions") or []
        for container in containers:
            if container.get("name") == self.container:
                return str(container.get("image", ""))
        names = ", ".join(str(c.get("name")) for c in containers) or "none"
        raise ProviderError(f"{self.where}: {_short(arn)} has no container named {self.container!r} (it has: {names}); fix [deploy] container")

    async def check(self) -> list[Check]:
        """`shipdeck doctor`: the cluster and service answer, and the container runs our image."""
        try:
            running = await self.running()
        except ProviderError as error:
            return [Check(False, self.where, str(error))]
        rows = [Check(True, self.where, f"readable; {running.detail}")]
        if running.version is None:
            rows.append(Check(False, f"[deploy] image {self.image}", f"the service does not run a tag of it: {running.detail}"))
        return rows


def _all_but_recent(service: Mapping[str, Any], keep: int = 5) -> set[str]:
    """Service events to leave out of a resumed deploy's log: all but the newest few (ECS lists newest first)."""
    seen: set[str] = set()
    new_events({"events": list(service.get("events") or [])[keep:]}, seen)
    return seen


def _short(arn: str) -> str:
    """`arn:…:task-definition/web:7` -> `web:7`."""
    return arn.rsplit("/", 1)[-1]


def _family(arn: str) -> str:
    return _short(arn).rsplit(":", 1)[0]


def build(ctx: BuildContext) -> EcsDeployer:
    settings = ctx.settings
    return EcsDeployer(
        clients_for(ctx),
        cluster=settings["cluster"],
        service=settings["service"],
        container=settings["container"],
        image=settings["image"],
        clock=ctx.clock,
        timeout=settings["timeout"],
        poll=settings["poll"],
    )


async def check(ctx: BuildContext) -> list[Check]:
    return await build(ctx).check()


PROVIDERS = (
    ProviderSpec(
        "deploy",
        "ecs",
        "Amazon ECS: a task-definition revision with the tagged image, the service updated and its rollout followed",
        {
            "cluster": Setting("str", required=True, help="the ECS cluster name"),
            "service": Setting("str", required=True, help="the ECS service name"),
            "container": Setting("str", required=True, help="the container in the task definition whose image changes"),
            "image": Setting("str", required=True, help="the image repository URI without tag, like 123.dkr.ecr.us-east-1.amazonaws.com/web"),
            **AWS_SETTINGS,
            "timeout": Setting("duration", default=900.0, minimum=1.0, help="how long a rollout may take before production state is unknown"),
            "poll": Setting("duration", default=5.0, minimum=0.01, help="how often the rollout is read"),
        },
        build=build,
        check=check,
        example={
            "provider": "ecs",
            "cluster": "prod",
            "service": "web",
            "container": "web",
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web",
            "region": "us-east-1",
        },
    ),
)
