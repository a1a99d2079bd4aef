"""The access policy as a matrix: record x relation x role x operation (DESIGN "Security").

EXPECTED below is written out by hand, row for row like the table in the
docstring of chalicelib/domain/shared/access.py; it is never derived from the code.
"""

import pytest

from chalicelib.domain.shared.access import (
    ContactAccess,
    ContactShare,
    HistoryAccess,
    InvoiceAccess,
    ListAccess,
    Operation,
    TaskAccess,
    allowed,
    may_create_history,
    permissions,
    readable,
    require,
)
from chalicelib.domain.shared.errors import Forbidden, NotFound
from chalicelib.domain.shared.principal import Principal, Role

ME = "u-me"
OTHER = "u-other"
THIRD = "u-third"
TENANT = "t-1"


def principal(role: Role, user_id: str = ME, tenant_id: str = TENANT) -> Principal:
    return Principal(tenant_id=tenant_id, user_id=user_id, role=role)


# Each record as seen by user ME in the named relation. The other flags are
# the weakest ones, so each relation shows what it grants on its own.
RECORDS = {
    # contacts
    ("contact private", "manager"): ContactAccess(frozenset({ME, OTHER}), ContactShare.PRIVATE, OTHER),
    ("contact private", "creator, not manager"): ContactAccess(frozenset({OTHER}), ContactShare.PRIVATE, ME),
    ("contact private", "unrelated"): ContactAccess(frozenset({OTHER}), ContactShare.PRIVATE, OTHER),
    ("contact shared read", "manager"): ContactAccess(frozenset({ME}), ContactShare.SHARED_READ, OTHER),
    ("contact shared read", "creator, not manager"): ContactAccess(frozenset({OTHER}), ContactShare.SHARED_READ, ME),
    ("contact shared read", "unrelated"): ContactAccess(frozenset({OTHER}), ContactShare.SHARED_READ, OTHER),
    ("contact shared write", "manager"): ContactAccess(frozenset({ME}), ContactShare.SHARED_WRITE, OTHER),
    ("contact shared write", "creator, not manager"): ContactAccess(frozenset({OTHER}), ContactShare.SHARED_WRITE, ME),
    ("contact shared write", "unrelated"): ContactAccess(frozenset({OTHER}), ContactShare.SHARED_WRITE, OTHER),
    # deals and cases
    ("deal public", "creator"): ListAccess(frozenset(), created_by=ME, responsible_id=OTHER),
    ("deal public", "responsible"): ListAccess(frozenset(), created_by=OTHER, responsible_id=ME),
    ("deal public", "unrelated"): ListAccess(frozenset(), created_by=OTHER, responsible_id=OTHER),
    ("deal private", "creator, on list"): ListAccess(frozenset({ME, OTHER}), created_by=ME, responsible_id=OTHER),
    ("deal private", "creator, not on list"): ListAccess(frozenset({OTHER}), created_by=ME, responsible_id=OTHER),
    ("deal private", "on list"): ListAccess(frozenset({ME, OTHER}), created_by=OTHER, responsible_id=OTHER),
    ("deal private", "responsible, not on list"): ListAccess(frozenset({OTHER}), created_by=OTHER, responsible_id=ME),
    ("deal private", "unrelated"): ListAccess(frozenset({OTHER, THIRD}), created_by=OTHER, responsible_id=THIRD),
    # tasks
    ("task", "responsible"): TaskAccess(responsible_id=ME, created_by=OTHER, linked_readable=False),
    ("task", "creator"): TaskAccess(responsible_id=OTHER, created_by=ME, linked_readable=False),
    ("task", "unrelated, linked readable"): TaskAccess(responsible_id=OTHER, created_by=OTHER, linked_readable=True),
    ("task", "unrelated"): TaskAccess(responsible_id=OTHER, created_by=OTHER, linked_readable=False),
    # history events
    ("history, parent readable", "author"): HistoryAccess(author_id=ME, parent_readable=True),
    ("history, parent readable", "not author"): HistoryAccess(author_id=OTHER, parent_readable=True),
    ("history, parent hidden", "author"): HistoryAccess(author_id=ME, parent_readable=False),
    ("history, parent hidden", "not author"): HistoryAccess(author_id=OTHER, parent_readable=False),
    # invoices
    ("invoice", "creator"): InvoiceAccess(created_by=ME, client_readable=False),
    ("invoice", "client readable"): InvoiceAccess(created_by=OTHER, client_readable=True),
    ("invoice", "unrelated"): InvoiceAccess(created_by=OTHER, client_readable=False),
}

# R = read, W = write, D = delete, A = change access; "-" = denied.
EXPECTED = [
    # record                      relation                       owner   admin   user
    ("contact private", "manager", "RWDA", "RWDA", "RWDA"),
    ("contact private", "creator, not manager", "RWDA", "RWDA", "----"),
    ("contact private", "unrelated", "RWDA", "RWDA", "----"),
    ("contact shared read", "manager", "RWDA", "RWDA", "RWDA"),
    ("contact shared read", "creator, not manager", "RWDA", "RWDA", "R---"),
    ("contact shared read", "unrelated", "RWDA", "RWDA", "R---"),
    ("contact shared write", "manager", "RWDA", "RWDA", "RWDA"),
    ("contact shared write", "creator, not manager", "RWDA", "RWDA", "RW--"),
    ("contact shared write", "unrelated", "RWDA", "RWDA", "RW--"),
    ("deal public", "creator", "RWDA", "RWDA", "RWDA"),
    ("deal public", "responsible", "RWDA", "RWDA", "RWD-"),
    ("deal public", "unrelated", "RWDA", "RWDA", "RWD-"),
    ("deal private", "creator, on list", "RWDA", "RWDA", "RWDA"),
    ("deal private", "creator, not on list", "RWDA", "RWDA", "RWDA"),
    ("deal private", "on list", "RWDA", "RWDA", "RWD-"),
    ("deal private", "responsible, not on list", "RWDA", "RWDA", "----"),
    ("deal private", "unrelated", "RWDA", "RWDA", "----"),
    ("task", "responsible", "RWDA", "RWDA", "RWDA"),
    ("task", "creator", "RWDA", "RWDA", "RWDA"),
    ("task", "unrelated, linked readable", "RWDA", "RWDA", "R---"),
    ("task", "unrelated", "RWDA", "RWDA", "----"),
    ("history, parent readable", "author", "RWDA", "RWDA", "RWDA"),
    ("history, parent readable", "not author", "RWDA", "RWDA", "R---"),
    ("history, parent hidden", "author", "RWDA", "RWDA", "----"),
    ("history, parent hidden", "not author", "RWDA", "RWDA", "----"),
    ("invoice", "creator", "RWDA", "RWDA", "RWDA"),
    ("invoice", "client readable", "RWDA", "RWDA", "R---"),
    ("invoice", "unrelated", "RWDA", "RWDA", "----"),
]

ROLES = [Role.OWNER, Role.ADMIN, Role.USER]
LETTERS = {Operation.READ: "R", Operation.WRITE: "W", Operation.DELETE: "D", Operation.CHANGE_ACCESS: "A"}


def _cases():
    for record, relation, *by_role in EXPECTED:
        for role, grants in zip(ROLES, by_role, strict=True):
            for operation, letter in LETTERS.items():
                yield pytest.param(
                    record,
                    relation,
                    role,
                    operation,
                    letter in grants,
                    id=f"{record}|{relation}|{role}|{operation}",
                )


def test_expected_table_covers_every_record_and_only_those():
    assert {(record, relation) for record, relation, *_ in EXPECTED} == set(RECORDS)
    assert len(EXPECTED) == len(RECORDS)


@pytest.mark.parametrize("record,relation,role,operation,expected", list(_cases()))
def test_matrix(record, relation, role, operation, expected):
    assert allowed(principal(role), operation, RECORDS[(record, relation)]) is expected


# --- require: hidden records are 404, visible-but-not-allowed are 403 ---------


@pytest.mark.parametrize("operation", list(Operation))
@pytest.mark.parametrize(
    "key",
    [
        ("contact private", "unrelated"),
        ("deal private", "responsible, not on list"),
        ("task", "unrelated"),
        ("history, parent hidden", "author"),
        ("invoice", "unrelated"),
    ],
    ids=" | ".join,
)
def test_require_answers_not_found_for_a_hidden_record_whatever_the_operation(key, operation):
    with pytest.raises(NotFound):
        require(principal(Role.USER), operation, RECORDS[key])


@pytest.mark.parametrize(
    "key,operation",
    [
        (("contact shared read", "unrelated"), Operation.WRITE),
        (("contact shared write", "unrelated"), Operation.DELETE),
        (("contact shared write", "creator, not manager"), Operation.CHANGE_ACCESS),
        (("deal public", "unrelated"), Operation.CHANGE_ACCESS),
        (("deal private", "on list"), Operation.CHANGE_ACCESS),
        (("task", "unrelated, linked readable"), Operation.WRITE),
        (("history, parent readable", "not author"), Operation.DELETE),
        (("invoice", "client readable"), Operation.WRITE),
    ],
    ids=lambda v: " | ".join(v) if isinstance(v, tuple) else str(v),
)
def test_require_answers_forbidden_for_a_visible_record_the_caller_may_not_change(key, operation):
    with pytest.raises(Forbidden) as raised:
        require(principal(Role.USER), operation, RECORDS[key], what="thing")
    assert not isinstance(raised.value, NotFound)
    assert raised.value.detail.endswith("this thing.")


def test_require_passes_where_allowed():
    # require raises where it refuses; here it must return quietly.
    for record in RECORDS.values():
        for operation in Operation:
            assert require(principal(Role.ADMIN), operation, record) is None
    assert require(principal(Role.USER), Operation.WRITE, RECORDS[("contact shared write", "unrelated")]) is None
    assert require(principal(Role.USER), "delete", RECORDS[("deal private", "on list")]) is None
    assert (
        require(principal(Role.USER), Operation.CHANGE_ACCESS, RECORDS[("deal private", "creator, not on list")])
        is None
    )


def test_require_message_does_not_say_the_hidden_record_exists():
    with pytest.raises(NotFound) as raised:
        require(principal(Role.USER), Operation.WRITE, RECORDS[("contact private", "unrelated")], what="contact")
    assert raised.value.detail == "The contact does not exist."


# --- readable(): list filtering ---------------------------------------------


def test_readable_keeps_exactly_what_the_user_may_see():
    expected = [(record, relation) for record, relation, _, _, user in EXPECTED if user[0] == "R"]
    assert 0 < len(expected) < len(RECORDS)

    seen = [key for key, record in RECORDS.items() if readable(principal(Role.USER))(record)]

    assert seen == expected
    assert ("contact private", "unrelated") not in seen
    assert ("deal private", "creator, not on list") in seen
    assert ("task", "unrelated, linked readable") in seen


def test_readable_lets_owner_and_admin_see_everything_private_included():
    for role in (Role.OWNER, Role.ADMIN):
        assert list(filter(readable(principal(role)), RECORDS.values())) == list(RECORDS.values())


def test_readable_of_a_concrete_contact_list():
    contacts = [
        ContactAccess(frozenset({ME}), ContactShare.PRIVATE, ME),  # mine
        ContactAccess(frozenset({OTHER}), ContactShare.PRIVATE, OTHER),  # someone's private
        ContactAccess(frozenset({OTHER}), ContactShare.SHARED_READ, OTHER),
        ContactAccess(frozenset({OTHER}), ContactShare.PRIVATE, ME),  # created, then handed over
        ContactAccess(frozenset({OTHER}), ContactShare.SHARED_WRITE, OTHER),
    ]
    assert [c for c in contacts if readable(principal(Role.USER))(c)] == [contacts[0], contacts[2], contacts[4]]
    assert [c for c in contacts if readable(principal(Role.USER, user_id=OTHER))(c)] == contacts[1:]


# --- creating history ---------------------------------------------------------


@pytest.mark.parametrize(
    "role,parent_readable,expected",
    [
        (Role.USER, True, True),  # read access to the parent is enough
        (Role.USER, False, False),
        (Role.ADMIN, True, True),
        (Role.ADMIN, False, True),
        (Role.OWNER, False, True),
    ],
)
def test_may_create_history_needs_read_access_to_the_parent(role, parent_readable, expected):
    assert may_create_history(principal(role), parent_readable) is expected


def test_a_user_who_may_only_read_a_shared_contact_may_still_add_a_note_to_it():
    contact = RECORDS[("contact shared read", "unrelated")]
    me = principal(Role.USER)
    assert not allowed(me, Operation.WRITE, contact)
    assert may_create_history(me, parent_readable=allowed(me, Operation.READ, contact))


# --- guards -------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        Principal(tenant_id="", user_id=ME, role=Role.OWNER),
        Principal(tenant_id=TENANT, user_id="", role=Role.ADMIN),
        Principal(tenant_id=TENANT, user_id="", role=Role.USER),
    ],
)
def test_a_principal_without_tenant_or_user_is_denied_everything(bad):
    # An empty user id must not match an empty created_by either.
    public_deal = ListAccess(frozenset(), created_by="")
    for record in [*RECORDS.values(), public_deal]:
        assert permissions(bad, record) == frozenset()
        with pytest.raises(NotFound):
            require(bad, Operation.READ, record)
    assert not may_create_history(bad, parent_readable=True)


def test_a_record_known_to_belong_to_another_tenant_is_hidden_even_from_the_owner():
    record = RECORDS[("deal public", "creator")]
    assert allowed(principal(Role.OWNER), Operation.READ, record, tenant_id=TENANT)
    assert not allowed(principal(Role.OWNER), Operation.READ, record, tenant_id="t-2")
    assert not allowed(principal(Role.USER), Operation.READ, record, tenant_id="t-2")
    with pytest.raises(NotFound):
        require(principal(Role.OWNER), Operation.DELETE, record, tenant_id="t-2")


def test_an_unknown_record_type_is_a_programming_error_not_a_grant():
    with pytest.raises(TypeError):
        allowed(principal(Role.OWNER), Operation.READ, object())
    with pytest.raises(TypeError):
        readable(principal(Role.ADMIN))({"created_by": ME})


def test_an_unknown_operation_is_refused_loudly():
    with pytest.raises(ValueError):
        allowed(principal(Role.OWNER), "publish", RECORDS[("invoice", "creator")])


def test_an_unknown_share_mode_fails_closed() -> None:
    odd = ContactAccess(frozenset({OTHER}), "public", OTHER)  # type: ignore[arg-type]
    assert permissions(principal(Role.USER), odd) == frozenset()
    assert permissions(principal(Role.USER, user_id=OTHER), odd) == frozenset(Operation)


def test_every_grant_includes_read():
    # So require() never calls a record the caller may change "not found".
    for record in RECORDS.values():
        for role in ROLES:
            granted = permissions(principal(role), record)
            assert not granted or Operation.READ in granted
