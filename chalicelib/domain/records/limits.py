"""Constants the routes name at import, apart from the modules that define models
(cold start, chalicelib/lazy.py)."""

# Records rewritten within one request; more run as a background job.
MAX_SYNC_RECORDS = 200
