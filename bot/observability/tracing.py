"""OpenTelemetry traces of each question, exported only when the config turns them on.

The agents create spans through the OpenTelemetry API alone; until a provider is installed here
the API hands out its no-op tracer, so a bot without `tracing.enabled` neither loads the SDK nor
sends anything anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from opentelemetry import trace

from bot.config import Config

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider


def configure_tracing(config: Config) -> TracerProvider | None:
    """Installs an exporting provider when tracing is enabled; the caller shuts it down to flush the last spans."""
    settings = config.tracing
    if not settings.enabled:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    trace.set_tracer_provider(provider)
    return provider


@contextlib.asynccontextmanager
async def exporting_traces(config: Config) -> AsyncIterator[None]:
    """`configure_tracing` for a serving process: on exit the spans still batched are flushed before it ends."""
    provider = configure_tracing(config)
    try:
        yield
    finally:
        if provider is not None:
            await asyncio.to_thread(provider.shutdown)
