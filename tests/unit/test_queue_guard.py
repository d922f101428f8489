"""worker/queue_guard.py: which queue items are kombu envelopes, and the BRPOP reply check built on it.

The end-to-end proof, with real worker processes and raw LPUSHes, is tests/faults/test_queue_guard.py."""

import json

import pytest

from eventcache import stats
from worker.queue_guard import checking_brpop_reply, is_envelope

TAGGED = {"delivery_tag": "t", "delivery_info": {"exchange": "", "routing_key": "cache"}}


@pytest.mark.parametrize(
    "message, ok",
    [
        ({"body": "e30=", "properties": {**TAGGED, "body_encoding": "base64"}}, True),
        ({"body": "", "properties": TAGGED}, True),
        ({"body": "", "headers": {"task": "x"}, "properties": TAGGED}, True),
        ({"a": 1}, False),
        ([1, 2], False),
        ("text", False),
        ({"properties": {}}, False),
        ({"properties": "x"}, False),
        ({"body": "", "properties": {"delivery_tag": "t"}}, False),  # no delivery_info
        ({"body": "", "properties": {"delivery_tag": "t", "delivery_info": {"routing_key": "cache"}}}, False),
        ({"body": "", "properties": {"delivery_tag": "t", "delivery_info": "x"}}, False),
        ({"body": "", "headers": [1], "properties": TAGGED}, False),
        ({"body": "abc", "properties": {**TAGGED, "body_encoding": "base64"}}, False),  # bad padding
    ],
)
def test_guard_recognises_kombu_envelopes(message, ok):
    assert is_envelope(message) is ok


def test_the_brpop_check_passes_envelopes_and_answers_nothing_for_the_rest(monkeypatch):
    counted = []
    monkeypatch.setattr(stats, "incr", lambda name, n=1: counted.append(name))
    check = checking_brpop_reply(lambda response, **options: response and tuple(response) or None)
    good = json.dumps({"body": "", "properties": TAGGED}).encode()

    assert check([b"cache", good]) == (b"cache", good)
    assert check(None) is None  # a BRPOP timeout stays one
    assert check([b"cache", b"{not json"]) is None
    assert check([b"cache", b"\xff\xfe"]) is None
    assert check([b"cache", b'{"a": 1}']) is None
    assert counted == ["queue_rejected"] * 3
