"""Outgoing webhooks: subscriptions, delivery log, replay (issue 18)."""
