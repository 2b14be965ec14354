"""Keys kept outside the database: AES-256-GCM for what is stored, HMAC-SHA256 for tags.

The key ring is a small JSON document, in a file of mode 0600 or given in an environment
variable. It holds a ring of answer keys (with one primary, so keys can be rotated), a ring of
address keys (platform addresses needed to send later), and the ledger key that turns platform
ids into pseudonymous tags. Stored ciphertext says which key id sealed it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

logger = logging.getLogger(__name__)

FORMAT = 1
NONCE_BYTES = 12
PAD_BLOCK = 128
"""Plaintexts are padded to a multiple of this, so ciphertext length says nothing of the answer."""


class KeyRingError(Exception):
    """The key ring is missing, malformed, or lacks a key that stored data needs."""


@dataclass
class Ring:
    """Named AES-256 keys, one of them primary (used to seal new data)."""

    keys: dict[str, bytes]
    primary: str

    @classmethod
    def new(cls, prefix: str) -> Ring:
        key_id = f"{prefix}{secrets.token_hex(4)}"
        return cls(keys={key_id: AESGCM.generate_key(bit_length=256)}, primary=key_id)

    def add(self, prefix: str) -> str:
        """Adds a fresh key and makes it primary; returns its id."""
        key_id = f"{prefix}{secrets.token_hex(4)}"
        self.keys[key_id] = AESGCM.generate_key(bit_length=256)
        self.primary = key_id
        return key_id

    def seal(self, plaintext: bytes, context: str) -> tuple[str, bytes]:
        """Encrypts under the primary key; returns (key id, nonce + ciphertext)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.primary]).encrypt(
            nonce, _pad(plaintext), _aad(context, self.primary)
        )
        return self.primary, nonce + sealed

    def open(self, key_id: str, blob: bytes, context: str) -> bytes:
        """Decrypts what ``seal`` produced; raises if the key is unknown or the data altered."""
        key = self.keys.get(key_id)
        if key is None:
            raise KeyRingError(f"stored data needs key {key_id!r}, which the key ring lacks")
        plain = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(context, key_id))
        return _unpad(plain)


@dataclass
class KeyRing:
    """All of keyq's keys."""

    ledger: bytes
    answers: Ring
    addresses: Ring
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def generate(cls) -> KeyRing:
        return cls(ledger=secrets.token_bytes(32), answers=Ring.new("a-"), addresses=Ring.new("p-"))

    def tag(self, purpose: str, *parts: str) -> bytes:
        """A keyed pseudonym: HMAC-SHA256(ledger key, purpose ‖ parts). Never a plain hash."""
        message = "\x1f".join((purpose, *parts)).encode()
        return hmac.new(self.ledger, message, hashlib.sha256).digest()

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "ledger_key": _b64(self.ledger),
                "answer_keys": {k: _b64(v) for k, v in self.answers.keys.items()},
                "answer_primary": self.answers.primary,
                "address_keys": {k: _b64(v) for k, v in self.addresses.keys.items()},
                "address_primary": self.addresses.primary,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, path: Path | None = None) -> KeyRing:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ValueError("unknown format")
            ring = cls(
                ledger=_unb64(data["ledger_key"]),
                answers=Ring(
                    {k: _unb64(v) for k, v in data["answer_keys"].items()}, data["answer_primary"]
                ),
                addresses=Ring(
                    {k: _unb64(v) for k, v in data["address_keys"].items()}, data["address_primary"]
                ),
                path=path,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            where = str(path) if path else "KEYQ_KEYS"
            raise KeyRingError(f"{where}: not a keyq key ring ({exc.__class__.__name__})") from None
        for r in (ring.answers, ring.addresses):
            if r.primary not in r.keys or any(len(k) != 32 for k in r.keys.values()):
                raise KeyRingError(
                    "key ring: every key must be 32 bytes and the primary must exist"
                )
        if len(ring.ledger) != 32:
            raise KeyRingError("key ring: the ledger key must be 32 bytes")
        return ring

    def save(self) -> None:
        """Writes the ring back to its file atomically, keeping mode 0600."""
        if self.path is None:
            raise KeyRingError("these keys came from KEYQ_KEYS; put them in a file to change them")
        _write_private(self.path, self.to_json())


def load_or_create(path: Path, *, create: bool) -> KeyRing:
    """Reads the key file; creates one (mode 0600) if it is missing and ``create`` is set."""
    if path.exists():
        mode = path.stat().st_mode
        if mode & 0o077:
            raise KeyRingError(
                f"{path}: the key file can be read by other users (mode {mode & 0o777:o}); "
                f"run: chmod 600 {path}"
            )
        return KeyRing.from_json(path.read_text(encoding="utf-8"), path)
    if not create:
        raise KeyRingError(f"{path}: no key file (set KEYQ_KEYS_FILE or KEYQ_KEYS)")
    ring = KeyRing.generate()
    ring.path = path
    _write_private(path, ring.to_json(), exclusive=True)
    logger.warning(
        "created a new key file at %s (mode 0600); back it up: stored answers "
        "cannot be read without it",
        path,
    )
    return ring


def _write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path if exclusive else path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    if not exclusive:
        os.replace(target, path)
    os.chmod(path, 0o600)


def _aad(context: str, key_id: str) -> bytes:
    return f"keyq/v{FORMAT}|{context}|{key_id}".encode()


def _pad(data: bytes) -> bytes:
    padded = data + b"\x80"
    return padded + b"\x00" * (-len(padded) % PAD_BLOCK)


def _unpad(data: bytes) -> bytes:
    end = data.rstrip(b"\x00")
    if not end.endswith(b"\x80"):
        raise KeyRingError("bad padding")
    return end[:-1]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
