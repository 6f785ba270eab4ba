"""The checklist: every step of the plan grouped as the reference process groups them."""

from __future__ import annotations

from dataclasses import dataclass
from os.path import commonprefix

from rich.cells import cell_len

from textual import on
from textual.content import Content
from textual.geometry import Region
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from shipdeck.core.machine import current_step
from shipdeck.core.model import Group, Release, StepState
from shipdeck.core.sanitize import plain

from ..status_marks import STEP_MARKS, step_duration

def _differs(new: Content, old: Content) -> bool:
    """Text or style differ (Content's own == compares the text only)."""
    return new.plain != old.plain or new.spans != old.spans


def _styles_before(content: Content, end: int) -> list[tuple[int, int, object]]:
    """The styled spans of `content` clipped to its first `end` characters."""
    return [(span.start, min(span.end, end), span.style) for span in content.spans if span.start < end]


GROUP_TITLES = {
    Group.PRE_RELEASE: "PRE-RELEASE",
    Group.RELEASE_DAY: "RELEASE DAY",
    Group.POST_RELEASE: "POST-RELEASE",
    Group.ROLLBACK: "ROLLBACK",
}


class Checklist(OptionList):
    """Steps as options (their id is the step id); group titles are disabled options."""

    DEFAULT_CSS = """
    Checklist { height: 1fr; border: none; padding: 0; }
    Checklist > .option-list--option-disabled { color: $text-muted; text-style: bold; }
    """

    @dataclass
    class StepHighlighted(Message):
        step_id: str

    @dataclass
    class StepChosen(Message):
        step_id: str

    def __init__(self, state: Release, now: float, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown_groups: tuple[Group, ...] = ()
        self._prompts: dict[str, Content] = {}
        self._follow_current = True  # until the captain moves the cursor themselves
        self.update_state(state, now)

    def update_state(self, state: Release, now: float) -> None:
        """Rebuild the options only when the groups shown change; otherwise swap changed prompts."""
        groups = self._groups(state)
        if groups != self._shown_groups:
            self._shown_groups = groups
            self._prompts = {}
            options: list[Option] = []
            for group in groups:
                options.append(Option(Content.styled(GROUP_TITLES[group], "bold"), id=f"group:{group.value}", disabled=True))
                for step in state.steps:
                    if step.spec.group is group:
                        prompt = self._prompt(step, now)
                        self._prompts[step.id] = prompt
                        options.append(Option(prompt, id=step.id))
            highlighted = self.highlighted_option.id if self.highlighted_option else None
            self.set_options(options)
            if highlighted and highlighted in self._prompts:
                self.highlighted = self.get_option_index(highlighted)
        else:
            for step in state.steps:
                if step.id not in self._prompts:
                    continue
                prompt = self._prompt(step, now)
                if _differs(prompt, self._prompts[step.id]):
                    self._prompts[step.id] = prompt
                    self._replace_row(step.id, prompt)
        if self._follow_current:
            step = current_step(state)
            if step is not None and step.id in self._prompts:
                self._move_to(step.id)

    def _replace_row(self, option_id: str, prompt: Content) -> None:
        """Swap one option's prompt and repaint only its row.

        OptionList.replace_option_prompt repaints the whole list and its scrollbar; a duration
        ticking once a second would send every row over the wire. This reaches into OptionList's
        caches (Textual is pinned exactly in pyproject.toml) and falls back to the public call
        whenever the row's height might change.
        """
        index = self.get_option_index(option_id)
        option = self.get_option_at_index(index)
        line = self._index_to_line.get(index)
        if line is None or self._line_cache.heights.get(index) != 1 or "\n" in prompt.plain:
            self.replace_option_prompt(option_id, prompt)
            return
        before = option.prompt
        option._set_prompt(prompt)
        self._option_render_cache.clear()  # rendered rows are keyed by option; re-rendered on demand
        y = line - self.scroll_offset.y
        width = self.scrollable_content_region.width
        if 0 <= y < self.scrollable_content_region.height:
            x, end = 0, width
            if isinstance(before, Content):
                same = len(commonprefix([before.plain, prompt.plain]))
                if same < len(prompt.plain) and _styles_before(before, same) == _styles_before(prompt, same):
                    # The row is unchanged up to where its text differs (a duration ticking),
                    # and blank after the longer of the two texts.
                    left = self.get_component_styles("option-list--option").padding.left
                    x = min(width - 1, left + cell_len(prompt.plain[:same]))
                    end = min(width, left + max(cell_len(before.plain), cell_len(prompt.plain)))
            self.refresh(Region(x, y, max(1, end - x), 1))

    def _move_to(self, step_id: str) -> None:
        index = self.get_option_index(step_id)
        if self.highlighted != index:
            self.highlighted = index

    @staticmethod
    def _groups(state: Release) -> tuple[Group, ...]:
        present = {s.spec.group for s in state.steps}
        order = [Group.PRE_RELEASE, Group.RELEASE_DAY, Group.POST_RELEASE]
        if state.rollback is not None:
            order.insert(0, Group.ROLLBACK)  # the rollback is what matters now: show it first
        return tuple(g for g in order if g in present)

    @staticmethod
    def _prompt(step: StepState, now: float) -> Content:
        symbol, style = STEP_MARKS[step.status]
        duration = step_duration(step, now)
        status_word = step.status.value if step.status.value not in ("passed", "pending") else ""
        parts: list[Content | tuple[str, str] | str] = [(f" {symbol} ", style), plain(step.spec.title)]
        if status_word:
            parts.append((f" {status_word}", style))
        if step.progress is not None and not step.status.finished:
            parts.append((f" {step.progress * 100:.0f}%", "$accent"))
        if duration:
            parts.append((f" {duration}", "$text-muted"))
        return Content.assemble(*parts)

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id and not event.option.id.startswith("group:"):
            self.post_message(self.StepHighlighted(event.option.id))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and not event.option.id.startswith("group:"):
            self.post_message(self.StepChosen(event.option.id))

    @property
    def highlighted_step(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None and option.id and not option.id.startswith("group:") else None

    # The cursor follows the running step until the captain moves it; then it stays put.
    def action_cursor_up(self) -> None:
        self._follow_current = False
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        self._follow_current = False
        super().action_cursor_down()

    def action_first(self) -> None:
        self._follow_current = False
        super().action_first()

    def action_last(self) -> None:
        self._follow_current = False
        super().action_last()

    def follow_current_step(self) -> None:
        """Go back to following the release (the `.` key)."""
        self._follow_current = True
