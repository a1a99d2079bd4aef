"""Telephony through Twilio (VOIP-1..9)."""
