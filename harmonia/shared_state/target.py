"""Where the shared Redis is, read once from the settings: its mode, nodes, credentials and TLS files.

    target = RedisTarget.from_settings(settings)      # None: no Redis configured (in-process only)
    target.mode                                       # "standalone" | "cluster" | "sentinel"
    str(target)                                       # for logs: never the password

``HARMONIA_REDIS_URL`` is ``redis://`` or ``rediss://`` (TLS). In ``cluster`` mode it names any node of
the cluster, in ``sentinel`` mode a sentinel; either may list several, comma-separated
(``redis://:pw@10.0.0.1:26379,10.0.0.2:26379/0``), and the first that answers is used. TLS files come
from ``HARMONIA_REDIS_TLS_CA_FILE`` / ``_CERT_FILE`` / ``_KEY_FILE`` or the URL's ``ssl_ca_certs``,
``ssl_certfile``, ``ssl_keyfile`` query parameters (redis-py's names). A URL that cannot work is a
``ValueError`` naming the setting to fix, raised at startup rather than on the first query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from harmonia.settings import Settings

MODES = ("standalone", "cluster", "sentinel")
DEFAULT_PORTS = {"standalone": 6379, "cluster": 6379, "sentinel": 26379}


@dataclass(frozen=True)
class Tls:
    ca_file: str | None = None
    cert_file: str | None = None       # a client certificate, for servers that ask for one
    key_file: str | None = None
    check_hostname: bool = True

    def kwargs(self) -> dict[str, Any]:
        """redis-py's connection arguments for these files."""
        return {"ssl": True, "ssl_ca_certs": self.ca_file, "ssl_certfile": self.cert_file,
                "ssl_keyfile": self.key_file, "ssl_check_hostname": self.check_hostname,
                "ssl_cert_reqs": "required"}


@dataclass(frozen=True)
class RedisTarget:
    url: str = field(repr=False)          # as configured (may hold a password): only for standalone from_url
    mode: str = "standalone"
    nodes: tuple[tuple[str, int], ...] = ()
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: Tls | None = None
    sentinel_master: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    # How long a write that must not be lost (idempotency records, erasure jobs) waits for a failover.
    failover_seconds: float = 15.0
    # Replicas a durable write waits for (WAIT) in cluster and sentinel mode; 0: none.
    wait_replicas: int = 1

    @classmethod
    def parse(cls, url: str, mode: str = "standalone", *, sentinel_master: str | None = None,
              tls: Tls | None = None, **extra: Any) -> RedisTarget:
        mode = (mode or "standalone").strip().lower()
        if mode not in MODES:
            raise ValueError(f"HARMONIA_REDIS_MODE is {mode!r}: it must be one of {', '.join(MODES)}")
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("HARMONIA_REDIS_URL must start with redis:// or rediss:// (TLS)")
        if parts.scheme == "unix" and mode != "standalone":
            raise ValueError(f"HARMONIA_REDIS_URL: a unix socket cannot reach a Redis {mode}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if tls is not None and parts.scheme != "rediss":
            raise ValueError("HARMONIA_REDIS_TLS_* files are set but HARMONIA_REDIS_URL is not rediss://")
        if parts.scheme == "rediss":
            given = tls or Tls()
            tls = Tls(ca_file=given.ca_file or query.get("ssl_ca_certs"),
                      cert_file=given.cert_file or query.get("ssl_certfile"),
                      key_file=given.key_file or query.get("ssl_keyfile"),
                      check_hostname=query.get("ssl_check_hostname", "true").lower() not in ("false", "0", "no"))
            if (tls.cert_file is None) != (tls.key_file is None):
                raise ValueError("HARMONIA_REDIS_TLS_CERT_FILE and HARMONIA_REDIS_TLS_KEY_FILE go together")
        nodes = _nodes(parts.netloc.rpartition("@")[2], DEFAULT_PORTS[mode]) if parts.scheme != "unix" else ()
        if parts.scheme != "unix" and not nodes:
            raise ValueError("HARMONIA_REDIS_URL names no host")
        if mode == "standalone" and len(nodes) > 1:
            raise ValueError("HARMONIA_REDIS_URL lists several hosts: set HARMONIA_REDIS_MODE to cluster or "
                             "sentinel, or name one host")
        if mode == "sentinel" and not sentinel_master:
            raise ValueError("HARMONIA_REDIS_MODE is sentinel: set HARMONIA_REDIS_SENTINEL_MASTER to the "
                             "master's name (as in the sentinels' `sentinel monitor <name> ...`)")
        db = _db(parts.path if parts.scheme != "unix" else "/" + query.get("db", "0"))
        if mode == "cluster" and db != 0:
            raise ValueError("HARMONIA_REDIS_URL: a Redis Cluster has database 0 only; drop the /<db> part")
        return cls(url=url, mode=mode, nodes=nodes, db=db, username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None, tls=tls,
                   sentinel_master=sentinel_master if mode == "sentinel" else None, **extra)

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisTarget | None:
        if not settings.redis_url:
            return None
        given = (settings.redis_tls_ca_file, settings.redis_tls_cert_file, settings.redis_tls_key_file)
        tls = Tls(*given) if any(given) else None
        password = settings.redis_sentinel_password
        return cls.parse(settings.redis_url, settings.redis_mode, sentinel_master=settings.redis_sentinel_master,
                         tls=tls, sentinel_password=password.get_secret_value() if password else None,
                         failover_seconds=settings.redis_failover_seconds,
                         wait_replicas=settings.redis_wait_replicas)

    @property
    def replicated(self) -> bool:
        """Whether a failover can promote a replica (so a write must reach one before it counts)."""
        return self.mode in ("cluster", "sentinel") and self.wait_replicas > 0

    def __str__(self) -> str:
        where = ",".join(f"{h}:{p}" for h, p in self.nodes) or "unix socket"
        scheme = "rediss" if self.tls is not None else "redis"
        name = f" master {self.sentinel_master}" if self.sentinel_master else ""
        return f"{self.mode} {scheme}://{where}{name}"


def _nodes(hosts: str, default_port: int) -> tuple[tuple[str, int], ...]:
    found: list[tuple[str, int]] = []
    for item in filter(None, (h.strip() for h in hosts.split(","))):
        if item.startswith("["):  # [::1]:6379
            host, _, rest = item[1:].partition("]")
            port_text = rest.lstrip(":")
        else:
            host, _, port_text = item.partition(":")
        try:
            port = int(port_text) if port_text else default_port
        except ValueError:
            raise ValueError(f"HARMONIA_REDIS_URL: {item!r} has no valid port") from None
        found.append((host, port))
    return tuple(found)


def _db(path: str) -> int:
    text = path.strip("/")
    try:
        return int(text) if text else 0
    except ValueError:
        raise ValueError(f"HARMONIA_REDIS_URL: the database is {text!r}, not a number") from None
