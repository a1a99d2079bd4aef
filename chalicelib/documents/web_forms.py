"""Web form snippets and pages (WEB-2), rendered with jinja2 from
chalicelib/templates/web_form*.j2.

Accessible by construction: every input has a label, required ones say so
in the label (not by colour alone) and in the ``required`` attribute, inputs
carry autocomplete tokens (WCAG 1.3.5), errors are tied to their input
(``aria-invalid``, ``aria-describedby``) and summed up in an alert at the top.
The honeypot is off-screen, skipped by keyboard and screen readers, and says
"leave this empty" should a strict Content-Security-Policy ignore its style.
No inline script: the HTML variant is a plain form; the JavaScript variant
loads one script from the API (``<key>/embed.js``) and still works as a
plain form without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.domain.contacts.details import DetailType
from chalicelib.domain.forms.models import ADDRESS_PARTS, ADDRESS_REQUIRED_PARTS, FieldName, FormField, WebForm
from chalicelib.domain.forms.submission import (
    ADDRESS_LIMITS,
    CONSENT_INPUT,
    DEFAULT_TEXT_LIMIT,
    HONEYPOT_INPUT,
    STAMP_INPUT,
    TEXT_LIMITS,
)
from chalicelib.domain.settings.custom_fields import TEXT_LIMITS as CUSTOM_TEXT_LIMITS
from chalicelib.domain.settings.custom_fields import CustomField, FieldType

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
VARIANTS = ("html", "js")

_AUTOCOMPLETE = {
    FieldName.FIRST_NAME: "given-name",
    FieldName.LAST_NAME: "family-name",
    FieldName.COMPANY_NAME: "organization",
    FieldName.JOB_TITLE: "organization-title",
    FieldName.WEBSITE: "url",
    FieldName.SOCIAL: "url",
}
# HTML's contact modifiers (work, home, mobile, fax) before "email" / "tel".
_CONTACT_MODIFIER = {"work": "work ", "direct": "work ", "home": "home ", "mobile": "mobile ", "fax": "fax "}
_ADDRESS_SECTION = {"billing": "billing ", "delivery": "shipping "}
_ADDRESS_AUTOCOMPLETE = {
    "street": "address-line1",
    "zip": "postal-code",
    "city": "address-level2",
    "state": "address-level1",
    "country": "country-name",
}
_ADDRESS_LABELS = {
    "street": "Street",
    "zip": "Postcode",
    "city": "City",
    "state": "State or region",
    "country": "Country",
}


@dataclass
class Input:
    """One control as the template draws it."""

    name: str
    label: str
    control: str  # input | textarea | select | checkbox
    type: str = "text"
    required: bool = False
    autocomplete: str | None = None
    maxlength: int | None = None
    options: list[str] = field(default_factory=list)
    value: str = ""
    checked: bool = False
    error: str | None = None


@dataclass
class Group:
    """A question: one input, or an address's fieldset of several."""

    label: str
    inputs: list[Input]
    fieldset: bool = False
    required: bool = False


def _detail_autocomplete(asked: FormField) -> str:
    modifier = _CONTACT_MODIFIER.get(asked.detail_category, "")
    return modifier + ("email" if asked.detail_type == DetailType.EMAIL else "tel")


def _groups(
    form: WebForm, custom: dict[str, CustomField], values: dict[str, Any], errors: dict[str, str]
) -> list[Group]:
    labels = {k: d.label for k, d in custom.items()}
    groups = []
    for asked in form.fields:
        name, label = asked.input_name, asked.shown_label(labels)
        text = values.get(name)
        value = text if isinstance(text, str) else ""
        common = {"name": name, "label": label, "required": asked.required, "value": value, "error": errors.get(name)}
        if asked.field == FieldName.CUSTOM:
            definition = custom.get(asked.custom_field_id or "")
            if definition is None:
                continue  # deleted since: no longer asked
            if definition.type == FieldType.CHECKBOX:
                raw = values.get(name)
                checked = raw is True or (isinstance(raw, str) and raw.lower() in ("on", "true", "1", "yes"))
                control = Input(**{**common, "value": ""}, control="checkbox", type="checkbox", checked=checked)
            elif definition.type == FieldType.SELECT:
                control = Input(**common, control="select", options=list(definition.options))
            elif definition.type == FieldType.DATE:
                control = Input(**common, control="input", type="date")
            elif definition.type == FieldType.TEXTAREA:
                control = Input(**common, control="textarea", maxlength=CUSTOM_TEXT_LIMITS[FieldType.TEXTAREA])
            else:
                control = Input(**common, control="input", maxlength=CUSTOM_TEXT_LIMITS[FieldType.TEXT])
            groups.append(Group(label, [control], required=asked.required))
        elif asked.field == FieldName.ADDRESS:
            raw_address = values.get(name)
            parts = raw_address if isinstance(raw_address, dict) else {}
            section = _ADDRESS_SECTION.get(asked.detail_category, "")
            inputs = [
                Input(
                    name=f"{name}.{part}",
                    label=_ADDRESS_LABELS[part],
                    control="input",
                    required=asked.required and part in ADDRESS_REQUIRED_PARTS,
                    autocomplete=section + _ADDRESS_AUTOCOMPLETE[part],
                    maxlength=ADDRESS_LIMITS[part],
                    value=parts.get(part) if isinstance(parts.get(part), str) else "",
                    error=errors.get(f"{name}.{part}") or (errors.get(name) if part == "street" else None),
                )
                for part in ADDRESS_PARTS
            ]
            groups.append(Group(label, inputs, fieldset=True, required=asked.required))
        elif asked.detail_type in (DetailType.EMAIL, DetailType.PHONE):
            kind = "email" if asked.detail_type == DetailType.EMAIL else "tel"
            control = Input(
                **common, control="input", type=kind, autocomplete=_detail_autocomplete(asked), maxlength=254
            )
            groups.append(Group(label, [control], required=asked.required))
        elif asked.detail_type is not None:
            control = Input(
                **common, control="input", type="url", autocomplete=_AUTOCOMPLETE[asked.field], maxlength=500
            )
            groups.append(Group(label, [control], required=asked.required))
        elif asked.field == FieldName.DESCRIPTION:
            control = Input(**common, control="textarea", maxlength=TEXT_LIMITS[FieldName.DESCRIPTION])
            groups.append(Group(label, [control], required=asked.required))
        else:
            control = Input(
                **common, control="input", autocomplete=_AUTOCOMPLETE.get(asked.field), maxlength=DEFAULT_TEXT_LIMIT
            )
            groups.append(Group(label, [control], required=asked.required))
    return groups


@cache
def _environment() -> Any:
    import jinja2  # ~110 ms: only when a form is rendered

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _context(
    form: WebForm,
    custom: dict[str, CustomField],
    *,
    action: str,
    stamp: str,
    variant: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant}")
    values = values or {}
    errors = errors or {}
    consent = values.get(CONSENT_INPUT)
    return {
        "form": form,
        "dom_id": f"crm-form-{form.id[-10:].lower()}",
        "action": action,
        "stamp": stamp,
        "variant": variant,
        "groups": _groups(form, custom, values, errors),
        "errors": errors,
        "consent_text": form.consent_text,
        "consent_checked": consent is True or (isinstance(consent, str) and consent.lower() in ("on", "true", "1")),
        "consent_error": errors.get(CONSENT_INPUT),
        "stamp_input": STAMP_INPUT,
        "honeypot_input": HONEYPOT_INPUT,
        "consent_input": CONSENT_INPUT,
        "script_url": f"{action}/embed.js",
    }


def render_snippet(
    form: WebForm,
    custom: dict[str, CustomField],
    *,
    action: str,
    stamp: str,
    variant: str = "html",
) -> str:
    """The form to paste into a website (``variant``: html or js)."""
    template = _environment().get_template("web_form.html.j2")
    return str(template.render(**_context(form, custom, action=action, stamp=stamp, variant=variant)))


def render_page(
    form: WebForm,
    custom: dict[str, CustomField],
    *,
    action: str,
    stamp: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    back_url: str | None = None,
) -> str:
    """A small page holding the form: the hosted form, and the answer to a
    browser's post that cannot be taken (errors shown, answers kept)."""
    template = _environment().get_template("web_form_page.html.j2")
    context = _context(form, custom, action=action, stamp=stamp, variant="html", values=values, errors=errors)
    return str(template.render(**context, notice=notice, back_url=back_url))


def render_script(form: WebForm, *, action: str, stamp: str) -> str:
    """The JavaScript variant's script, with a stamp made when the page loads it."""
    template = _environment().get_template("web_form.js.j2")
    return str(
        template.render(
            action=action,
            stamp=stamp,
            stamp_input=STAMP_INPUT,
            thank_you=form.thank_you_text or "Thank you! We have received your message.",
        )
    )
