"""The cockpit: header, checklist, deploy progress, three live charts, the rollback control and the flags."""

from __future__ import annotations

from typing import Iterable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen

from shipdeck.core.commands import Command
from shipdeck.core.events import Event, EventKind
from shipdeck.core.decisions import failed_after_production_changed
from shipdeck.core.machine import current_step, phase_of, rollback_availability
from shipdeck.core.watching import breached_series
from shipdeck.core.model import Release, StepKind, StepStatus
from shipdeck.core.sanitize import plain
from shipdeck.tui.cockpit_info import CockpitInfo
from shipdeck.tui.deploy_history import deploy_history
from shipdeck.tui.messages import CommandAnswered, DeployHistoryLoaded, ReleaseEventArrived, RunnerFinished
from shipdeck.tui.status_marks import STEP_MARKS, step_duration
from shipdeck.tui.widgets.checklist import Checklist
from shipdeck.tui.widgets.deploy_progress import DEPLOY_STEPS, DeployProgress
from shipdeck.tui.widgets.flags_panel import FlagsPanel, ramped_flags
from shipdeck.tui.widgets.header import ReleaseHeader
from shipdeck.tui.widgets.metric_chart import MetricChart
from shipdeck.tui.widgets.rollback_control import RollbackControl
from shipdeck.tui.widgets.step_summary import StepSummary

VIEW_UPDATE_DELAY = 0.25  # coalesce bursts of events: views update at most four times a second
DEFAULT_DEPLOY_WINDOW = 1800.0
DEFAULT_POST_RELEASE = 7200.0


class CockpitScreen(Screen[None]):
    """Views only: reads the state it is handed, sends commands through the app."""

    BINDINGS = [
        Binding("a", "approve", "Approve"),
        Binding("c", "confirm", "Confirm"),
        Binding("w", "waive", "Waive"),
        Binding("r", "retry", "Retry"),
        Binding("b", "rollback", "Roll back"),
        # Not in the footer (most releases ramp no flag): the flags panel shows the key.
        Binding("f", "flag_off", "Flag off", show=False),
        Binding("x", "abort", "Abort", show=False),
        Binding("d", "detail", "Detail"),
        Binding("n", "notes", "Notes"),
        Binding("h", "history", "History"),
        Binding("full_stop", "follow", "Follow current step", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_cockpit", "Quit"),
    ]

    def __init__(self, info: CockpitInfo, state: Release, history: Iterable[Event] = ()) -> None:
        super().__init__(id="cockpit")
        self.info = info
        self.state = state
        self._history = list(history)
        self._update_pending = False
        self._rollback_screen_open = False
        self._flag_off_screen_open = False
        self._over_announced = False
        self._charts: dict[str, MetricChart] | None = None
        self._chart_window_set = False

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        now = self.info.now()
        yield ReleaseHeader(self.info, self.state, id="header")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield Checklist(self.state, now, id="checklist")
                yield StepSummary(id="step-summary")
            with Vertical(id="right"):
                yield RollbackControl(self.state, id="rollback")
                yield FlagsPanel(self.state, self.info.now, id="flags")
                yield DeployProgress(id="deploy")
                with Vertical(id="charts"):
                    for health in self.state.series:
                        yield MetricChart(health, id=f"chart-{health.spec.name}")
        # No Footer here: see _mount_footer.

    def on_mount(self) -> None:
        self.call_after_refresh(self._mount_footer)
        for event in self._history:
            self._feed(event)
        self._history = []
        self._update_views()
        self.query_one(Checklist).focus()
        self._load_deploy_history()
        if breached_series(self.state) and rollback_availability(self.state)[0] and self.state.rollback is None:
            # Opened on a release whose journal already holds a sustained breach.
            self.call_after_refresh(self._answer_breach, "the journal shows a sustained breach")

    async def _mount_footer(self) -> None:
        """The key bar, after the first frame: Textual's Footer shows no keys in that frame
        anyway (it waits for the bindings), and its import, styles and widgets were a third of
        the time the cockpit took to show the release."""
        from textual.widgets import Footer

        await self.mount(Footer())
        self.refresh_bindings()  # the footer missed the bindings published before it subscribed

    @work(thread=True, exclusive=True, exit_on_error=False, group="deploy-history")
    def _load_deploy_history(self) -> None:
        """Read once: earlier deploys of this repository to this environment, for the ETA."""
        try:
            paths = self.info.journals()
        except OSError:
            return  # no history: the ETA extrapolates from progress
        history = deploy_history(paths, environment=self.state.environment, current=self.info.journal_path)
        self.post_message(DeployHistoryLoaded(history))

    @on(DeployHistoryLoaded)
    def _deploy_history_loaded(self, message: DeployHistoryLoaded) -> None:
        deploy = self.query_one(DeployProgress)
        deploy.history = message.history
        deploy.refresh()

    # -- events from the runner -----------------------------------------------------------

    @on(ReleaseEventArrived)
    def _release_event(self, message: ReleaseEventArrived) -> None:
        self.state = message.state
        self._feed(message.event)
        self._schedule_update()
        if message.event.kind is EventKind.BREACH_CONFIRMED:
            series = plain(message.event.data.get("series", "?"))
            self._answer_breach(f"the engine confirmed a sustained breach of {series}")
        elif message.event.kind is EventKind.STEP_FAILED:
            failed = failed_after_production_changed(self.state)
            if failed is not None:  # a critical path broken in production is a rollback criterion
                self._raise_rollback(True, f"{plain(failed.spec.title)} failed after the deploy")

    @on(RunnerFinished)
    def _runner_finished(self, message: RunnerFinished) -> None:
        self.state = message.state
        self._update_views()
        if message.error:
            self.notify(message.error, title="The runner stopped", severity="error", markup=False, timeout=30)

    def _feed(self, event: Event) -> None:
        """Incremental data the state does not keep: samples for the charts, the deploy log."""
        data = event.data
        if event.kind is EventKind.SAMPLE:
            self._ensure_chart_window()
            chart = self._chart(str(data.get("series", "")))
            if chart is not None:
                value = data.get("value")
                chart.add_sample(float(data.get("at", event.at)), None if value is None else float(value))
        elif event.kind is EventKind.STEP_PROGRESSED and data.get("step") in DEPLOY_STEPS:
            self.query_one(DeployProgress).progressed(str(data["step"]), data)
        elif event.kind is EventKind.PRODUCTION_CHANGED:
            self._ensure_chart_window(event.at)

    def _chart(self, name: str) -> MetricChart | None:
        # A dict, not a DOM query: a re-attach replays one SAMPLE per series per second watched.
        if self._charts is None:
            self._charts = {chart.health.spec.name: chart for chart in self.query(MetricChart)}
        return self._charts.get(name)

    def _ensure_chart_window(self, changed_at: float | None = None) -> None:
        """The time axis is the whole watch (deploy window + post-release), from the deploy."""
        if self._chart_window_set:
            return  # fixed once set (MetricChart.set_window ignores later calls)
        changed_at = self.state.production_changed_at or changed_at
        if changed_at is None:
            return
        self._chart_window_set = True
        settings = self.state.settings or {}
        span = float(settings.get("deploy_window", DEFAULT_DEPLOY_WINDOW)) + float(settings.get("post_release", DEFAULT_POST_RELEASE))
        lead_in = span * 0.04  # room left of the deploy marker so it is visible
        for chart in self.query(MetricChart):
            if chart.deploy_at is None:
                chart.deploy_at = changed_at
            chart.set_window(changed_at - lead_in, span * 1.08)

    def _schedule_update(self) -> None:
        if not self._update_pending:
            self._update_pending = True
            self.set_timer(VIEW_UPDATE_DELAY, self._update_views)

    def _update_views(self) -> None:
        self._update_pending = False
        state, now = self.state, self.info.now()
        self.query_one(ReleaseHeader).update_state(state)
        self.query_one(Checklist).update_state(state, now)
        self.query_one(RollbackControl).update_state(state)
        self.query_one(FlagsPanel).update_state(state)
        self.query_one(DeployProgress).update_state(state, now)
        if self.state.production_changed_at is not None:
            self._ensure_chart_window()
        for health in state.series:
            chart = self._chart(health.spec.name)
            if chart is not None:
                chart.set_health(health)
        self._show_step_summary()
        if phase_of(state).terminal and not self._over_announced:
            self._over_announced = True
            self.notify(f"The release is over: {phase_of(state).value.replace('_', ' ')}. Press q to leave.", markup=False, timeout=15)

    def _show_step_summary(self) -> None:
        step_id = self.query_one(Checklist).highlighted_step
        step = self.state.step(step_id) if step_id else current_step(self.state)
        panel = self.query_one(StepSummary)
        if step is None:
            panel.show(Content.styled("nothing left to do", "$text-muted"))
            return
        symbol, style = STEP_MARKS[step.status]
        duration = step_duration(step, self.info.now())
        panel.show(
            Content.assemble(
                (f"{symbol} {plain(step.spec.title)}", style),
                (f" — {step.status.value}" + (f" {duration}" if duration else ""), style),
                "\n",
                (plain(step.summary) or "no details yet", "$foreground"),
                ("  (d: detail)", "$text-muted"),
            )
        )

    @on(Checklist.StepHighlighted)
    def _step_highlighted(self, message: Checklist.StepHighlighted) -> None:
        self._show_step_summary()

    @on(Checklist.StepChosen)
    def _step_chosen(self, message: Checklist.StepChosen) -> None:
        self._open_detail(message.step_id)

    # -- actions -----------------------------------------------------------------------

    def _target_step(self, *statuses: StepStatus) -> str:
        """The highlighted step when it is in one of `statuses`, else the current step."""
        step_id = self.query_one(Checklist).highlighted_step
        step = self.state.step(step_id) if step_id else None
        if step is not None and step.status in statuses:
            return step.id
        current = current_step(self.state)
        return current.id if current is not None else ""

    def _send(self, verb: str, step: str = "", reason: str = "") -> None:
        self.app.send_command(Command(verb=verb, by=self.info.identity, step=step, reason=reason))  # type: ignore[attr-defined]

    @on(CommandAnswered)
    def _answered(self, message: CommandAnswered) -> None:
        if message.refusal:
            self.notify(message.refusal, title=f"{message.verb} refused", severity="error", markup=False, timeout=8)
        else:
            self.notify(f"{message.verb}: done", markup=False, timeout=3)

    def action_approve(self) -> None:
        self._send("approve", self._target_step(StepStatus.WAITING))

    def action_confirm(self) -> None:
        self._send("confirm", self._target_step(StepStatus.WAITING))

    def action_retry(self) -> None:
        self._send("retry", self._target_step(StepStatus.WAITING, StepStatus.FAILED))

    def action_waive(self) -> None:
        from .reason_prompt import ReasonPrompt

        step_id = self._target_step(StepStatus.WAITING, StepStatus.FAILED)
        step = self.state.step(step_id)
        if step is None:
            self.notify("No step to waive.", severity="warning")
            return
        if step.spec.kind is StepKind.APPROVAL:
            self.notify("An approval cannot be waived; approve it with a (a).", severity="warning")
            return

        def waived(reason: str | None) -> None:
            if reason:
                self._send("waive", step_id, reason)

        self.app.push_screen(ReasonPrompt(f"Waive “{plain(step.spec.title)}”", "The waiver is journaled with your name and this reason."), waived)

    def action_abort(self) -> None:
        from .reason_prompt import ReasonPrompt

        def aborted(reason: str | None) -> None:
            if reason:
                self._send("abort", reason=reason)

        self.app.push_screen(
            ReasonPrompt(f"Abort {plain(self.state.tag)}", "Only before production changes; afterwards the way back is a rollback."),
            aborted,
        )

    def action_rollback(self) -> None:
        available, why = rollback_availability(self.state)
        if not available:
            self.notify(f"Rollback unavailable: {why}", severity="warning", markup=False)
            return
        self._raise_rollback(False, "")

    @on(RollbackControl.RollbackWanted)
    def _rollback_wanted(self) -> None:
        self.action_rollback()

    def _answer_breach(self, why: str) -> None:
        """The guarded confirmation a sustained breach calls for: a breach during a flag's ramp
        stage is the flag's to undo (flag off), any other the release's (rollback)."""
        step = next((s for s in self.state.steps if s.spec.action == "ramp_stage" and s.status in (StepStatus.RUNNING, StepStatus.WAITING)), None)
        if step is not None:
            flag = plain(step.spec.params.get("flag", "a flag"))
            self.notify(f"{why} while {flag} ramps: turn the flag off?", title="Flag ramp", severity="error", markup=False)
            self.action_flag_off()
            return
        self._raise_rollback(True, why)

    def _raise_rollback(self, automatic: bool, why: str) -> None:
        from .rollback_confirm import RollbackConfirmScreen

        if self._rollback_screen_open or self.state.rollback is not None or not rollback_availability(self.state)[0]:
            return
        self._rollback_screen_open = True

        def closed(result: bool | None) -> None:
            self._rollback_screen_open = False

        self.app.push_screen(RollbackConfirmScreen(self.info, self.state, automatic=automatic, why=why), closed)

    def action_flag_off(self) -> None:
        from .flag_off_confirm import FlagOffConfirmScreen

        if not ramped_flags(self.state):
            self.notify("This release ramps no feature flag: nothing to turn off.", severity="warning", markup=False)
            return
        if self._flag_off_screen_open:
            return
        self._flag_off_screen_open = True

        def closed(result: bool | None) -> None:
            self._flag_off_screen_open = False

        self.app.push_screen(FlagOffConfirmScreen(self.info, self.state), closed)

    def action_detail(self) -> None:
        step_id = self.query_one(Checklist).highlighted_step or self._target_step()
        if step_id:
            self._open_detail(step_id)

    def _open_detail(self, step_id: str) -> None:
        from .step_detail import StepDetailScreen

        step = self.state.step(step_id)
        if step is not None:
            self.app.push_screen(StepDetailScreen(step, self.info.now()))

    def action_notes(self) -> None:
        from .notes_preview import NotesPreviewScreen

        self.app.push_screen(NotesPreviewScreen(self.info.notes_path))

    def action_history(self) -> None:
        from .history import HistoryScreen

        self.app.push_screen(HistoryScreen(self.info.journals))

    def action_help(self) -> None:
        from .help import HelpScreen

        self.app.push_screen(HelpScreen(self.BINDINGS))

    def action_follow(self) -> None:
        checklist = self.query_one(Checklist)
        checklist.follow_current_step()
        checklist.update_state(self.state, self.info.now())

    def action_quit_cockpit(self) -> None:
        self.app.action_request_quit()  # type: ignore[attr-defined]
