"""One messages-per-second limit shared by every worker, in Redis or in the store.

Both keep a virtual schedule (GCRA without burst): the time from which the next message
may go. ``acquire(count)`` moves it on by ``count / rate`` seconds in one atomic step
and sleeps until the slot it got. Redis does the step in a Lua script on Redis's own
clock; the store does it in one UPDATE of a ``rate_limits`` row on the workers' clocks
(keep them NTP-synchronised). The store works with any broker, RabbitMQ included; Redis
is the lighter choice when it is there. A limit that cannot be reached for a while
raises TransportError, so the batch is deferred rather than sent unpaced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.exc import InterfaceError, OperationalError

from syndicate.config import Settings
from syndicate.delivery.base import Pacer
from syndicate.errors import ConfigError, TransportError
from syndicate.store import Store
from syndicate.store.ratelimits import take_slot

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)

# KEYS[1] the limit; ARGV[1] seconds to take. Returns the seconds to wait, as a string
# (a Lua number would be truncated to an integer in the reply).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local after = start + tonumber(ARGV[1])
local ttl = math.ceil((after - now) * 1000) + 60000
redis.call('SET', KEYS[1], string.format('%.6f', after), 'PX', ttl)
return string.format('%.6f', start - now)
"""


class _SharedLimiter:
    """The acquire loop both kinds share: take a slot, retry a lost connection, sleep."""

    retry_on: tuple[type[Exception], ...] = ()

    def __init__(self, name: str, rate: float, sleep: Callable[[float], None]) -> None:
        if rate <= 0:
            raise ValueError("a shared limit needs a rate above 0")
        self.name = name
        self.rate = rate
        self.sleep = sleep

    def _wait_for(self, cost: float) -> float:
        raise NotImplementedError

    def acquire(self, count: int = 1) -> None:
        """Block until ``count`` more messages may be sent, counting every worker's."""
        for delay in (*_RETRY_DELAYS, None):
            try:
                wait = self._wait_for(count / self.rate)
                break
            except self.retry_on as err:
                if delay is None:
                    raise TransportError(f"rate limit {self.name} unavailable: {err}") from err
                log.warning("rate limit %s: %s; retrying in %ss", self.name, err, delay)
                self.sleep(delay)
        if wait > 0:
            self.sleep(wait)


class RedisRateLimiter(_SharedLimiter):
    """A shared limit in the Redis key ``key``."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        rate: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import redis as redis_lib

        super().__init__(key, rate, sleep)
        self.retry_on = (redis_lib.ConnectionError, redis_lib.TimeoutError)
        self.script = client.register_script(_TAKE)

    def _wait_for(self, cost: float) -> float:
        return float(self.script(keys=[self.name], args=[repr(cost)]))


class StoreRateLimiter(_SharedLimiter):
    """A shared limit in the store's ``rate_limits`` row ``name``."""

    retry_on = (OperationalError, InterfaceError)

    def __init__(
        self,
        store: Store,
        name: str,
        rate: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(name, rate, sleep)
        self.store = store
        self.clock = clock

    def _wait_for(self, cost: float) -> float:
        now = self.clock()
        return take_slot(self.store, self.name, cost, now) - now


def limiter_kind(settings: Settings) -> str:
    """``redis`` or ``store``: where ``rate_limiter = "auto"`` keeps the shared limit
    (Redis when ``rate_limit_url`` is set or the broker is Redis, else the store)."""
    c = settings.celery
    if c.rate_limiter != "auto":
        return c.rate_limiter
    return "redis" if c.rate_limit_url or _is_redis(c.broker_url) else "store"


def shared_limiter(settings: Settings, store: Store, backend: str, rate: float) -> Pacer:
    """The limit of ``rate`` messages per second for ``backend``, shared by all workers."""
    if limiter_kind(settings) == "store":
        return StoreRateLimiter(store, f"delivery:{backend}", rate)
    url = settings.celery.rate_limit_url or settings.celery.broker_url
    if not _is_redis(url):
        raise ConfigError(
            "celery.rate_limiter = 'redis' needs a redis:// rate_limit_url "
            "when the broker is not Redis"
        )
    import redis as redis_lib

    client = redis_lib.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    return RedisRateLimiter(client, f"{settings.celery.key_prefix}rate:{backend}", rate)


def _is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "unix://"))
