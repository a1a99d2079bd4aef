"""Telephony: the API (routes.py) and Twilio's webhooks (webhooks.py)."""
