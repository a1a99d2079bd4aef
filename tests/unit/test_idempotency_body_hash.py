"""An Idempotency-Key's body is compared as JSON values, not bytes."""

from __future__ import annotations

from chalicelib.storage.idempotency import body_hash


def test_body_hash_compares_json_values():
    assert body_hash(b'{"a": 1, "b": [1, 2]}') == body_hash(b'{ "b": [1,2], "a": 1 }')
    assert body_hash(b'{"a": 1}') != body_hash(b'{"a": 2}')
