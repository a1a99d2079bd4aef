"""Contact photo sizes (CON-7), apart from photo.py so the routes can name them
at import without loading the contact models (cold start, chalicelib/lazy.py)."""

MAX_PHOTO_BYTES = 1024 * 1024
BOX = (200, 300)  # width, height
URL_SECONDS = 300
