"""Constants the routes name at import, apart from the modules that define models
(cold start, chalicelib/lazy.py)."""

PDF_URL_SECONDS = 300
RETRY_AFTER_SECONDS = 2
MAX_LOGO_BYTES = 1024 * 1024
LOGO_BOX = (600, 300)
LOGO_URL_SECONDS = 300
