"""``/metrics``: the Prometheus text format, read from the store and the published feeds
on each scrape (see :mod:`syndicate.web.gauges` and ``docs/monitoring.md``)."""

from __future__ import annotations

from functools import cache

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syndicate.doctor.results import Report, load_report
from syndicate.feeds import feed_path
from syndicate.store import Store, open_store
from syndicate.web.context import WebContext
from syndicate.web.gauges import PublishedFeed, registry_for, render


def routes(context: WebContext) -> list[BaseRoute]:
    """The metrics route."""

    @cache
    def store() -> Store:
        return open_store(context.settings.store_url)

    def feeds() -> list[PublishedFeed]:
        manifest = context.files.manifest()
        if manifest is None:
            return []
        return [
            PublishedFeed(
                channel.name, info.format, context.files.root / feed_path(channel.name, info.format)
            )
            for channel in manifest.channels.values()
            for info in channel.formats.values()
        ]

    def doctor() -> Report | None:
        return load_report(context.settings.resolve(context.settings.doctor.state_file))

    registry = registry_for(store, feeds, doctor)

    async def metrics(request: Request) -> Response:
        body = await run_in_threadpool(render, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return [Route("/metrics", metrics, methods=["GET"])]
