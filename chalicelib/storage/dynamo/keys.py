"""Every key of the table, built in one place.

Base table: ``pk`` / ``sk``. Every ``pk`` starts with ``T#<tenant_id>#`` so a
tenant's data is structurally apart from every other tenant's. The only keys
that do not start with a tenant are those of the cross-tenant
``schedule`` index (time buckets, read by scheduled jobs) and the ``SYS#``
items of those jobs; a request path never queries them. Exceptions read by
request paths, because the tenant is not known before they are read: the
login lookup (``LOGIN#``), a web form's public key (``FORMKEY#<key>``: one
item naming its tenant and form, WEB-2) and the rate counters of callers
without a tenant yet (``SYS#LIMIT#``: client addresses, login e-mails).

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
  login attempts per e-mail/window -> table   pk=SYS#LIMIT#login#<sha256(email)>, sk=W#<window>  (a rate counter
                                              taken before the password is checked, given back on success)
  contact by id                    -> table   pk=T#t#CONTACT#<cid>, sk=META
  contacts by facet, by name       -> table   pk=T#t#CX#<facet>, sk begins_with N#  (facets: all, kind#<k>,
                                              type#<id|none>, temp#<id|none>, tag#<folded>, mgr#<uid>,
                                              company#<cid>); index entries written in the contact's
                                              transaction, carrying the filterable and access attributes
  contacts by creation (range)     -> table   pk=T#t#CX#all, sk between C#<ulid lo> and C#<ulid hi>
  contacts by name word / e-mail   -> table   pk=T#t#CX#w#<first two letters>, sk begins_with W#<prefix>
  contacts by phone (E.164)        -> table   pk=T#t#CX#tel#<e164>, sk=<cid>
  contacts by e-mail (exact)       -> table   pk=T#t#CX#mail#<lowercased address>, sk=<cid>  (import duplicates)
  a tenant's contact tags          -> table   pk=T#t#TAGS#<entity>, sk=<folded name>
  a task's armed reminder          -> table   pk=T#t#TASK#<id>, sk=REMINDER
  reminders due in a minute        -> schedule sched_pk=REMIND#<yyyy-mm-ddThh:mm>, sched_sk<=<iso now>
                                              (sparse: a sent reminder leaves the index)
  task by id                       -> table   pk=T#t#TASK#<id>, sk=META
  tasks by facet, by due time      -> table   pk=T#t#TX#<facet>, sk between D#<iso from> and D#<iso to>~
    (sk=D#<due iso>#<task id>)                (facets: all, resp#<uid>, resp#<uid>#<status>, status#<s>,
                                              category#<id>, contact#<id>, deal#<id>, case#<id>); index
                                              entries written in the task's transaction, carrying the
                                              filterable and access attributes
  an idempotent request's answer   -> table   pk=T#t#IDEMPOTENCY#<uid>#<sha256(route, key)>, sk=REQUEST
                                              (expires after 24 h: keys.expiry_attributes)
  a settings list, whole           -> table   pk=T#t#LIST#<list>: sk=META (entry count, per-status counters)
                                              and sk begins_with ENTRY#, in one Query (lists are small)
  settings list entry              -> table   pk=T#t#LIST#<list>, sk=ENTRY#<id>  (in_use counter; a deleted
                                              entry stays as a tombstone until housekeeping removes it)
  settings list name uniqueness    -> table   pk=T#t#LISTNAME#<list>#<casefolded name>, sk=ENTRY  (marker)
  default currency, exchange rates -> table   pk=T#t#TENANT, sk=SETTINGS#MONEY
  a tenant's custom fields         -> table   pk=T#t#CFIELDS, sk begins_with FIELD#  (one Query, all entities)
  custom field by id               -> table   pk=T#t#CFIELDS, sk=FIELD#<id>  (in_use counter; tombstone on delete)
  a record's history, newest first -> table   pk=T#t#<KIND>#<id> (the parent's own collection: CONTACT, DEAL,
    (by happened_at range)                    CASE), sk between HIST#<from iso> and HIST#<to iso>~ (descending);
                                              sk=HIST#<happened_at iso>#<event id>
  history event by id alone        -> gsi1    gsi1pk=T#t#HISTORY#<event id>, gsi1sk=EVENT  (PATCH/DELETE by id)
  a record's files                 -> table   pk=T#t#<KIND>#<id>, sk begins_with FILE#  (sk=FILE#<file id>)
  file by id alone                 -> gsi1    gsi1pk=T#t#FILE#<file id>, gsi1sk=FILE
  a record's change log, newest    -> table   pk=T#t#CHANGES#<entity>#<id>, sk begins_with CHG#  (sk=CHG#<ulid>;
                                              its own partition, so it outlives the record)
  a background job's status        -> table   pk=T#t#JOB#<job id>, sk=META  (bulk changes, imports, tag renames;
                                              counters are atomic ADDs; a job's items expire after 30 days)
  a job's finished chunks, ordered -> table   pk=T#t#JOB#<job id>, sk begins_with CHUNK#  (sk=CHUNK#<nnnnn>, put
                                              once under a condition: a redelivered chunk counts once)
  a job chunk's per-item progress  -> table   pk=T#t#JOB#<job id>, sk=PROGRESS#<nnnnn>  (resumes a redelivery)
  deal / case by id                -> table   pk=T#t#DEAL#<id> / T#t#CASE#<id>, sk=META  (the parent collection:
                                              HIST# and FILE# items share it; always Query with an sk prefix)
  deals by facet, newest first     -> table   pk=T#t#DX#<facet>, sk=<deal id>  (facets: all, resp#<uid>,
                                              stage#<id>, status#<open|won|lost>, tag#<folded>, contact#<cid>
                                              (main or member), acl#<uid> (private deals: each listed user));
                                              index entries in the deal's transaction, carrying the
                                              filterable, access and pipeline attributes
  deals by expected close date     -> table   pk=T#t#DX#close, sk between <yyyy-mm-dd># and <yyyy-mm-dd>#~
  pipeline aggregates              -> table   pk=T#t#PIPELINE, sk=<PUB|PRIV>#<stage id>#<currency>  (count, value,
                                              weighted: ADDed in each deal's transaction; one Query per pipeline)
  a deal's projects                -> table   pk=T#t#DEAL#<id>, sk begins_with PROJ#  (link items)
  project by id                    -> table   pk=T#t#PROJECT#<id>, sk=META  (names its deal_id)
  cases by facet, newest first     -> table   pk=T#t#KX#<facet>, sk=<case id>  (facets: all, closed#<true|false>,
                                              tag#<folded>, contact#<cid>); entries in the case's transaction
  an import's record (checkpoint)  -> table   pk=T#t#IMPORT#<id>, sk=META  (status, options, byte offset, line and
                                              counts of the next chunk; moved conditionally on its chunk number;
                                              outcome + finished_at written together, once, when it ends)
  an import's written rows         -> table   pk=T#t#IMPORT#<id>, sk between ROW#<offset> and ROW#<offset>
                                              (sk=ROW#<15-digit byte offset>; put in the row's record transaction)
  a dry run's keys seen so far     -> table   pk=T#t#IMPORT#<id>, sk=SEEN#<sha256(key)>  (BatchGetItem)
  a source system's record id      -> table   pk=T#t#EXTID#<entity>#<sha256(external id)>, sk=REF  (-> record id;
                                              written with the record)
  an export's job state            -> table   pk=T#t#JOB#<job id>, sk=EXPORT  (beside its background job's META:
                                              request, entity and page reached, the upload's resumable state)
  invoice settings (profile)       -> table   pk=T#t#TENANT, sk=SETTINGS#INVOICES
  next invoice number (counter)    -> table   pk=T#t#INVCOUNTER, sk=COUNTER  (moved in each invoice's transaction,
                                              conditioned on the value read: INV-1)
  invoice number uniqueness        -> table   pk=T#t#INVNO#<number>, sk=INVOICE  (marker in the invoice's
                                              transaction; kept after a delete: numbers are never reused)
  invoice by id                    -> table   pk=T#t#INVOICE#<id>, sk=META
  an invoice's rendered PDF state  -> table   pk=T#t#INVOICE#<id>, sk=PDF
  an invoice's mails               -> table   pk=T#t#INVOICE#<id>, sk=MAIL#<mail id>
  invoices by facet, by issue date -> table   pk=T#t#IX#<facet>, sk between <yyyy-mm-dd># and <yyyy-mm-dd>#~
    (newest first; sk=<issue date>#<id>)      (facets: all, status#<s>, contact#<cid> (client or consignee),
                                              deal#<id>, currency#<code>); entries in the invoice's transaction,
                                              carrying the filterable and access attributes
  invoices that no longer name a    -> table   pk=T#t#INVFORMER#<cid>, sk=INV#<invoice id>#<role>  (written in
    contact (deleted, re-pointed)             that write: their change logs still name it; GDPR erasure. Not an
                                              index entry: no record derives it, a reindex must keep it)
  a tenant's taxes                 -> table   pk=T#t#TAXES, sk begins_with TAX#  (in_use counter)
  a tenant's products, by creation -> table   pk=T#t#PRODUCTS, sk begins_with PRODUCT#  (in_use counter, stock)
  web form by id                   -> table   pk=T#t#WEBFORM#<id>, sk=META
  a tenant's web forms, newest     -> table   pk=T#t#WFX#all, sk=<form id>  (index entry in the form's transaction)
  web form by its public key       -> table   pk=FORMKEY#<key>, sk=FORM  (names tenant and form; written in the
                                              form's transaction; the only way a stranger's request finds a tenant)
  web form submissions per client  -> table   pk=T#t#LIMIT#form-ip#<hmac(ip)>, sk=W#<window>  (rate counters;
    address / per form, per window            pk=T#t#LIMIT#form#<id>; also swept: keys.expiry_attributes)
  voip account (Twilio SID, secret -> table   pk=T#t#VOIP, sk=ACCOUNT  (the token itself is in Secrets Manager;
    reference, webhook key)                   webhooks name the tenant in their path: T#<tenant>.<key>)
  voip numbers of a tenant, all    -> table   pk=T#t#VOIP, sk begins_with NUMBER#  (sk=NUMBER#<id>; a tenant has few)
  voip number by E.164             -> table   pk=T#t#VOIP, sk=TEL#<e164>  (marker: uniqueness and the incoming
                                              webhook's lookup, written in the number's transaction)
  operators' presence, all         -> table   pk=T#t#VOIP, sk begins_with PRESENCE#  (sk=PRESENCE#<uid>)
  call by id                       -> table   pk=T#t#CALL#<id>, sk=META
  call by Twilio CallSid           -> table   pk=T#t#CALLSID#<CallSid>, sk=CALL  (marker, names the call id;
                                              written with the call: one record per Twilio call)
  calls by facet, newest first     -> table   pk=T#t#CLX#<facet>, sk between S#<from iso> and S#<to iso>~
    (sk=S#<started iso>#<id>)                 (facets: all, dir#<d>, status#<s>, op#<uid> (each operator rung,
                                              answering or calling), contact#<cid>); entries in the call's
                                              transaction, carrying the filterable and access attributes
  a tenant's webhook subscriptions -> table   pk=T#t#WEBHOOKS, sk begins_with SUB#  (sk=SUB#<id>; at most 20: one
                                              Query per change; the signing secrets sealed in the item)
  a subscription's deliveries,     -> table   pk=T#t#WEBHOOK#<sid>, sk between DLV#<ulid lo> and DLV#<ulid hi>
    newest first / by time range              (sk=DLV#<event id>: one per event, sortable by time; expire after
                                              30 days: keys.expiry_attributes)
  a record item's kind and id      -> (no query) keys.record_item(pk, sk): what the table's stream names (webhooks)
  rate counter of a fixed window   -> table   pk=T#t#LIMIT#<scope>#<subject> (a tenant's: token#<token id>, form
                                              scopes) or SYS#LIMIT#<scope>#<subject> (no tenant yet: ip#<hmac(ip
                                              or /64)>, login#<digest>), sk=W#<window>; conditional ADD; ttl an
                                              hour after the window (API counters: ttl only, no index entry)

  mailing by id (ADM-2)            -> table   pk=T#t#MAILING#<id>, sk=META  (counters ADDed at each chunk's
                                              checkpoint, conditional on the chunk number)
  a mailing's recipients, by id    -> table   pk=T#t#MAILING#<id>, sk begins_with R#  (sk=R#<contact id>; claimed
                                              with a conditional put before the mail goes out)
  a person's mailing results       -> gsi1    gsi1pk=T#t#MAILRCPT#<contact id>, gsi1sk=<mailing id>  (GDPR erasure)
  mailing settings (sending rate)  -> table   pk=T#t#TENANT, sk=SETTINGS#MAILING
  suppressed address               -> table   pk=T#t#SUPPRESS#<sha256(address)>, sk=ADDRESS  (never the address)
  sends in a tenant's second       -> table   pk=T#t#LIMIT#mail-send#tenant, sk=W#<unix second>  (a rate counter
                                              below the tenant's rate, kept an hour: domain/mailing/throttle.py)
  GDPR export/erasure job          -> table   pk=T#t#GDPR#<job id>, sk=META  (names the contact id only)
  report by id                     -> table   pk=T#t#REPORT#<id>, sk=META  (its creator's only; the workbook and
                                              the rows a checkpoint parked are in S3 under t/<tenant>/reports/<id>/)
  a user's reports, newest first   -> table   pk=T#t#RPX#mine#<uid>, sk=<report id>  (entry in the report's transaction)
  reports expiring in an hour      -> schedule sched_pk=REPORTEXP#<yyyy-mm-ddThh>, sched_sk=<expires iso>#<id>  (on the
                                              report item once it is made: retention is the tenant's setting)
  report schedule by id            -> table   pk=T#t#RSCHED#<id>, sk=META
  a user's report schedules        -> table   pk=T#t#RSX#mine#<uid>, sk=<schedule id>
  report schedules due in an hour  -> schedule sched_pk=REPORTDUE#<yyyy-mm-ddThh>, sched_sk=<next run iso>#<id>  (on the
                                              schedule item; moves on with each slot)
  a schedule slot's report (once)  -> table   pk=T#t#RSCHED#<id>, sk=SLOT#<W yyyy-mm-dd|M yyyy-mm>  (marker put with
                                              the report under attribute_not_exists: one report per slot)
  report retention                 -> table   pk=T#t#TENANT, sk=SETTINGS#REPORTS

Later issues add their lines here; nothing outside this module builds a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.domain.shared.clock import iso

# ---- sort-key conditions (Query) ----


@dataclass(frozen=True)
class SortKey:
    """A sort-key condition: ``SortKey.begins_with("CONTACT#")`` etc."""

    op: str
    values: tuple[str, ...]

    @classmethod
    def eq(cls, value: str) -> "SortKey":
        return cls("=", (value,))

    @classmethod
    def begins_with(cls, prefix: str) -> "SortKey":
        return cls("begins_with", (prefix,))

    @classmethod
    def between(cls, low: str, high: str) -> "SortKey":
        return cls("between", (low, high))

    @classmethod
    def at_most(cls, value: str) -> "SortKey":
        return cls("<=", (value,))

    @classmethod
    def at_least(cls, value: str) -> "SortKey":
        return cls(">=", (value,))

    def expression(self, name: str) -> str:
        if self.op == "begins_with":
            return f"begins_with({name}, :sk0)"
        if self.op == "between":
            return f"{name} BETWEEN :sk0 AND :sk1"
        return f"{name} {self.op} :sk0"

    def matches(self, sort_key: str) -> bool:
        """Whether a sort key meets the condition, as DynamoDB compares strings
        (by code point, which is UTF-8 byte order): for in-memory twins."""
        if self.op == "begins_with":
            return sort_key.startswith(self.values[0])
        if self.op == "between":
            return self.values[0] <= sort_key <= self.values[1]
        if self.op == "=":
            return sort_key == self.values[0]
        if self.op == "<=":
            return sort_key <= self.values[0]
        if self.op == ">=":
            return sort_key >= self.values[0]
        raise ValueError(f"unsupported sort-key condition {self.op}")


EXPIRY_BUCKET_FORMAT = "%Y-%m-%dT%H"


def tenant_prefix(tenant_id: str) -> str:
    if not tenant_id or "#" in tenant_id:
        raise ValueError("invalid tenant id")
    return f"T#{tenant_id}#"


def split_tenant(pk: str) -> tuple[str, str] | None:
    """(tenant id, the rest of the key) of a tenant's key; None for the SYS#
    and index keys that belong to no tenant (offline jobs read the table whole)."""
    if not pk.startswith("T#"):
        return None
    tenant_id, _, rest = pk[2:].partition("#")
    return tenant_id, rest


def job_state(name: str) -> dict[str, str]:
    return {"pk": f"SYS#JOB#{name}", "sk": "STATE"}


def expiry_bucket(moment: datetime) -> str:
    return "EXPIRY#" + moment.astimezone(UTC).strftime(EXPIRY_BUCKET_FORMAT)


def expiry_buckets(since: datetime, until: datetime) -> list[str]:
    """Every hourly bucket from ``since`` through ``until``, oldest first."""
    start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
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
        "gsi1pk": login_partition(email),
        "gsi1sk": user(tenant_id, user_id)["pk"],
        "gsi2pk": tenant_users(tenant_id),
        "gsi2sk": user_id,
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


def rate_counter(tenant_id: str | None, scope: str, subject: str, window: int) -> dict[str, str]:
    """A fixed window's counter (domain/shared/limits.py); without a tenant for
    callers not yet known (client addresses, login e-mail digests)."""
    owner = tenant_prefix(tenant_id) if tenant_id is not None else "SYS#"
    return {"pk": f"{owner}LIMIT#{_key_part(scope)}#{_key_part(subject)}", "sk": f"W#{window}"}


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


# ULIDs hold milliseconds since the epoch in 48 bits (until the year 10889).
_ULID_MAX_MS = 2**48 - 1


def ulid_time_bound(moment: datetime, *, upper: bool) -> str:
    """The smallest (or largest) ULID of a moment: ULIDs sort by creation time.
    Moments before the epoch or past ULID's range are clamped to its ends: as
    filters they match everything or nothing, never fail."""
    from ulid import ULID

    millis = min(max(int(moment.timestamp() * 1000), 0), _ULID_MAX_MS)
    prefix = str(ULID.from_timestamp(millis / 1000))[:10]
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


# ---- history, files and the change log of contacts, deals and cases ----

HISTORY_PREFIX = "HIST#"
FILE_PREFIX = "FILE#"
CHANGE_PREFIX = "CHG#"
# Sorts after every character of an ISO timestamp, an id and '#'.
_SORTS_LAST = "~"


def _key_part(value: str) -> str:
    if not value or "#" in value:
        raise ValueError("invalid key part")
    return value


def parent_partition(tenant_id: str, kind: str, record_id: str) -> str:
    """The item collection of a contact, deal or case (``contact(...)["pk"]``
    for a contact): its history and files live next to the record."""
    return f"{tenant_prefix(tenant_id)}{_key_part(kind).upper()}#{_key_part(record_id)}"


def history_event(tenant_id: str, kind: str, parent_id: str, happened_at: datetime, event_id: str) -> dict[str, str]:
    return {
        "pk": parent_partition(tenant_id, kind, parent_id),
        "sk": f"{HISTORY_PREFIX}{iso(happened_at)}#{_key_part(event_id)}",
    }


def history_range(happened_from: datetime | None, happened_to: datetime | None) -> tuple[str, str]:
    """Sort-key bounds of the events that happened from .. to (inclusive; None: open)."""
    low = HISTORY_PREFIX + (iso(happened_from) if happened_from else "")
    high = HISTORY_PREFIX + (iso(happened_to) if happened_to else "") + _SORTS_LAST
    return low, high


def history_by_id(tenant_id: str, event_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}HISTORY#{_key_part(event_id)}"


def history_indexes(tenant_id: str, event_id: str) -> dict[str, str]:
    return {"gsi1pk": history_by_id(tenant_id, event_id), "gsi1sk": "EVENT"}


def file(tenant_id: str, kind: str, parent_id: str, file_id: str) -> dict[str, str]:
    return {"pk": parent_partition(tenant_id, kind, parent_id), "sk": f"{FILE_PREFIX}{_key_part(file_id)}"}


def file_by_id(tenant_id: str, file_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}FILE#{_key_part(file_id)}"


def file_indexes(tenant_id: str, file_id: str) -> dict[str, str]:
    return {"gsi1pk": file_by_id(tenant_id, file_id), "gsi1sk": "FILE"}


def change_log(tenant_id: str, entity: str, record_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}CHANGES#{_key_part(entity)}#{_key_part(record_id)}"


def change_entry(tenant_id: str, entity: str, record_id: str, entry_id: str) -> dict[str, str]:
    return {"pk": change_log(tenant_id, entity, record_id), "sk": f"{CHANGE_PREFIX}{_key_part(entry_id)}"}


# ---- task reminders ----


def task(tenant_id: str, task_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}TASK#{task_id}", "sk": "META"}


def reminder(tenant_id: str, task_id: str) -> dict[str, str]:
    return {"pk": task(tenant_id, task_id)["pk"], "sk": "REMINDER"}


def reminder_bucket(moment: datetime) -> str:
    return "REMIND#" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def reminder_schedule(tenant_id: str, task_id: str, remind_at: datetime) -> dict[str, str]:
    return {"sched_pk": reminder_bucket(remind_at), "sched_sk": f"{iso(remind_at)}#{tenant_id}#{task_id}"}


# ---- tasks ----

TASK_BY_DUE = "D#"


def task_facet(tenant_id: str, facet: str) -> str:
    return f"{tenant_prefix(tenant_id)}TX#{facet}"


def task_by_due(due_at: datetime, task_id: str) -> str:
    return f"{TASK_BY_DUE}{iso(due_at)}#{_key_part(task_id)}"


def task_due_range(due_from: datetime | None, due_to: datetime | None) -> tuple[str, str]:
    """Sort-key bounds of the tasks due from .. to (inclusive; None: open)."""
    return (
        TASK_BY_DUE + (iso(due_from) if due_from else ""),
        TASK_BY_DUE + (iso(due_to) if due_to else "") + _SORTS_LAST,
    )


# ---- idempotent requests (Idempotency-Key) ----


def idempotency(tenant_id: str, user_id: str, route: str, key: str) -> dict[str, str]:
    import hashlib

    digest = hashlib.sha256(f"{route}\n{key}".encode()).hexdigest()[:40]
    return {"pk": f"{tenant_prefix(tenant_id)}IDEMPOTENCY#{_key_part(user_id)}#{digest}", "sk": "REQUEST"}


# ---- background jobs (contacts bulk, imports, tag rename/delete) ----

JOB_CHUNK_PREFIX = "CHUNK#"


def background_job(tenant_id: str, job_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}JOB#{_key_part(job_id)}", "sk": "META"}


def background_job_chunk(tenant_id: str, job_id: str, chunk: int) -> dict[str, str]:
    return {"pk": background_job(tenant_id, job_id)["pk"], "sk": f"{JOB_CHUNK_PREFIX}{chunk:05d}"}


def background_job_progress(tenant_id: str, job_id: str, chunk: int) -> dict[str, str]:
    return {"pk": background_job(tenant_id, job_id)["pk"], "sk": f"PROGRESS#{chunk:05d}"}


# ---- deals, pipeline aggregates, projects, cases ----

DEAL_META = "META"
PROJECT_LINK_PREFIX = "PROJ#"


def deal(tenant_id: str, deal_id: str) -> dict[str, str]:
    return {"pk": parent_partition(tenant_id, "deal", deal_id), "sk": DEAL_META}


def deal_facet(tenant_id: str, facet: str) -> str:
    return f"{tenant_prefix(tenant_id)}DX#{facet}"


def deal_by_close(close_date: str, deal_id: str) -> str:
    return f"{close_date}#{deal_id}"


def close_range(low: str | None, high: str | None) -> tuple[str, str]:
    """Sort-key bounds of the deals expected to close from .. to (dates, inclusive)."""
    return (low or "") + "#", (high or "9999-12-31") + "#" + _SORTS_LAST


def pipeline(tenant_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}PIPELINE"


def pipeline_aggregate(tenant_id: str, scope: str, stage_id: str, currency: str) -> dict[str, str]:
    return {"pk": pipeline(tenant_id), "sk": f"{scope}#{_key_part(stage_id)}#{currency}"}


def project(tenant_id: str, project_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}PROJECT#{_key_part(project_id)}", "sk": "META"}


def deal_project_link(tenant_id: str, deal_id: str, project_id: str) -> dict[str, str]:
    return {"pk": deal(tenant_id, deal_id)["pk"], "sk": f"{PROJECT_LINK_PREFIX}{_key_part(project_id)}"}


def case(tenant_id: str, case_id: str) -> dict[str, str]:
    return {"pk": parent_partition(tenant_id, "case", case_id), "sk": "META"}


def case_facet(tenant_id: str, facet: str) -> str:
    return f"{tenant_prefix(tenant_id)}KX#{facet}"


# ---- imports (IMP-*) and exports (ADM-1) ----

IMPORT_ROW_PREFIX = "ROW#"


def import_record(tenant_id: str, import_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}IMPORT#{_key_part(import_id)}", "sk": "META"}


def import_row(tenant_id: str, import_id: str, offset: int) -> dict[str, str]:
    return {"pk": import_record(tenant_id, import_id)["pk"], "sk": f"{IMPORT_ROW_PREFIX}{offset:015d}"}


def import_seen(tenant_id: str, import_id: str, key: str) -> dict[str, str]:
    import hashlib

    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return {"pk": import_record(tenant_id, import_id)["pk"], "sk": f"SEEN#{digest}"}


def external_ref(tenant_id: str, entity: str, external_id: str) -> dict[str, str]:
    import hashlib

    digest = hashlib.sha256(external_id.encode()).hexdigest()[:40]
    return {"pk": f"{tenant_prefix(tenant_id)}EXTID#{_key_part(entity)}#{digest}", "sk": "REF"}


def export_state(tenant_id: str, job_id: str) -> dict[str, str]:
    return {"pk": background_job(tenant_id, job_id)["pk"], "sk": "EXPORT"}


# ---- invoices, taxes, products (INV-*, SET-5, SET-6, SET-11) ----

INVOICE_META = "META"
MAIL_PREFIX = "MAIL#"
TAX_PREFIX = "TAX#"
PRODUCT_PREFIX = "PRODUCT#"


def invoice_settings(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant(tenant_id)["pk"], "sk": "SETTINGS#INVOICES"}


def invoice_counter(tenant_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}INVCOUNTER", "sk": "COUNTER"}


def invoice_number_marker(tenant_id: str, number: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}INVNO#{_key_part(number)}", "sk": "INVOICE"}


def invoice(tenant_id: str, invoice_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}INVOICE#{_key_part(invoice_id)}", "sk": INVOICE_META}


def invoice_pdf(tenant_id: str, invoice_id: str) -> dict[str, str]:
    return {"pk": invoice(tenant_id, invoice_id)["pk"], "sk": "PDF"}


def invoice_mail(tenant_id: str, invoice_id: str, mail_id: str) -> dict[str, str]:
    return {"pk": invoice(tenant_id, invoice_id)["pk"], "sk": f"{MAIL_PREFIX}{_key_part(mail_id)}"}


def invoice_facet(tenant_id: str, facet: str) -> str:
    return f"{tenant_prefix(tenant_id)}IX#{facet}"


def invoice_by_issue(issue_date: str, invoice_id: str) -> str:
    return f"{issue_date}#{_key_part(invoice_id)}"


def invoice_formerly_naming(tenant_id: str, contact_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}INVFORMER#{_key_part(contact_id)}"


FORMERLY_PREFIX = "INV#"


def invoice_formerly_entry(invoice_id: str, role: str) -> str:
    return f"{FORMERLY_PREFIX}{_key_part(invoice_id)}#{_key_part(role)}"


def taxes(tenant_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}TAXES"


def tax(tenant_id: str, tax_id: str) -> dict[str, str]:
    return {"pk": taxes(tenant_id), "sk": f"{TAX_PREFIX}{_key_part(tax_id)}"}


def products(tenant_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}PRODUCTS"


def product(tenant_id: str, product_id: str) -> dict[str, str]:
    return {"pk": products(tenant_id), "sk": f"{PRODUCT_PREFIX}{_key_part(product_id)}"}


# ---- web forms (WEB-1..3) ----


def web_form(tenant_id: str, form_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}WEBFORM#{_key_part(form_id)}", "sk": "META"}


def web_form_facet(tenant_id: str, facet: str) -> str:
    return f"{tenant_prefix(tenant_id)}WFX#{facet}"


def web_form_key(public_key: str) -> dict[str, str]:
    """Cross-tenant by necessity: a stranger's submission names only the key."""
    return {"pk": f"FORMKEY#{_key_part(public_key)}", "sk": "FORM"}


# ---- telephony (VOIP) ----

VOIP_NUMBER_PREFIX = "NUMBER#"
VOIP_PRESENCE_PREFIX = "PRESENCE#"
CALL_BY_START = "S#"


def voip(tenant_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}VOIP"


def voip_account(tenant_id: str) -> dict[str, str]:
    return {"pk": voip(tenant_id), "sk": "ACCOUNT"}


def voip_number(tenant_id: str, number_id: str) -> dict[str, str]:
    return {"pk": voip(tenant_id), "sk": f"{VOIP_NUMBER_PREFIX}{_key_part(number_id)}"}


def voip_number_marker(tenant_id: str, e164: str) -> dict[str, str]:
    return {"pk": voip(tenant_id), "sk": f"TEL#{_key_part(e164)}"}


def voip_presence(tenant_id: str, user_id: str) -> dict[str, str]:
    return {"pk": voip(tenant_id), "sk": f"{VOIP_PRESENCE_PREFIX}{_key_part(user_id)}"}


def call(tenant_id: str, call_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}CALL#{_key_part(call_id)}", "sk": "META"}


def call_sid_marker(tenant_id: str, call_sid: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}CALLSID#{_key_part(call_sid)}", "sk": "CALL"}


def call_facet(tenant_id: str, facet: str) -> str:
    return f"{tenant_prefix(tenant_id)}CLX#{facet}"


def call_by_start(started_at: datetime, call_id: str) -> str:
    return f"{CALL_BY_START}{iso(started_at)}#{_key_part(call_id)}"


def call_start_range(started_from: datetime | None, started_to: datetime | None) -> tuple[str, str]:
    """Sort-key bounds of the calls started from .. to (inclusive; None: open)."""
    return (
        CALL_BY_START + (iso(started_from) if started_from else ""),
        CALL_BY_START + (iso(started_to) if started_to else "") + _SORTS_LAST,
    )


# ---- outgoing webhooks (issue 18) ----

WEBHOOK_SUBSCRIPTION_PREFIX = "SUB#"
WEBHOOK_DELIVERY_PREFIX = "DLV#"


def webhooks(tenant_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}WEBHOOKS"


def webhook_subscription(tenant_id: str, subscription_id: str) -> dict[str, str]:
    return {"pk": webhooks(tenant_id), "sk": f"{WEBHOOK_SUBSCRIPTION_PREFIX}{_key_part(subscription_id)}"}


def webhook_deliveries(tenant_id: str, subscription_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}WEBHOOK#{_key_part(subscription_id)}"


def webhook_delivery(tenant_id: str, subscription_id: str, delivery_id: str) -> dict[str, str]:
    return {
        "pk": webhook_deliveries(tenant_id, subscription_id),
        "sk": f"{WEBHOOK_DELIVERY_PREFIX}{_key_part(delivery_id)}",
    }


def webhook_delivery_range(since: datetime | None, until: datetime | None) -> tuple[str, str]:
    """Sort-key bounds of the deliveries of events from .. to (inclusive; None: open)."""
    low = ulid_time_bound(since, upper=False) if since else ""
    high = ulid_time_bound(until, upper=True) if until else _SORTS_LAST
    return WEBHOOK_DELIVERY_PREFIX + low, WEBHOOK_DELIVERY_PREFIX + high


def record_item(pk: str, sk: str) -> tuple[str, str, str] | None:
    """(tenant id, entity, record id) of a record's own item (``T#t#CONTACT#<id>``
    / ``META``: contact, deal, task, case, call, invoice, import, ...), None for
    every other item (index entries, markers, history, system items)."""
    if sk != "META":
        return None
    tenant = split_tenant(pk)
    if tenant is None:
        return None
    entity, _, record_id = tenant[1].partition("#")
    if not entity or not record_id or "#" in record_id or not entity.isalpha():
        return None
    return tenant[0], entity.lower(), record_id


# ---- mass mailing (ADM-2) ----

MAILING_RECIPIENT_PREFIX = "R#"


def mailing(tenant_id: str, mailing_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}MAILING#{_key_part(mailing_id)}", "sk": "META"}


def mailing_recipient(tenant_id: str, mailing_id: str, contact_id: str) -> dict[str, str]:
    return {"pk": mailing(tenant_id, mailing_id)["pk"], "sk": f"{MAILING_RECIPIENT_PREFIX}{_key_part(contact_id)}"}


def mailing_results_of_contact(tenant_id: str, contact_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}MAILRCPT#{_key_part(contact_id)}"


def mailing_recipient_indexes(tenant_id: str, mailing_id: str, contact_id: str) -> dict[str, str]:
    return {"gsi1pk": mailing_results_of_contact(tenant_id, contact_id), "gsi1sk": _key_part(mailing_id)}


def mailing_settings(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant(tenant_id)["pk"], "sk": "SETTINGS#MAILING"}


def suppression(tenant_id: str, digest: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}SUPPRESS#{_key_part(digest)}", "sk": "ADDRESS"}


# ---- GDPR export and erasure (issue 18) ----


def gdpr_job(tenant_id: str, job_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}GDPR#{_key_part(job_id)}", "sk": "META"}


# ---- reports (REP-1..4) ----

REPORT_BUCKET_FORMAT = "%Y-%m-%dT%H"


def report(tenant_id: str, report_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}REPORT#{_key_part(report_id)}", "sk": "META"}


def report_facet(tenant_id: str, facet: str) -> str:
    return f"{tenant_prefix(tenant_id)}RPX#{facet}"


def report_expiry_bucket(moment: datetime) -> str:
    return "REPORTEXP#" + moment.astimezone(UTC).strftime(REPORT_BUCKET_FORMAT)


def report_expiry_index(expires_at: datetime, report_id: str) -> dict[str, str]:
    return {"sched_pk": report_expiry_bucket(expires_at), "sched_sk": f"{iso(expires_at)}#{report_id}"}


def report_schedule(tenant_id: str, schedule_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}RSCHED#{_key_part(schedule_id)}", "sk": "META"}


def report_schedule_facet(tenant_id: str, facet: str) -> str:
    return f"{tenant_prefix(tenant_id)}RSX#{facet}"


def report_due_bucket(moment: datetime) -> str:
    return "REPORTDUE#" + moment.astimezone(UTC).strftime(REPORT_BUCKET_FORMAT)


def report_due_index(next_run_at: datetime, schedule_id: str) -> dict[str, str]:
    return {"sched_pk": report_due_bucket(next_run_at), "sched_sk": f"{iso(next_run_at)}#{schedule_id}"}


def report_hours(since: datetime, until: datetime) -> list[datetime]:
    """The hours [since, until] touches, for the sweeps' bucket Queries."""
    hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    found = []
    while hour <= until:
        found.append(hour)
        hour += timedelta(hours=1)
    return found


def report_slot(tenant_id: str, schedule_id: str, slot: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}RSCHED#{_key_part(schedule_id)}", "sk": f"SLOT#{slot}"}


def report_settings(tenant_id: str) -> dict[str, str]:
    return {"pk": f"{tenant_prefix(tenant_id)}TENANT", "sk": "SETTINGS#REPORTS"}
