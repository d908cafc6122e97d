"""What the web server answers besides the picture itself."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Snapshot(BaseModel):
    """A rendered page; the PNG travels next to this as MCP image content."""

    url: str = Field(description="the URL asked for")
    final_url: str = Field(description="where the browser ended up after redirects")
    title: str
    status: int | None = Field(description="HTTP status of the page; None when the browser got no response")
    width: int
    height: int
    png_bytes: int
    elapsed_ms: float
