"""What one command runs against: a world's sandbox when `--world` is given, else the configured systems."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from bot.config import Config, load_config
from bot.runtime import Runtime, open_runtime, scratch_data_dir
from bot.sources import Sources, configured_sources

CommandSources = tuple[Config, Sources, str]


@contextlib.asynccontextmanager
async def command_sources(
    config_file: str | None, world_name: str | None
) -> AsyncIterator[tuple[Config, Sources, str]]:
    """Config, sources and store URL; raises ConfigError or WorldError (one line each) before anything starts.

    A world run gets a throwaway store and sandbox that vanish with the command.
    """
    if world_name is None:
        config = load_config(config_file)
        yield config, configured_sources(config, dict(os.environ)), config.store_url
        return
    from bot.world_sources import world_sources
    from sandbox.up import Sandbox
    from sandbox.world import load_world

    world = load_world(world_name)
    config = load_config(config_file, overlay=world.meta.config)
    async with scratch_data_dir() as data_dir, Sandbox(world, data_dir / "sandbox") as sandbox:
        assert sandbox.endpoints is not None
        yield config, world_sources(world, sandbox.endpoints), f"sqlite:///{data_dir / 'whisperer.db'}"


@contextlib.asynccontextmanager
async def command_runtime(config_file: str | None, world_name: str | None) -> AsyncIterator[Runtime]:
    async with (
        command_sources(config_file, world_name) as (config, sources, store_url),
        open_runtime(config, sources, store_url=store_url) as runtime,
    ):
        yield runtime
