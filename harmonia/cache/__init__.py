"""Two-tier caching of upstream records: in-process LRU (tier 1) over a shared Redis (tier 2).

    cache = EntityCache(settings.cache, scopes={"hubspot": "9f2c..."}, shared=RedisTier(url), codec=codec)
    [hit] = await cache.lookup_many(CONTACT, ["151"], str, hubspot.batch_read)
    hit.value, hit.stale_age        # the record (or None: not found), and its age when served stale

Nothing here imports a web or GraphQL framework: entries are plain records keyed by source, entity,
id and the source's credentials scope, never by who asks, so one entry serves every role (masks and
denials are applied at the schema edge, after the cache).
"""
