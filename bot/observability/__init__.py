"""The bot watched like any other service: Prometheus metrics, health and readiness over HTTP.

Metrics are fed at the few choke points everything already passes through (the audit log, the
progress sink, the Slack ack), so no agent or tool knows it is being measured.
"""
