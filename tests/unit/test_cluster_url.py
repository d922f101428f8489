"""REDIS_CLUSTER_URL: its startup nodes and credentials (eventcache.redis_url.parse_cluster_url), and its password
masked in logs (mask)."""

import pytest

from eventcache.redis_url import mask, parse_cluster_url


def test_every_node_is_a_startup_node_and_credentials_apply_to_all():
    nodes, auth = parse_cluster_url("redis://app:s%40cret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002")
    assert nodes == [("10.0.0.1", 7000), ("10.0.0.2", 7001), ("::1", 7002)]
    assert auth == {"ssl": False, "username": "app", "password": "s@cret"}
    assert parse_cluster_url("rediss://h:6380") == ([("h", 6380)], {"ssl": True})


@pytest.mark.parametrize(
    "url", ["", "http://h:1", "redis://", "redis://h", "redis://h:1/2", "redis://h:1,h2", "redis://,"]
)
def test_a_malformed_cluster_url_is_refused(url):
    with pytest.raises(ValueError):
        parse_cluster_url(url)


def test_the_password_of_a_cluster_url_is_masked():
    assert mask("redis://app:s3cret@h1:7000,h2:7001") == "redis://app:***@h1:7000,h2:7001"
    assert mask("redis://:s3cret@h1:7000,h2:7001") == "redis://:***@h1:7000,h2:7001"
    assert mask("redis://h1:7000,h2:7001") == "redis://h1:7000,h2:7001"
    assert mask("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
