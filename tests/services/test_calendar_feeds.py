"""The rendered-feed cache and the feed's token handling."""

from __future__ import annotations

import hashlib

from app.services.calendar_feeds import RenderedFeeds, token_hash


def test_the_rendered_feed_cache_answers_only_its_etag_and_stays_within_its_bytes():
    cache = RenderedFeeds(max_bytes=10)
    cache.put("a", '"1"', b"aaaa")
    cache.put("b", '"1"', b"bbbb")
    assert cache.get("a", '"1"') == b"aaaa"  # now the most recently used
    assert cache.get("a", '"2"') is None  # another ETag: the feed changed
    cache.put("c", '"1"', b"cccc")  # 12 bytes > 10: the least recently used (b) goes
    assert cache.get("b", '"1"') is None
    assert (cache.get("a", '"1"'), cache.get("c", '"1"')) == (b"aaaa", b"cccc")
    cache.put("a", '"2"', b"AAAAAA")  # replaced, not added: 10 bytes
    assert cache.get("a", '"2"') == b"AAAAAA" and cache.get("c", '"1"') == b"cccc"
    cache.put("d", '"1"', b"x" * 11)  # larger than the whole cache: not kept
    assert cache.get("d", '"1"') is None


def test_a_token_is_stored_as_its_sha256():
    assert token_hash("abc") == hashlib.sha256(b"abc").hexdigest()
