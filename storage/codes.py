"""Single-use answer codes for the web channel: made at random, stored as keyed hashes only.

A code is 12 characters of Crockford's base32 (no I, L, O or U to misread): 60 random bits,
printed in three groups like ``K7QX-3MPA-9TZD``. keyq keeps HMAC(ledger key, code), the
campaign, the batch and whether it is spent; the code itself exists only on its card.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, insert, select

from storage.store import Store, month_of
from storage.tables import Campaign, Code, CodeBatch

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display(code: str) -> str:
    """``K7QX3MPA9TZD`` as ``K7QX-3MPA-9TZD``."""
    return "-".join(code[i : i + 4] for i in range(0, LENGTH, 4))


def normalise(text: str) -> str | None:
    """A code as typed (any case, dashes or spaces, O for 0) in its stored form; None if it
    cannot be a code at all."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum()).translate(MISREAD)
    if len(cleaned) != LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


class Status(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    SPENT = "spent"
    CLOSED = "closed"


@dataclass(frozen=True)
class Lookup:
    status: Status
    campaign: str | None = None


@dataclass(frozen=True, kw_only=True)
class BatchCounts:
    """What an admin sees of a batch: counts only."""

    id: int
    campaign: str
    issued: int
    spent: int
    revoked: bool
    issued_month: str


class Codes:
    def __init__(self, store: Store) -> None:
        self._store = store

    def digest(self, code: str) -> bytes:
        return self._store.keys.tag("code", code)

    async def issue(self, campaign_id: str, count: int) -> tuple[int, list[str]]:
        """A new batch of ``count`` codes for an open campaign: its number and the codes."""
        if not 1 <= count <= 10_000:
            raise ValueError("issue between 1 and 10,000 codes at a time")
        codes = list(dict.fromkeys(new_code() for _ in range(count)))
        async with self._store.session() as session:
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None or not campaign.is_open:
                raise LookupError(f"no open campaign {campaign_id!r}")
            batch = CodeBatch(
                campaign_id=campaign_id,
                issued=len(codes),
                issued_month=month_of(self._store.clock()),
                revoked=False,
            )
            session.add(batch)
            await session.flush()
            await session.execute(
                insert(Code),
                [
                    {"digest": self.digest(c), "campaign_id": campaign_id, "batch_id": batch.id}
                    for c in codes
                ],
            )
            return batch.id, codes

    async def lookup(self, code: str) -> Lookup:
        async with self._store.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(Code.spent, Code.campaign_id, CodeBatch.revoked, Campaign.is_open)
                    .join(CodeBatch, CodeBatch.id == Code.batch_id)
                    .join(Campaign, Campaign.id == Code.campaign_id)
                    .where(Code.digest == self.digest(code))
                )
            ).first()
        if row is None or row.revoked:
            return Lookup(Status.UNKNOWN)
        if row.spent:
            return Lookup(Status.SPENT, row.campaign_id)
        if not row.is_open:
            return Lookup(Status.CLOSED, row.campaign_id)
        return Lookup(Status.OK, row.campaign_id)

    async def revoke(self, batch_id: int) -> int:
        """Voids a batch (lost, or never handed out); returns how many unspent codes it had."""
        async with self._store.session() as session:
            batch = await session.get(CodeBatch, batch_id)
            if batch is None:
                raise LookupError(f"no batch {batch_id}")
            batch.revoked = True
            unspent = await session.scalar(
                select(func.count())
                .select_from(Code)
                .where(Code.batch_id == batch_id, Code.spent.is_(False))
            )
            return int(unspent or 0)

    async def batches(self) -> list[BatchCounts]:
        async with self._store.engine.connect() as conn:
            spent = (
                select(Code.batch_id, func.count().label("n"))
                .where(Code.spent.is_(True))
                .group_by(Code.batch_id)
                .subquery()
            )
            rows = await conn.execute(
                select(CodeBatch, func.coalesce(spent.c.n, 0))
                .outerjoin(spent, spent.c.batch_id == CodeBatch.id)
                .order_by(CodeBatch.id)
            )
            return [
                BatchCounts(
                    id=r.id,
                    campaign=r.campaign_id,
                    issued=r.issued,
                    spent=int(r[-1]),
                    revoked=r.revoked,
                    issued_month=r.issued_month,
                )
                for r in rows
            ]
