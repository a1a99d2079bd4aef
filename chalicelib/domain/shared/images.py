"""Uploaded images (contact photos CON-7, the invoice logo SET-11): one
pipeline, parameterised by the box the image must fit and its size limit.

- What it is decides, not what it claims: Pillow identifies the bytes, and
  only formats browsers show are opened (PNG, JPEG, GIF, WebP, BMP, AVIF,
  ICO); anything else is 415.
- Decompression bombs are refused with 422 before any pixel is decoded: at
  most ``MAX_PIXELS`` pixels, and Pillow's own DecompressionBombWarning is an
  error. A damaged image is 422 as well.
- Animated images keep their first frame; the EXIF orientation is applied
  (and all metadata, GPS included, dropped); the image is scaled down to fit
  the box keeping its aspect ratio (never scaled up) and stored as PNG when it
  really has transparent pixels, as JPEG (quality 85) otherwise.

Pillow is imported inside ``process_image`` only: the HTTP function must not
pay for it at cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.shared.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed

MAX_PIXELS = 25_000_000
JPEG_QUALITY = 85

# What a client may declare (API Gateway must pass these as binary, see app.py).
MEDIA_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/avif",
    "image/x-icon",
    "image/vnd.microsoft.icon",
)
# What Pillow may open: the formats browsers show (a JPEG opens as MPO when
# it carries a second picture, e.g. from a camera).
PILLOW_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "AVIF", "ICO")
SHOWN_FORMATS = "PNG, JPEG, GIF, WebP, BMP, AVIF or ICO"


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    content_type: str
    width: int
    height: int


def process_image(data: bytes, *, box: tuple[int, int], max_bytes: int, what: str = "image") -> ProcessedImage:
    """The stored form of an uploaded image: first frame, upright, fitting
    ``box`` (width, height), PNG if transparent else JPEG. Raises
    PayloadTooLarge (413), UnsupportedMediaType (415) or ValidationFailed (422)."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"A {what} may be at most {max_bytes // 1024} KB.")
    import io
    import warnings

    from PIL import Image, ImageFile

    # Pillow's own bomb check at our limit (above it: a warning, made an error
    # here; above twice the limit: an error), for every frame and ICO member it
    # decodes. Truncated images are refused even when weasyprint, imported in
    # the same process, has made Pillow accept them. The Lambda runs one request
    # at a time; the globals are restored.
    previous_limit, previous_truncated = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = MAX_PIXELS, False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decoded(io.BytesIO(data), box)
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = previous_limit, previous_truncated


def _decoded(stream: Any, box: tuple[int, int]) -> ProcessedImage:
    from PIL import Image, ImageOps, UnidentifiedImageError

    bomb = (Image.DecompressionBombError, Image.DecompressionBombWarning)
    try:
        image = Image.open(stream, formats=list(PILLOW_FORMATS))
    except UnidentifiedImageError:
        raise UnsupportedMediaType(f"The body is not an image in a format browsers show ({SHOWN_FORMATS}).") from None
    except bomb:
        raise _bomb() from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise _damaged() from None
    with image:
        try:
            if image.width * image.height > MAX_PIXELS:
                raise _bomb()
            image.seek(0)  # the first frame of an animation
            # A JPEG decodes at a reduced scale when that still covers the box.
            image.draft(image.mode, (max(box), max(box)))
            image.load()
            if image.width * image.height > MAX_PIXELS:
                raise _bomb()
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail(box, Image.Resampling.LANCZOS)
            return _encoded(upright)
        except bomb:
            raise _bomb() from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise _damaged() from None


def _encoded(image: Any) -> ProcessedImage:
    import io

    rgba = image.convert("RGBA") if _may_be_transparent(image) else None
    out = io.BytesIO()
    if rgba is not None and rgba.getchannel("A").getextrema()[0] < 255:
        rgba.save(out, "PNG", optimize=True)
        return ProcessedImage(out.getvalue(), "image/png", rgba.width, rgba.height)
    rgb = (rgba or image).convert("RGB")
    rgb.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return ProcessedImage(out.getvalue(), "image/jpeg", rgb.width, rgb.height)


def _may_be_transparent(image: Any) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _bomb() -> ValidationFailed:
    return ValidationFailed(f"The image is too large to process: at most {MAX_PIXELS // 1_000_000} million pixels.")


def _damaged() -> ValidationFailed:
    return ValidationFailed("The image is damaged or cannot be read.")
