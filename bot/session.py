"""A runtime for one command: a world's sandbox when `--world` is given, else the configured systems."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from bot.config import load_config
from bot.runtime import Runtime, open_runtime, scratch_data_dir
from bot.sources import configured_sources


@contextlib.asynccontextmanager
async def command_runtime(config_file: str | None, world_name: str | None) -> AsyncIterator[Runtime]:
    """Raises ConfigError or WorldError (one line each) before anything starts."""
    if world_name is None:
        config = load_config(config_file)
        async with open_runtime(config, configured_sources(config, dict(os.environ))) as runtime:
            yield runtime
        return
    from bot.world_sources import world_sources
    from sandbox.up import Sandbox
    from sandbox.world import load_world

    world = load_world(world_name)
    config = load_config(config_file, overlay=world.meta.config)
    async with scratch_data_dir() as data_dir, Sandbox(world, data_dir / "sandbox") as sandbox:
        assert sandbox.endpoints is not None
        sources = world_sources(world, sandbox.endpoints)
        async with open_runtime(config, sources, store_url=f"sqlite:///{data_dir / 'whisperer.db'}") as runtime:
            yield runtime
