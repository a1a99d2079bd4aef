"""What happens to an uploaded photo (CON-7): the real format decides, the
first frame of an animation, the EXIF orientation applied and metadata
dropped, decompression bombs refused before any pixel is decoded."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from chalicelib.domain.contacts.photo import MAX_PIXELS, process_image
from chalicelib.domain.shared.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed


def png(width: int, height: int, mode: str = "RGB", color: object = (10, 20, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, "PNG")  # type: ignore[arg-type]
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG signature and header that claims a huge size (CRC correct), and no pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + end


def test_a_png_claiming_too_many_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(ValidationFailed, match="too large to process"):
        process_image(png_claiming(10_000, 10_000))


def test_a_png_just_over_the_pixel_limit_is_refused_too() -> None:
    side = int(MAX_PIXELS**0.5) + 10
    with pytest.raises(ValidationFailed, match="too large"):
        process_image(png_claiming(side, side))


def test_the_pixel_limit_is_restored_after_processing() -> None:
    from PIL import Image

    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ValidationFailed):
        process_image(png_claiming(10_000, 10_000))
    assert Image.MAX_IMAGE_PIXELS == before


def test_the_exif_orientation_is_applied_and_metadata_dropped() -> None:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    exif[0x010F] = "CameraMaker"
    out = io.BytesIO()
    Image.new("RGB", (80, 40), (200, 0, 0)).save(out, "JPEG", exif=exif)
    stored = process_image(out.getvalue())
    assert (stored.width, stored.height) == (40, 80)
    assert b"CameraMaker" not in stored.data and Image.open(io.BytesIO(stored.data)).getexif().get(0x0112) is None


def test_an_animation_keeps_its_first_frame() -> None:
    from PIL import Image

    frames = [Image.new("RGB", (30, 30), color) for color in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    stored = process_image(out.getvalue())
    red, green, blue = Image.open(io.BytesIO(stored.data)).convert("RGB").getpixel((15, 15))  # type: ignore[misc]
    assert red > 200 and blue < 60


def test_a_bmp_is_stored_as_jpeg() -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, "BMP")
    assert process_image(out.getvalue()).content_type == "image/jpeg"


@pytest.mark.parametrize("fmt", ["TIFF", "PPM"])
def test_formats_browsers_do_not_show_are_unsupported(fmt: str) -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, fmt)
    with pytest.raises(UnsupportedMediaType):
        process_image(out.getvalue())


def test_a_tall_image_fits_the_300_pixel_height() -> None:
    stored = process_image(png(100, 600))
    assert (stored.width, stored.height) == (50, 300)


def test_a_palette_image_with_transparency_stays_png() -> None:
    from PIL import Image

    image = Image.new("P", (20, 20), 0)
    image.info["transparency"] = 0
    out = io.BytesIO()
    image.save(out, "PNG", transparency=0)
    assert process_image(out.getvalue()).content_type == "image/png"


def test_an_upload_over_one_megabyte_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        process_image(b"\x89PNG" + b"0" * (1024 * 1024))


def test_the_stored_jpeg_is_smaller_than_a_large_original() -> None:
    import os

    from PIL import Image

    noisy = Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3))
    out = io.BytesIO()
    noisy.save(out, "PNG")
    if len(out.getvalue()) > 1024 * 1024:  # keep the upload under the limit
        noisy = noisy.resize((400, 400))
        out = io.BytesIO()
        noisy.save(out, "PNG")
    stored = process_image(out.getvalue())
    assert stored.content_type == "image/jpeg" and len(stored.data) < len(out.getvalue())
