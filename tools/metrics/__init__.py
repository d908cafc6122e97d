"""The metrics MCP server: PromQL, alerts, targets, and a per-service summary with findings."""
