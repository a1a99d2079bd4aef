"""A contact's photo (CON-7): real image bytes made by Pillow, through the API."""

import io
import json
import struct
import zlib
from urllib.parse import urlparse

import pytest
from PIL import Image

from chalicelib.domain.contacts.photo import MAX_PIXELS, MEDIA_TYPES, process_image
from chalicelib.domain.shared.errors import PayloadTooLarge
from chalicelib.storage.contacts.photos import photo_key
from tests.conftest import bearer

BUCKET = "crm-test-files"


def image_bytes(fmt, size=(400, 300), mode="RGB", color=(200, 30, 30), **save):
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt, **save)
    return out.getvalue()


def transparent_png(size=(800, 400)):
    image = Image.new("RGBA", size, (0, 120, 255, 255))
    image.paste((0, 0, 0, 0), (0, 0, size[0] // 2, size[1]))  # left half fully transparent
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def rotated_jpeg():
    """600x300 pixels whose EXIF says "rotate 90 degrees to show": upright it is 300x600."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return image_bytes("JPEG", (600, 300), exif=exif)


def animated_gif():
    frames = [Image.new("RGB", (120, 120), (220, 0, 0)), Image.new("RGB", (120, 120), (0, 0, 220))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def png_claiming(width, height):
    """A valid 1x1 PNG whose header (IHDR, CRC fixed) claims another size."""
    png = image_bytes("PNG", (1, 1))
    chunk = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + png[33:]


def put_photo(api, token, contact_id, data, content_type="image/png", **headers):
    response = api.client.http.put(
        f"/v1/contacts/{contact_id}/photo",
        body=data,
        headers={"authorization": f"Bearer {token}", "content-type": content_type, **headers},
    )
    body = json.loads(response.body) if response.body else None
    return response.status_code, body, {k.lower(): v for k, v in response.headers.items()}


def stored(tenant_id, contact_id):
    """The stored image (opened with Pillow) and its S3 content type, or None."""
    from chalicelib.storage.dynamo.aws import client

    try:
        answer = client("s3").get_object(Bucket=BUCKET, Key=photo_key(tenant_id, contact_id))
    except client("s3").exceptions.NoSuchKey:
        return None
    image = Image.open(io.BytesIO(answer["Body"].read()))
    image.load()
    return image, answer["ContentType"]


def create(api, token, **fields):
    body = {"kind": "person", "first_name": "Anna", "last_name": "Müller", **fields}
    status, contact, _ = api.call("POST", "/v1/contacts", body, headers=bearer(token))
    assert status == 201, contact
    return contact


@pytest.fixture
def contact(api, tenant):
    return create(api, tenant.owner_token)


# ---- what is stored ----


def test_transparent_png_is_scaled_to_fit_and_stays_png(api, tenant, contact):
    status, photo, _ = put_photo(api, tenant.owner_token, contact["id"], transparent_png((800, 400)))
    assert status == 200, photo
    assert (photo["content_type"], photo["width"], photo["height"]) == ("image/png", 200, 100)
    assert photo["contact_version"] == contact["version"] + 1
    image, content_type = stored(tenant.id, contact["id"])
    assert (image.format, content_type, image.size) == ("PNG", "image/png", (200, 100))
    assert image.mode == "RGBA" and image.getpixel((10, 50))[3] == 0 and image.getpixel((190, 50))[3] == 255
    _, now, _ = api.call("GET", f"/v1/contacts/{contact['id']}", headers=bearer(tenant.owner_token))
    assert now["has_photo"] is True and now["version"] == photo["contact_version"]


def test_exif_orientation_is_applied_before_fitting_the_box(api, tenant, contact):
    status, photo, _ = put_photo(api, tenant.owner_token, contact["id"], rotated_jpeg(), "image/jpeg")
    assert status == 200, photo
    # Upright 300x600 (portrait), scaled into 200x300 keeping 1:2.
    assert (photo["content_type"], photo["width"], photo["height"]) == ("image/jpeg", 150, 300)
    image, _ = stored(tenant.id, contact["id"])
    assert image.format == "JPEG" and image.size == (150, 300)
    assert not image.getexif().get(0x0112), "metadata is dropped: no second rotation by the viewer"


def test_animated_gif_keeps_its_first_frame_as_jpeg(api, tenant, contact):
    status, photo, _ = put_photo(api, tenant.owner_token, contact["id"], animated_gif(), "image/gif")
    assert status == 200, photo
    image, content_type = stored(tenant.id, contact["id"])
    assert content_type == "image/jpeg" and image.size == (120, 120), "small images are never scaled up"
    red, green, blue = image.getpixel((60, 60))
    assert red > 180 and blue < 60, "the first (red) frame, not the second (blue)"


def test_opaque_png_is_stored_as_jpeg_and_the_real_format_decides(api, tenant, contact):
    opaque_rgba = image_bytes("PNG", (300, 450), mode="RGBA", color=(10, 200, 10, 255))
    status, photo, _ = put_photo(api, tenant.owner_token, contact["id"], opaque_rgba, "image/jpeg")
    assert status == 200, photo
    assert (photo["content_type"], photo["width"], photo["height"]) == ("image/jpeg", 200, 300)
    assert stored(tenant.id, contact["id"])[0].format == "JPEG"


@pytest.mark.parametrize("fmt, media_type", [("WEBP", "image/webp"), ("BMP", "image/bmp"), ("ICO", "image/x-icon")])
def test_other_formats_browsers_show_are_accepted(api, tenant, contact, fmt, media_type):
    status, photo, _ = put_photo(api, tenant.owner_token, contact["id"], image_bytes(fmt, (64, 64)), media_type)
    assert status == 200, photo
    assert (photo["width"], photo["height"]) == (64, 64)


def test_a_new_upload_replaces_the_photo(api, tenant, contact):
    put_photo(api, tenant.owner_token, contact["id"], transparent_png())
    status, photo, _ = put_photo(api, tenant.owner_token, contact["id"], image_bytes("JPEG"), "image/jpeg")
    assert status == 200 and photo["content_type"] == "image/jpeg"
    assert stored(tenant.id, contact["id"])[1] == "image/jpeg"


# ---- what is refused ----


def test_text_claiming_to_be_png_is_415(api, tenant, contact):
    status, problem, headers = put_photo(api, tenant.owner_token, contact["id"], b"just some text, not an image")
    assert status == 415 and headers["content-type"] == "application/problem+json"
    assert "PNG, JPEG" in problem["detail"]
    assert stored(tenant.id, contact["id"]) is None
    assert api.call("GET", f"/v1/contacts/{contact['id']}", headers=bearer(tenant.owner_token))[1]["has_photo"] is False


def test_an_image_format_browsers_do_not_show_is_415(api, tenant, contact):
    status, _, _ = put_photo(api, tenant.owner_token, contact["id"], image_bytes("TIFF", (50, 50)))
    assert status == 415


def test_a_content_type_that_is_no_image_is_415(api, tenant, contact):
    status, problem, headers = put_photo(api, tenant.owner_token, contact["id"], image_bytes("PNG"), "text/plain")
    assert status == 415 and headers["content-type"] == "application/problem+json"


def test_more_than_one_megabyte_is_413(api, tenant, contact):
    status, problem, _ = put_photo(api, tenant.owner_token, contact["id"], b"\x89PNG" + b"\0" * (1024 * 1024))
    assert status == 413 and problem["status"] == 413
    with pytest.raises(PayloadTooLarge):  # the rule itself, whatever the gateway's limit
        process_image(b"\0" * (1024 * 1024 + 1))


def test_a_png_whose_header_claims_a_huge_size_is_422(api, tenant, contact):
    status, problem, _ = put_photo(api, tenant.owner_token, contact["id"], png_claiming(30000, 30000))
    assert status == 422 and "million pixels" in problem["detail"]
    assert stored(tenant.id, contact["id"]) is None


def test_a_highly_compressed_large_png_under_one_megabyte_is_422(api, tenant, contact):
    bomb = image_bytes("PNG", (6000, 5000), mode="L", color=0)
    assert len(bomb) < 1024 * 1024 and 6000 * 5000 > MAX_PIXELS
    status, problem, _ = put_photo(api, tenant.owner_token, contact["id"], bomb)
    assert status == 422


# ---- reading, removing, versions ----


def test_get_redirects_to_a_short_lived_url_of_the_image(api, tenant, contact):
    put_photo(api, tenant.owner_token, contact["id"], transparent_png())
    response = api.client.http.get(
        f"/v1/contacts/{contact['id']}/photo", headers={"authorization": f"Bearer {tenant.owner_token}"}
    )
    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    assert location.path.endswith(photo_key(tenant.id, contact["id"]))
    assert "X-Amz-Expires=300" in location.query and "X-Amz-Signature=" in location.query


def test_no_photo_is_404(api, tenant, contact):
    assert api.call("GET", f"/v1/contacts/{contact['id']}/photo", headers=bearer(tenant.owner_token))[0] == 404
    assert api.call("DELETE", f"/v1/contacts/{contact['id']}/photo", headers=bearer(tenant.owner_token))[0] == 404


def test_delete_removes_the_photo_and_its_object(api, tenant, contact):
    put_photo(api, tenant.owner_token, contact["id"], transparent_png())
    assert api.call("DELETE", f"/v1/contacts/{contact['id']}/photo", headers=bearer(tenant.owner_token))[0] == 204
    assert stored(tenant.id, contact["id"]) is None
    assert api.call("GET", f"/v1/contacts/{contact['id']}/photo", headers=bearer(tenant.owner_token))[0] == 404
    assert api.call("GET", f"/v1/contacts/{contact['id']}", headers=bearer(tenant.owner_token))[1]["has_photo"] is False


def test_if_match_when_sent_must_be_current(api, tenant, contact):
    status, _, _ = put_photo(api, tenant.owner_token, contact["id"], transparent_png(), **{"if-match": '"7"'})
    assert status == 412
    assert stored(tenant.id, contact["id"]) is None, "a stale upload stores nothing"
    status, photo, _ = put_photo(
        api, tenant.owner_token, contact["id"], transparent_png(), **{"if-match": f'"{contact["version"]}"'}
    )
    assert status == 200
    stale = api.call(
        "DELETE",
        f"/v1/contacts/{contact['id']}/photo",
        headers=bearer(tenant.owner_token, **{"If-Match": f'"{contact["version"]}"'}),
    )
    assert stale[0] == 412
    assert (
        api.call(
            "DELETE",
            f"/v1/contacts/{contact['id']}/photo",
            headers=bearer(tenant.owner_token, **{"If-Match": f'"{photo["contact_version"]}"'}),
        )[0]
        == 204
    )


def test_deleting_the_contact_deletes_its_photo(api, tenant, contact, run_jobs):
    put_photo(api, tenant.owner_token, contact["id"], transparent_png())
    other = create(api, tenant.owner_token, first_name="Bert")
    put_photo(api, tenant.owner_token, other["id"], transparent_png())
    assert api.call("DELETE", f"/v1/contacts/{contact['id']}", headers=bearer(tenant.owner_token))[0] == 204
    assert run_jobs()["failures"] == []
    assert stored(tenant.id, contact["id"]) is None
    assert stored(tenant.id, other["id"]) is not None, "only the deleted contact's photo goes"


# ---- who may ----


@pytest.fixture
def user(tenant):
    return tenant.add_user("user@acme.example")


def test_a_private_contact_is_404_for_a_user_who_is_not_its_manager(api, tenant, contact, user):
    put_photo(api, tenant.owner_token, contact["id"], transparent_png())
    _, token = user
    path = f"/v1/contacts/{contact['id']}/photo"
    assert api.call("GET", path, headers=bearer(token))[0] == 404
    assert put_photo(api, token, contact["id"], transparent_png())[0] == 404
    assert api.call("DELETE", path, headers=bearer(token))[0] == 404
    assert stored(tenant.id, contact["id"]) is not None


def test_shared_for_reading_shows_the_photo_but_does_not_let_change_it(api, tenant, user):
    shared = create(api, tenant.owner_token, access="shared_read")
    put_photo(api, tenant.owner_token, shared["id"], transparent_png())
    _, token = user
    path = f"/v1/contacts/{shared['id']}/photo"
    assert api.client.http.get(path, headers={"authorization": f"Bearer {token}"}).status_code == 302
    assert put_photo(api, token, shared["id"], image_bytes("JPEG"), "image/jpeg")[0] == 403
    assert api.call("DELETE", path, headers=bearer(token))[0] == 403
    assert stored(tenant.id, shared["id"])[1] == "image/png"


def test_shared_for_writing_lets_users_change_the_photo(api, tenant, user):
    shared = create(api, tenant.owner_token, access="shared_write")
    _, token = user
    assert put_photo(api, token, shared["id"], image_bytes("JPEG"), "image/jpeg")[0] == 200
    assert api.call("DELETE", f"/v1/contacts/{shared['id']}/photo", headers=bearer(token))[0] == 204


def test_another_tenant_cannot_touch_the_photo(api, tenant, other_tenant, contact):
    put_photo(api, tenant.owner_token, contact["id"], transparent_png())
    path = f"/v1/contacts/{contact['id']}/photo"
    assert api.call("GET", path, headers=bearer(other_tenant.owner_token))[0] == 404
    assert put_photo(api, other_tenant.owner_token, contact["id"], image_bytes("JPEG"), "image/jpeg")[0] == 404
    assert api.call("DELETE", path, headers=bearer(other_tenant.owner_token))[0] == 404
    assert stored(other_tenant.id, contact["id"]) is None
    assert stored(tenant.id, contact["id"])[1] == "image/png"


# ---- the gateway and the documentation ----


def test_every_accepted_image_type_reaches_the_function_as_bytes(app):
    assert set(MEDIA_TYPES) <= set(app.api.binary_types)


def test_photo_endpoints_are_documented(api):
    _, spec, _ = api.call("GET", "/openapi.json")
    photo = spec["paths"]["/v1/contacts/{contact_id}/photo"]
    assert set(photo) == {"get", "put", "delete"}
    assert set(photo["put"]["requestBody"]["content"]) == set(MEDIA_TYPES)
    assert "302" in photo["get"]["responses"] and "415" in photo["put"]["responses"]
