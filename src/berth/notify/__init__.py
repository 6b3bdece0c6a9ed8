"""Delivery of recorded notifications (`berth notify`): e-mail over SMTP, Slack-compatible
webhooks, retries with backoff, and the window-ending reminder sweep. A process of its own:
never inside the reconciler's cycle. See docs/notifications.md."""
