"""A real DNS server on 127.0.0.1 (dnslib) answering from a zone the test writes, for
``syndicate doctor``'s DNS checks (STYLE 9: a real peer, not a mocked resolver).

Names that are not in the zone answer NXDOMAIN; a name in the zone without the asked
type answers NOERROR with no records; :meth:`DNSTestServer.servfail` makes a name answer
SERVFAIL. PYTEST_DONT_REWRITE: no asserts here.
"""

from __future__ import annotations

import ipaddress
import threading
from types import TracebackType
from typing import Any

from dnslib import AAAA, MX, PTR, QTYPE, RCODE, RR, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer


def _key(name: str) -> str:
    return name.lower().rstrip(".")


class _ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[Any]] = {}
        self.failing: set[str] = set()
        self.asked: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = _key(str(request.q.qname))
        qtype = QTYPE[request.q.qtype]
        with self.lock:
            self.asked.append((name, qtype))
            if name in self.failing:
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            found = list(self.records.get((name, qtype), []))
            known = any(n == name for n, _ in self.records)
        for rdata in found:
            reply.add_answer(RR(request.q.qname, getattr(QTYPE, qtype), rdata=rdata, ttl=60))
        if not found and not known:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class DNSTestServer:
    """A running DNS server on 127.0.0.1 (UDP) at :attr:`port`."""

    def __init__(self) -> None:
        self.zone = _ZoneResolver()
        quiet = DNSLogger("-request,-reply,-truncated,-error", prefix=False)
        self._server = DNSServer(self.zone, address="127.0.0.1", port=0, logger=quiet)
        self.port: int = self._server.server.server_address[1]

    def __enter__(self) -> DNSTestServer:
        self._server.start_thread()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.stop()
        self._server.server.server_close()

    def _add(self, name: str, qtype: str, rdata: Any) -> None:
        with self.zone.lock:
            self.zone.records.setdefault((_key(name), qtype), []).append(rdata)

    def txt(self, name: str, text: str) -> None:
        """A TXT record, split into 255-byte strings as a DNS host does for long ones."""
        data = text.encode("ascii")
        self._add(name, "TXT", TXT([data[i : i + 255] for i in range(0, len(data), 255)]))

    def mx(self, name: str, preference: int, host: str) -> None:
        """An MX record."""
        self._add(name, "MX", MX(host, preference))

    def address(self, name: str, ip: str) -> None:
        """An A or AAAA record."""
        version = ipaddress.ip_address(ip).version
        self._add(name, "A" if version == 4 else "AAAA", A(ip) if version == 4 else AAAA(ip))

    def ptr(self, ip: str, name: str) -> None:
        """A PTR record for ``ip``."""
        self._add(ipaddress.ip_address(ip).reverse_pointer, "PTR", PTR(name))

    def servfail(self, name: str) -> None:
        """Make ``name`` answer SERVFAIL (a broken zone or resolver)."""
        with self.zone.lock:
            self.zone.failing.add(_key(name))

    def clear(self, name: str) -> None:
        """Remove every record of ``name``."""
        with self.zone.lock:
            for key in [k for k in self.zone.records if k[0] == _key(name)]:
                del self.zone.records[key]
