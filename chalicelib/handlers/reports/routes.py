"""Reports (REP-1..4, issue 17): ask for one (202, made in the background),
follow its status and percent, download it (302 to a presigned URL), delete
it; schedules; the tenant's retention. domain/reports holds the rules."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.reports.models import NewReport, NewReportSchedule, ReportSettings, ReportSettingsUpdate
    from chalicelib.handlers.reports.views import AcceptedReportView, ReportView, ScheduleView


bp = Blueprint(__name__)
TAG = "Reports"


@route(
    bp,
    "/v1/reports",
    "POST",
    summary="Ask for a report (made in the background)",
    tag=TAG,
    body=NewReport,
    response=AcceptedReportView,
    status=202,
    errors=(422,),
    description="Checks the managers, groups and exchange rates first (422 names every missing rate), then "
    "answers 202; follow status_url until status is done (percent shows progress), then GET file_url.",
)
def create_report(call: Call) -> AcceptedReportView:
    return AcceptedReportView.of(container().reports.request(call.caller, call.body))


@route(bp, "/v1/reports", "GET", summary="The caller's own reports", tag=TAG, response=ReportView, paged=True)
def list_reports(call: Call) -> Page[ReportView]:
    page = call.page_request("reports.mine")
    return call.page(container().reports.list_mine(call.caller, page), ReportView.of)


@route(
    bp,
    "/v1/reports/{report_id}",
    "GET",
    summary="One report: status, percent",
    tag=TAG,
    response=ReportView,
    errors=(404,),
)
def get_report(report_id: str, call: Call) -> ReportView:
    return ReportView.of(container().reports.get(call.caller, report_id))


@route(
    bp,
    "/v1/reports/{report_id}/file",
    "GET",
    summary="Download the workbook (302 to a presigned URL)",
    tag=TAG,
    status=302,
    produces="text/plain",
    errors=(404,),
    description="Answers 302 with Location: a presigned GET valid 5 minutes. 404 until the report is done.",
)
def download_report(report_id: str, call: Call) -> Response:
    url = container().reports.download_url(call.caller, report_id)
    return Response(body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


@route(
    bp, "/v1/reports/{report_id}", "DELETE", summary="Delete a report and its file", tag=TAG, status=204, errors=(404,)
)
def delete_report(report_id: str, call: Call) -> None:
    container().reports.delete(call.caller, report_id)


@route(
    bp,
    "/v1/report-schedules",
    "GET",
    summary="The caller's report schedules",
    tag=TAG,
    response=ScheduleView,
    paged=True,
)
def list_schedules(call: Call) -> Page[ScheduleView]:
    page = call.page_request("report_schedules.mine")
    return call.page(container().reports.list_schedules(call.caller, page), ScheduleView.of)


@route(
    bp,
    "/v1/report-schedules",
    "POST",
    summary="Schedule a report weekly or monthly (mailed to you)",
    tag=TAG,
    body=NewReportSchedule,
    response=ScheduleView,
    status=201,
    errors=(422,),
)
def create_schedule(call: Call) -> ScheduleView:
    return ScheduleView.of(container().reports.create_schedule(call.caller, call.body))


@route(
    bp,
    "/v1/report-schedules/{schedule_id}",
    "GET",
    summary="One report schedule",
    tag=TAG,
    response=ScheduleView,
    errors=(404,),
)
def get_schedule(schedule_id: str, call: Call) -> ScheduleView:
    return ScheduleView.of(container().reports.get_schedule(call.caller, schedule_id))


@route(
    bp,
    "/v1/report-schedules/{schedule_id}",
    "DELETE",
    summary="Stop a report schedule",
    tag=TAG,
    status=204,
    errors=(404,),
)
def delete_schedule(schedule_id: str, call: Call) -> None:
    container().reports.delete_schedule(call.caller, schedule_id)


@route(bp, "/v1/settings/reports", "GET", summary="How long reports are kept", tag=TAG, response=ReportSettings)
def get_report_settings(call: Call) -> ReportSettings:
    return container().reports.settings(call.caller)


@route(
    bp,
    "/v1/settings/reports",
    "PUT",
    summary="Set how long reports are kept (admins)",
    tag=TAG,
    body=ReportSettingsUpdate,
    response=ReportSettings,
    errors=(403,),
)
def put_report_settings(call: Call) -> ReportSettings:
    return container().reports.set_settings(call.caller, call.body)
