"""Every key of the table, built in one place.

Base table: ``pk`` / ``sk``. Every ``pk`` starts with ``T#<tenant_id>#`` so a
tenant's data is structurally apart from every other tenant's. The only keys
that do not start with a tenant are those of the cross-tenant
``schedule`` index (time buckets, read by scheduled jobs) and the ``SYS#``
items of those jobs; a request path never queries them.

Access patterns (one per line: pattern -> table/index, key condition):

  system job checkpoint            -> table   pk=SYS#JOB#<name>, sk=STATE
  items expiring in an hour        -> schedule sched_pk=EXPIRY#<yyyy-mm-ddThh>, sched_sk<=<iso now>
  tenant (settings, owner count)   -> table   pk=T#t#TENANT, sk=META
  user by id                       -> table   pk=T#t#USER#<uid>, sk=META
  a tenant's users                 -> gsi2    gsi2pk=T#t#USERS, gsi2sk=<uid>
  users with a login e-mail        -> gsi1    gsi1pk=LOGIN#<email>, gsi1sk=T#t#USER#<uid>  (login only: the
                                              tenant is not known before the credential is checked)
  e-mail uniqueness in a tenant    -> table   pk=T#t#EMAIL#<email>, sk=USER  (marker, same transaction)
  a user's tokens (session, API,   -> table   pk=T#t#USER#<uid>, sk begins_with TOKEN#
    invitation) / one token                   ... sk=TOKEN#<token id>
  a user's notifications, newest   -> table   pk=T#t#USER#<uid>, sk begins_with NOTIF#  (descending)
  group by id                      -> table   pk=T#t#GROUP#<gid>, sk=META
  a tenant's groups                -> gsi2    gsi2pk=T#t#GROUPS, gsi2sk=<gid>
  group name uniqueness            -> table   pk=T#t#GROUPNAME#<name>, sk=GROUP  (marker)
  failed logins per address/window -> table   pk=SYS#LOGIN#<sha256(email)>, sk=W#<window>  (before a tenant is known)
  contact by id                    -> table   pk=T#t#CONTACT#<cid>, sk=META
  contacts by facet, by name       -> table   pk=T#t#CX#<facet>, sk begins_with N#  (facets: all, kind#<k>,
                                              type#<id|none>, temp#<id|none>, tag#<folded>, mgr#<uid>,
                                              company#<cid>); index entries written in the contact's
                                              transaction, carrying the filterable and access attributes
  contacts by creation (range)     -> table   pk=T#t#CX#all, sk between C#<ulid lo> and C#<ulid hi>
  contacts by name word / e-mail   -> table   pk=T#t#CX#w#<first two letters>, sk begins_with W#<prefix>
  contacts by phone (E.164)        -> table   pk=T#t#CX#tel#<e164>, sk=<cid>
  a tenant's contact tags          -> table   pk=T#t#TAGS#<entity>, sk=<folded name>
  a settings list, whole           -> table   pk=T#t#LIST#<list>: sk=META (entry count, per-status counters)
                                              and sk begins_with ENTRY#, in one Query (lists are small)
  settings list entry              -> table   pk=T#t#LIST#<list>, sk=ENTRY#<id>  (in_use counter; a deleted
                                              entry stays as a tombstone until housekeeping removes it)
  settings list name uniqueness    -> table   pk=T#t#LISTNAME#<list>#<casefolded name>, sk=ENTRY  (marker)
  default currency, exchange rates -> table   pk=T#t#TENANT, sk=SETTINGS#MONEY
  a tenant's custom fields         -> table   pk=T#t#CFIELDS, sk begins_with FIELD#  (one Query, all entities)
  custom field by id               -> table   pk=T#t#CFIELDS, sk=FIELD#<id>  (in_use counter; tombstone on delete)

Later issues add their lines here; nothing outside this module builds a key.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chalicelib.domain.clock import iso

EXPIRY_BUCKET_FORMAT = "%Y-%m-%dT%H"


def tenant_prefix(tenant_id: str) -> str:
    if not tenant_id or "#" in tenant_id:
        raise ValueError("invalid tenant id")
    return f"T#{tenant_id}#"


def job_state(name: str) -> dict[str, str]:
    return {"pk": f"SYS#JOB#{name}", "sk": "STATE"}


def expiry_bucket(moment: datetime) -> str:
    return "EXPIRY#" + moment.astimezone(timezone.utc).strftime(EXPIRY_BUCKET_FORMAT)


def expiry_buckets(since: datetime, until: datetime) -> list[str]:
    """Every hourly bucket from ``since`` through ``until``, oldest first."""
    start = since.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    buckets, moment = [], start
    while moment <= until:
        buckets.append(expiry_bucket(moment))
        moment += timedelta(hours=1)
    return buckets


def expiry_attributes(expires_at: datetime) -> dict[str, object]:
    """Attributes that make an item expire: DynamoDB TTL plus the schedule
    index entry housekeeping uses, since TTL may lag for days (and never runs
    on the local emulator)."""
    return {
        "ttl": int(expires_at.timestamp()),
        "sched_pk": expiry_bucket(expires_at),
        "sched_sk": iso(expires_at),
    }


# ---- tenants, users, groups, tokens, notifications ----

def tenant(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant_prefix(tenant_id) + "TENANT", "sk": "META"}


def user(tenant_id: str, user_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}USER#{user_id}", "sk": "META"}


def user_indexes(tenant_id: str, user_id: str, email: str) -> dict[str, str]:
    return {
        "gsi1pk": login_partition(email), "gsi1sk": user(tenant_id, user_id)["pk"],
        "gsi2pk": tenant_users(tenant_id), "gsi2sk": user_id,
    }


def login_partition(email: str) -> str:
    return f"LOGIN#{email}"


def tenant_users(tenant_id: str) -> str:
    return tenant_prefix(tenant_id) + "USERS"


def email_marker(tenant_id: str, email: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}EMAIL#{email}", "sk": "USER"}


def token(tenant_id: str, user_id: str, token_id: str) -> dict[str, str]:
    return {"pk": user(tenant_id, user_id)["pk"], "sk": f"TOKEN#{token_id}"}


TOKEN_PREFIX = "TOKEN#"
NOTIFICATION_PREFIX = "NOTIF#"


def notification(tenant_id: str, user_id: str, notification_id: str) -> dict[str, str]:
    return {"pk": user(tenant_id, user_id)["pk"], "sk": f"{NOTIFICATION_PREFIX}{notification_id}"}


def group(tenant_id: str, group_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}GROUP#{group_id}", "sk": "META"}


def group_indexes(tenant_id: str, group_id: str) -> dict[str, str]:
    return {"gsi2pk": tenant_groups(tenant_id), "gsi2sk": group_id}


def tenant_groups(tenant_id: str) -> str:
    return tenant_prefix(tenant_id) + "GROUPS"


def group_name_marker(tenant_id: str, name: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}GROUPNAME#{name.strip().lower()}", "sk": "GROUP"}


def login_failures(email_digest: str, window: int) -> dict[str, str]:
    return {"pk": f"SYS#LOGIN#{email_digest}", "sk": f"W#{window}"}


# ---- contacts ----

def contact(tenant_id: str, contact_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}CONTACT#{contact_id}", "sk": "META"}


def contact_facet(tenant_id: str, facet: str) -> str:
    return f"{tenant_prefix(tenant_id)}CX#{facet}"


CONTACT_BY_NAME = "N#"
CONTACT_BY_CREATION = "C#"
CONTACT_BY_WORD = "W#"


def contact_by_name(name_key: str, contact_id: str) -> str:
    return f"{CONTACT_BY_NAME}{name_key}#{contact_id}"


def contact_by_creation(contact_id: str) -> str:
    return f"{CONTACT_BY_CREATION}{contact_id}"


def contact_by_word(token: str, contact_id: str) -> str:
    return f"{CONTACT_BY_WORD}{token}#{contact_id}"


def ulid_time_bound(moment: datetime, *, upper: bool) -> str:
    """The smallest (or largest) ULID of a moment: ULIDs sort by creation time."""
    from ulid import ULID

    prefix = str(ULID.from_datetime(moment))[:10]
    return prefix + ("Z" * 16 if upper else "0" * 16)


def tags(tenant_id: str, entity: str) -> str:
    return f"{tenant_prefix(tenant_id)}TAGS#{entity}"


def tag(tenant_id: str, entity: str, folded_name: str) -> dict[str, str]:
    return {"pk": tags(tenant_id, entity), "sk": folded_name}


# ---- settings lists, money settings, custom fields ----

LIST_ENTRY_PREFIX = "ENTRY#"
LIST_META_SK = "META"
CUSTOM_FIELD_PREFIX = "FIELD#"


def settings_list(tenant_id: str, list_name: str) -> str:
    return f"{tenant_prefix(tenant_id)}LIST#{list_name}"


def settings_list_meta(tenant_id: str, list_name: str) -> dict[str, str]:
    return {"pk": settings_list(tenant_id, list_name), "sk": LIST_META_SK}


def settings_list_entry(tenant_id: str, list_name: str, entry_id: str) -> dict[str, str]:
    return {"pk": settings_list(tenant_id, list_name), "sk": f"{LIST_ENTRY_PREFIX}{entry_id}"}


def settings_list_name_marker(tenant_id: str, list_name: str, folded_name: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}LISTNAME#{list_name}#{folded_name}", "sk": "ENTRY"}


def money_settings(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant(tenant_id)["pk"], "sk": "SETTINGS#MONEY"}


def custom_fields(tenant_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}CFIELDS"


def custom_field(tenant_id: str, field_id: str) -> dict[str, str]:
    return {"pk": custom_fields(tenant_id), "sk": f"{CUSTOM_FIELD_PREFIX}{field_id}"}
