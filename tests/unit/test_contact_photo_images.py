"""Contact photos without HTTP: the pixel limit, damaged and unsupported images,
the cascade that forgets a photo twice."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from chalicelib.domain.contacts.photo import process_image
from chalicelib.domain.shared.errors import UnsupportedMediaType, ValidationFailed


def image_bytes(fmt, size=(400, 300), mode="RGB", color=(200, 30, 30), **save):
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt, **save)
    return out.getvalue()


def png_claiming(width, height):
    """A valid 1x1 PNG whose header (IHDR, CRC fixed) claims another size."""
    png = image_bytes("PNG", (1, 1))
    chunk = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + png[33:]


def test_the_pixel_limit_is_the_boundary():
    with pytest.raises(ValidationFailed):
        process_image(png_claiming(5001, 5000))
    # At the limit it is decoded (a damaged body then, since the pixels are missing: still 422, but not a bomb).
    with pytest.raises(ValidationFailed) as damaged:
        process_image(png_claiming(5000, 5000))
    assert "damaged" in damaged.value.detail


def test_a_truncated_image_is_422():
    with pytest.raises(ValidationFailed):
        process_image(image_bytes("PNG", (300, 300), color=(1, 2, 3))[:120])
    with pytest.raises(UnsupportedMediaType):
        process_image(b"GIF89a")


def test_the_photo_cascade_can_run_twice():
    from chalicelib.domain.contacts.photo import ContactPhotos

    deleted = []

    class Blobs:
        def delete(self, tenant_id, contact_id):
            deleted.append((tenant_id, contact_id))

    photos = ContactPhotos(contacts=None, blobs=Blobs())
    photos.forget("t1", "c1")
    photos.forget("t1", "c1")
    assert deleted == [("t1", "c1"), ("t1", "c1")]
