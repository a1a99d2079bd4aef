"""Subject and body as sandboxed jinja2 templates (ADM-2).

Users write the templates, so they run in jinja2's ``SandboxedEnvironment``
(no attribute of a Python internal, no ``__class__`` walks, ``range`` capped)
with ``StrictUndefined``: a placeholder that does not exist is an error that
names it (422), never an empty string in ten thousand mails. The output is
capped too, so a loop cannot make a gigabyte of mail.

Placeholders (``{{ first_name }}``): see ``PLACEHOLDERS``; custom fields as
``{{ custom.<name> }}`` (the field's name in lower case, spaces as ``_``) or
``{{ custom["<field id>"] }}``; ``{{ unsubscribe_url }}`` where the link should
go (otherwise it is added at the end of the body).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalicelib.domain.shared.errors import FieldError, ValidationFailed

PLACEHOLDERS = (
    "first_name",
    "last_name",
    "display_name",
    "company_name",
    "job_title",
    "email",
    "phone",
    "custom",
    "unsubscribe_url",
)
MAX_OUTPUT = 200_000


def field_key(name: str) -> str:
    """A custom field's placeholder name: ``Shoe size`` -> ``shoe_size``."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def _environment() -> Any:
    # Imported here: jinja2 costs ~0.1 s and only mailings need it (cold start).
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"The {field} template is not valid: {message}", errors=[FieldError(field, message)])


def render(field: str, source: str, context: Mapping[str, Any]) -> str:
    """``source`` rendered for one recipient; ValidationFailed (422) naming the
    template field and the placeholder or construct at fault."""
    from jinja2 import TemplateError, UndefinedError, meta
    from jinja2.exceptions import SecurityError

    env = _environment()
    try:
        parsed = env.parse(source)
    except TemplateError as err:
        raise _invalid(field, f"line {getattr(err, 'lineno', '?')}: {err.message or err}") from None
    unknown = sorted(meta.find_undeclared_variables(parsed) - set(context))
    if unknown:
        raise _invalid(field, f"unknown placeholder {unknown[0]!r}; known: {', '.join(PLACEHOLDERS)}")
    try:
        template = env.from_string(source)
        out: list[str] = []
        size = 0
        for piece in template.generate(**context):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise _invalid(field, f"the text would be longer than {MAX_OUTPUT} characters")
            out.append(piece)
    except SecurityError as err:
        raise _invalid(field, f"not allowed in a template: {err}") from None
    except UndefinedError as err:
        raise _invalid(field, f"unknown placeholder: {err.message}") from None
    except TemplateError as err:
        raise _invalid(field, str(err.message or err)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as err:
        raise _invalid(field, f"{type(err).__name__}: {err}") from None
    return "".join(out)


def sample_context(custom_fields: Mapping[str, str]) -> dict[str, Any]:
    """A recipient with every field filled, to check templates when a mailing is made."""
    custom = {field_key(name): "x" for name in custom_fields.values()} | {fid: "x" for fid in custom_fields}
    return {name: "x" for name in PLACEHOLDERS if name != "custom"} | {"custom": custom}
