"""Outgoing webhooks (issue 18, points 5 and 6)."""
