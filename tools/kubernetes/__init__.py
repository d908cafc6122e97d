"""Kubernetes MCP servers: a read-only one for the agents, and a separate one for approved writes."""
