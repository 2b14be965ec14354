"""Sign-in for the admin dashboard without a new identity system.

An admin (or manager) asks keyq for a link in chat, or ``keyq dashboard-link``: a random token
valid for 10 minutes, usable once. Redeeming it opens a server-side session (8 hours) under a
new random id; only keyed hashes of tokens and ids, and a keyed tag of the person's ref, are
stored. Every request checks that the ref behind the session is still an admin (or manager).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from storage.store import Store, _aware, _naive_utc
from storage.tables import DashboardLink, DashboardSession

LINK_LIFETIME = dt.timedelta(minutes=10)
SESSION_LIFETIME = dt.timedelta(hours=8)


@dataclass(frozen=True)
class Signed:
    who: bytes
    role: str


class Access:
    def __init__(self, store: Store) -> None:
        self._store = store

    def who(self, ref: str) -> bytes:
        """The keyed tag of an admin or manager ref (``slack:U0123``): never the ref itself."""
        return self._store.keys.tag("dashboard", ref)

    def _digest(self, kind: str, token: str) -> bytes:
        return self._store.keys.tag(kind, token)

    async def link(self, ref: str, role: str) -> str:
        """A one-time sign-in token for ``ref``."""
        token = secrets.token_urlsafe(32)
        expires = _naive_utc(self._store.clock() + LINK_LIFETIME)
        async with self._store.session() as session:
            session.add(
                DashboardLink(
                    digest=self._digest("dashboard-link", token),
                    who=self.who(ref),
                    role=role,
                    expires_at=expires,
                )
            )
        return token

    async def redeem(self, token: str) -> tuple[str, Signed] | None:
        """Spends a link (once, within 10 minutes): a new session id, or None."""
        digest = self._digest("dashboard-link", token)
        now = self._store.clock()
        async with self._store.session() as session:
            link = await session.get(DashboardLink, digest)
            if link is None:
                return None
            await session.delete(link)  # used once, whatever happens next
            if _aware(link.expires_at) <= now:
                return None
            session_id = secrets.token_urlsafe(32)
            session.add(
                DashboardSession(
                    digest=self._digest("dashboard-session", session_id),
                    who=link.who,
                    role=link.role,
                    expires_at=_naive_utc(now + SESSION_LIFETIME),
                )
            )
            return session_id, Signed(link.who, link.role)

    async def session(self, session_id: str) -> Signed | None:
        digest = self._digest("dashboard-session", session_id)
        async with self._store.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(DashboardSession).where(DashboardSession.digest == digest)
                )
            ).first()
        if row is None or _aware(row.expires_at) <= self._store.clock():
            return None
        return Signed(row.who, row.role)

    async def sign_out(self, session_id: str) -> None:
        digest = self._digest("dashboard-session", session_id)
        async with self._store.session() as session:
            await session.execute(delete(DashboardSession).where(DashboardSession.digest == digest))

    async def purge(self) -> None:
        now = _naive_utc(self._store.clock())
        async with self._store.session() as session:
            await session.execute(delete(DashboardLink).where(DashboardLink.expires_at <= now))
            await session.execute(
                delete(DashboardSession).where(DashboardSession.expires_at <= now)
            )
