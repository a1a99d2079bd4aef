"""Admin commands: ``python -m chalicelib.cli create-tenant --name ... --owner-email ...``
and ``python -m chalicelib.cli migrate`` (after an upgrade).

Runs against whatever the environment points at (AWS, or the local stack via
CRM_AWS_ENDPOINT_URL). Without --owner-password the owner gets a one-time
invitation token, printed here, with which they set their password.
"""

from __future__ import annotations

import argparse
import json
import sys

from pydantic import ValidationError


def create_tenant(
    name: str,
    owner_email: str,
    owner_name: str = "Owner",
    owner_password: str | None = None,
    time_zone: str = "UTC",
    phone_region: str = "DE",
) -> dict[str, str | None]:
    from chalicelib.bootstrap import container
    from chalicelib.domain.identity.tenants import NewTenant

    tenant, owner, invitation = container().tenants.create(
        NewTenant(
            name=name,
            owner_email=owner_email,
            owner_name=owner_name,
            owner_password=owner_password,
            time_zone=time_zone,
            phone_region=phone_region,
        )
    )
    return {"tenant_id": tenant.id, "owner_id": owner.id, "owner_email": owner.email, "invitation_token": invitation}


def ensure_demo_tenant(owner_email: str, owner_password: str, name: str = "Demo") -> dict[str, str | None] | None:
    """The local stack's demo tenant: created once, found again after a restart."""
    from chalicelib.bootstrap import container

    if container().identity_store.users_with_login_email(owner_email):
        return None
    return create_tenant(
        name, owner_email, owner_name="Demo Owner", owner_password=owner_password, time_zone="Europe/Berlin"
    )


def migrate() -> dict[str, object]:
    """Bring the table's derived data up to the code's rules (idempotent: a
    table that is current is left alone)."""
    from chalicelib.storage.cases import CaseStore
    from chalicelib.storage.contacts.store import ContactStore
    from chalicelib.storage.deals import DealStore
    from chalicelib.storage.dynamo.reindex import INDEX_VERSION, current_version, reindex
    from chalicelib.storage.dynamo.table import Table
    from chalicelib.storage.tasks.store import TaskStore

    table = Table()
    found = current_version(table)
    if found >= INDEX_VERSION:
        return {"index_version": found, "reindexed": False}
    report = reindex([ContactStore(table), TaskStore(table), DealStore(table), CaseStore(table)], table)
    return {
        "index_version": INDEX_VERSION,
        "reindexed": True,
        "records": report.by_kind,
        "entries_removed": report.entries_removed,
        "tags_rekeyed": report.tags_rekeyed,
        "records_changed": report.records_changed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-tenant", help="create a tenant and its owner")
    create.add_argument("--name", required=True)
    create.add_argument("--owner-email", required=True)
    create.add_argument("--owner-name", default="Owner")
    create.add_argument("--owner-password", help="omit to get an invitation token instead")
    create.add_argument("--time-zone", default="UTC")
    create.add_argument("--phone-region", default="DE", help="ISO 3166 region for local phone numbers")
    commands.add_parser("migrate", help="rebuild derived data (search index) after an upgrade; idempotent")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        print(json.dumps(migrate(), indent=2))
        return 0
    try:
        result = create_tenant(
            args.name, args.owner_email, args.owner_name, args.owner_password, args.time_zone, args.phone_region
        )
    except ValidationError as err:
        for error in err.errors(include_url=False, include_input=False):
            print(f"error: {'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


def run(argv: list[str] | None = None) -> int:
    """``main`` for a person at a terminal: an expected failure (the owner exists,
    the emulator is not running, no credentials, no table) is one line on
    stderr and exit code 1, never a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.config import get_settings
    from chalicelib.domain.shared.errors import CrmError, TemporarilyUnavailable

    endpoint = get_settings().aws_endpoint_url
    where = endpoint or "AWS"
    try:
        return main(argv)
    except CrmError as err:
        message = err.detail
        if isinstance(err, TemporarilyUnavailable) and endpoint:
            message += f" ({endpoint} did not answer: is the local stack running? make run)"
    except ClientError as err:
        error = err.response.get("Error", {})
        message = f"{where} answered {error.get('Code', 'an error')}: {error.get('Message', '')}".rstrip(": ")
        if error.get("Code") == "ResourceNotFoundException":
            message += f" (is the table {get_settings().table_name} there? the local stack creates it: make run)"
    except BotoCoreError as err:
        message = f"{err} (against the local stack: make run, then CRM_AWS_ENDPOINT_URL=http://127.0.0.1:4566)"
    except KeyboardInterrupt:
        return 130
    print(f"error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(run())
