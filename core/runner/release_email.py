"""The major release's email to customers: sent once, reported, never blocking the release."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..events import EventKind
from ..model import Intent
from .effects import Effect, Unknown, Unresolved, perform
from .preflight import notes_of

if TYPE_CHECKING:
    from .context import StepContext


async def email_release(ctx: StepContext) -> None:
    """Email the release notes (major releases); a failure or a doubt becomes a note, not a wait.

    A crash between sending and journaling leaves a doubt nobody can settle from here (SMTP
    cannot be asked): the email is then *not* sent again, since customers receiving it twice
    is worse than a captain checking the inbox, and the note says which Message-ID to look for.
    """
    if ctx.state.rehearsal or ctx.config.rehearsal:
        # A rehearsal copies the real [email] table: customers must never hear of a rehearsal.
        await ctx.emit(EventKind.NOTE, {"message": "rehearsal: the release email to customers was not sent"})
        return
    mailer = ctx.services.email
    if mailer is None:
        await ctx.emit(EventKind.NOTE, {"message": 'no release email sent: [email] provider = "none"; customer communication is a manual step'})
        return
    key = f"{ctx.key}:email"

    async def act(key: str) -> Effect:
        notes = await notes_of(ctx)
        subject = f"{ctx.config.project.name} {ctx.state.tag} is out"
        to = await mailer.send(subject, notes.to_markdown(), key)
        return Effect(True, f"release email sent to {to}")

    async def reconcile(intent: Intent) -> Effect | None:
        raise Unknown("SMTP cannot be asked whether a message was delivered")

    result = await perform(ctx.runner, step_id=f"{ctx.step_id}.email", key=key, action="email", params={"tag": ctx.state.tag}, act=act, reconcile=reconcile)
    if isinstance(result, Unresolved):
        message = f"the release email may have gone out before the restart (Message-ID containing {result.key}); not sent again: check the recipients' inbox"
    elif result.replayed:
        return
    else:
        message = result.summary if result.ok else f"release email not sent: {result.summary}"
    await ctx.emit(EventKind.NOTE, {"message": message})
