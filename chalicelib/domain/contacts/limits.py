"""Contact photo sizes (CON-7) and the bulk request's synchronous limit, apart from
photo.py and bulk.py so the routes can name them at import without loading the
contact models (cold start, chalicelib/lazy.py)."""

MAX_PHOTO_BYTES = 1024 * 1024
BOX = (200, 300)  # width, height
URL_SECONDS = 300
# Bulk requests (domain/contacts/bulk.py): up to this many ids answer every outcome; more run as a job.
SYNC_LIMIT = 100
