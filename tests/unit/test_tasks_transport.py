"""worker/transport.py: which queue items are kombu envelopes (everything else is logged, counted, dropped).

The end-to-end proof, with a real worker and raw LPUSHes, is tests/faults/test_bad_messages.py."""

import pytest

from worker.transport import is_envelope


@pytest.mark.parametrize(
    "message, ok",
    [
        ({"body": "e30=", "properties": {"delivery_tag": "t", "body_encoding": "base64", "delivery_info": {}}}, True),
        ({"body": "", "properties": {"delivery_tag": "t"}}, True),
        ({"a": 1}, False),
        ([1, 2], False),
        ("text", False),
        ({"properties": {}}, False),
        ({"properties": "x"}, False),
        ({"body": "abc", "properties": {"delivery_tag": "t", "body_encoding": "base64"}}, False),  # bad padding
        ({"body": "e30=", "properties": {"delivery_tag": "t", "delivery_info": "x"}}, False),
    ],
)
def test_transport_recognises_kombu_envelopes(message, ok):
    assert is_envelope(message) is ok
