"""Keys, sealing and tags."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from storage.crypto import KeyRing, KeyRingError, load_or_create


def test_seal_and_open_round_trip_with_bound_context() -> None:
    ring = KeyRing.generate()
    key_id, blob = ring.answers.seal(b'{"kq": "craft"}', "answer|workforce")
    assert key_id == ring.answers.primary and b"craft" not in blob
    assert ring.answers.open(key_id, blob, "answer|workforce") == b'{"kq": "craft"}'
    with pytest.raises(InvalidTag):  # a blob moved to another campaign does not open
        ring.answers.open(key_id, blob, "answer|applicants")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(InvalidTag):
        ring.answers.open(key_id, tampered, "answer|workforce")


def test_same_plaintext_seals_differently_every_time() -> None:
    ring = KeyRing.generate()
    assert ring.answers.seal(b"x", "c")[1] != ring.answers.seal(b"x", "c")[1]


def test_tags_are_keyed_not_plain_hashes() -> None:
    one, two = KeyRing.generate(), KeyRing.generate()
    tag = one.tag("participation", "workforce", "telegram", "", "42")
    assert tag == one.tag("participation", "workforce", "telegram", "", "42")
    assert tag != two.tag("participation", "workforce", "telegram", "", "42")
    assert tag != one.tag("participation", "applicants", "telegram", "", "42")
    assert tag != hashlib.sha256(b"42").digest()


def test_rotation_keeps_old_keys_readable_until_retired() -> None:
    ring = KeyRing.generate()
    old = ring.answers.primary
    key_id, blob = ring.answers.seal(b"before", "c")
    new = ring.answers.add("a-")
    assert ring.answers.primary == new != old
    assert ring.answers.open(key_id, blob, "c") == b"before"
    del ring.answers.keys[old]
    with pytest.raises(KeyRingError, match="lacks"):
        ring.answers.open(key_id, blob, "c")


def test_key_file_is_created_private_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyq.keys"
    ring = load_or_create(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create(path, create=False)
    assert again.ledger == ring.ledger and again.answers.keys == ring.answers.keys
    again.answers.add("a-")
    again.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(load_or_create(path, create=False).answers.keys) == 2


def test_missing_or_broken_key_ring_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="no key file"):
        load_or_create(tmp_path / "absent.keys", create=False)
    with pytest.raises(KeyRingError, match="not a keyq key ring"):
        KeyRing.from_json("{}")
    data = json.loads(KeyRing.generate().to_json())
    data["answer_primary"] = "nope"
    with pytest.raises(KeyRingError, match="primary"):
        KeyRing.from_json(json.dumps(data))
    with pytest.raises(KeyRingError, match="came from KEYQ_KEYS"):
        KeyRing.generate().save()
