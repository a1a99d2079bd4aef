"""The history and file ports: a parent's events newest first (range, filters,
paging), version-checked changes, files and their uploaded objects, and the
cascades of a deleted or merged parent."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.records.files import FileStatus, ParentLink, StoredFile
from chalicelib.domain.records.history import HistoryEvent, HistoryKind
from chalicelib.domain.shared.clock import new_id
from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from tests.contract.conftest import NOW, Stores, walk


def event(owner: Principal, parent: ParentLink, text: str, happened_at: datetime, **fields: Any) -> HistoryEvent:
    return HistoryEvent(
        id=new_id(),
        tenant_id=owner.tenant_id,
        parent=parent,
        kind=HistoryKind.NOTE,
        text=text,
        happened_at=happened_at,
        author_id=owner.user_id,
        created_at=NOW,
        created_by=owner.user_id,
        updated_at=NOW,
        updated_by=owner.user_id,
        **fields,
    )


def file(owner: Principal, parent: ParentLink, name: str) -> StoredFile:
    return StoredFile(
        id=new_id(),
        tenant_id=owner.tenant_id,
        parent=parent,
        filename=name,
        content_type="text/plain",
        size=5,
        uploaded_by=owner.user_id,
        created_at=NOW,
        updated_at=NOW,
    )


def test_history_lists_newest_first_and_changes_are_version_checked(stores: Stores) -> None:
    acme, owner = stores.tenant()
    contact = ParentLink(kind="contact", id="c1")
    call = stores.entry(acme.id, "history-categories", 2)
    made = [
        event(owner, contact, f"e{n}", NOW + timedelta(days=n), category_id=call.id if n == 1 else None)
        for n in range(4)
    ]
    for item in made:
        stores.history.add_event(item)
    stores.history.add_event(event(owner, ParentLink(kind="contact", id="c2"), "elsewhere", NOW))
    with pytest.raises(ValidationFailed):  # a category that is not one
        stores.history.add_event(event(owner, contact, "x", NOW, category_id="nope"))

    def listed(**kwargs: Any) -> list[str]:
        return [e.text for e in walk(lambda page: stores.history.list_events(acme.id, contact, page, **kwargs), 2)]

    assert listed() == ["e3", "e2", "e1", "e0"]
    assert listed(happened_from=NOW + timedelta(days=1), happened_to=NOW + timedelta(days=2)) == ["e2", "e1"]
    assert listed(equals={"category_id": call.id}) == ["e1"]
    assert stores.entry(acme.id, "history-categories", 2).in_use == 1
    assert stores.history.find_event(acme.id, made[0].id) == made[0]

    moved = made[0].model_copy(update={"happened_at": NOW + timedelta(days=9), "text": "e0 later"})
    saved = stores.history.replace_event(made[0], moved, expected_version=1)
    assert saved.version == 2 and listed()[0] == "e0 later"
    with pytest.raises(PreconditionFailed):
        stores.history.replace_event(made[0], moved, expected_version=1)
    with pytest.raises(PreconditionFailed):
        stores.history.delete_event(saved, expected_version=1)
    stores.history.delete_event(saved, expected_version=2)
    with pytest.raises(NotFound):  # gone, and no version named
        stores.history.delete_event(saved, expected_version=None)
    recategorised = stores.history.replace_event(
        made[1], made[1].model_copy(update={"category_id": None}), expected_version=1
    )
    assert recategorised.category_id is None and stores.entry(acme.id, "history-categories", 2).in_use == 0


def test_files_their_objects_and_the_cascades_of_a_parent(stores: Stores) -> None:
    acme, owner = stores.tenant()
    deal, other = ParentLink(kind="deal", id="d1"), ParentLink(kind="deal", id="d2")
    files = [file(owner, deal, f"f{n}.txt") for n in range(3)]
    for item in files:
        stores.files.add_file(item)
    with pytest.raises(Conflict):
        stores.files.add_file(files[0])
    assert [f.filename for f in walk(lambda page: stores.files.list_files(acme.id, deal, page), 2)] == [
        "f2.txt",
        "f1.txt",
        "f0.txt",
    ]
    assert [f.id for f in stores.files.parent_files(acme.id, deal, [files[0].id, "nope"])] == [files[0].id]
    assert stores.files.parent_files(acme.id, other, [files[0].id]) == []
    assert stores.files.upload_url(acme.id, files[0].id, "text/plain", 300)

    assert stores.files.object_info(acme.id, files[0].id) is None
    stores.upload(acme.id, files[0].id, b"hello", "text/plain")
    info = stores.files.object_info(acme.id, files[0].id)
    assert info is not None and info.size == 5 and info.content_type == "text/plain"
    uploaded = stores.files.mark_uploaded(files[0], 5, NOW)
    assert uploaded.status == FileStatus.UPLOADED and uploaded.version == 2
    assert stores.files.find_file(acme.id, files[0].id) == uploaded
    problem = stores.files.mark_problem(files[1], "empty", NOW)
    assert problem.problem == "empty" and problem.status == FileStatus.PENDING
    stores.files.discard_object(acme.id, files[0].id)
    assert stores.files.object_info(acme.id, files[0].id) is None
    with pytest.raises(NotFound):
        stores.files.mark_uploaded(file(owner, deal, "never added"), 1, NOW)

    note = event(owner, deal, "note", NOW)
    stores.history.add_event(note)
    assert stores.history.move_all(acme.id, "deal", "d1", "d2") == 4
    assert stores.history.move_all(acme.id, "deal", "d1", "d2") == 0  # safe to run again
    assert [f.filename for f in walk(lambda page: stores.files.list_files(acme.id, other, page), 5)] == [
        "f2.txt",
        "f1.txt",
        "f0.txt",
    ]
    moved = stores.history.find_event(acme.id, note.id)
    assert moved is not None and moved.parent == other and moved.version == 2

    stores.upload(acme.id, files[2].id, b"bytes", "text/plain")
    assert stores.history.delete_all_for_parent(acme.id, "deal", "d2") == 4
    assert stores.history.delete_all_for_parent(acme.id, "deal", "d2") == 0
    assert (
        stores.files.find_file(acme.id, files[2].id) is None and stores.files.object_info(acme.id, files[2].id) is None
    )
    assert stores.history.list_events(acme.id, other, PageRequest()).items == []
