"""REP-4: one workbook of each report type opens in LibreOffice without
error (``soffice --headless --convert-to pdf``): charts, number formats and
frozen panes written by openpyxl are read by a second implementation.

LibreOffice Calc is installed by .ci/run (``libreoffice-calc``, no
recommends). A missing soffice fails this test, never skips it: a workbook
nobody opened is not tested."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from chalicelib.domain.reports.models import NewReport, ReportStatus, ReportType
from tests.report_helpers import ADMIN, T, World, principal

CONVERT_TIMEOUT = 240


def test_soffice_is_installed():
    assert shutil.which("soffice"), (
        "LibreOffice Calc is missing: apt-get install --no-install-recommends libreoffice-calc"
    )


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("workbooks")
    world = World()
    world.add_tenant(T)
    service = world.service()
    for report_type in ReportType:
        report = service.request(principal(ADMIN), NewReport(type=report_type))
        world.run_jobs(service)
        done = world.store.get(T, report.id)
        assert done is not None and done.status == ReportStatus.DONE and done.file_key
        (folder / f"{report_type.value}.xlsx").write_bytes(world.files.objects[done.file_key])
    return folder


def test_libreoffice_converts_one_workbook_of_each_type_to_pdf(workbooks: Path, tmp_path: Path):
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice Calc is missing: apt-get install --no-install-recommends libreoffice-calc"
    sources = sorted(workbooks.glob("*.xlsx"))
    assert len(sources) == len(ReportType)
    # A profile of its own: a user's running LibreOffice or a stale lock never interferes.
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"
    result = subprocess.run(
        [soffice, profile, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"), *map(str, sources)],
        capture_output=True,
        text=True,
        timeout=CONVERT_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Error" not in result.stderr, result.stderr
    for source in sources:
        pdf = tmp_path / "pdf" / f"{source.stem}.pdf"
        assert pdf.exists(), (source.name, result.stdout, result.stderr)
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
