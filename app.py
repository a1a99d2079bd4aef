"""Wiring only: the Chalice app, its blueprints and middleware."""

from chalice import Chalice

from chalicelib.domain.shared import images
from chalicelib.handlers.background import calls as call_events
from chalicelib.handlers.background import consumer, schedules
from chalicelib.handlers.background import imports as import_consumer
from chalicelib.handlers.background import webhooks as webhook_events
from chalicelib.handlers.cases import routes as cases
from chalicelib.handlers.contacts import bulk as contact_bulk
from chalicelib.handlers.contacts import photo as contact_photos
from chalicelib.handlers.contacts import routes as contacts
from chalicelib.handlers.deals import routes as deals
from chalicelib.handlers.exports import routes as exports
from chalicelib.handlers.forms import public as public_forms
from chalicelib.handlers.forms import routes as web_forms
from chalicelib.handlers.gdpr import routes as gdpr
from chalicelib.handlers.http import fallback, security, service
from chalicelib.handlers.http.middleware import request_context
from chalicelib.handlers.identity import auth as identity
from chalicelib.handlers.identity import users
from chalicelib.handlers.imports import routes as imports
from chalicelib.handlers.invoices import catalogue as invoice_catalogue
from chalicelib.handlers.invoices import routes as invoices
from chalicelib.handlers.invoices import settings as invoice_settings
from chalicelib.handlers.jobs import status as job_status
from chalicelib.handlers.mailing import bounces as mailing_bounces
from chalicelib.handlers.mailing import routes as mailings
from chalicelib.handlers.notifications import inbox
from chalicelib.handlers.records import files, history, tags
from chalicelib.handlers.reports import routes as reports
from chalicelib.handlers.settings import routes as settings
from chalicelib.handlers.tasks import routes as tasks
from chalicelib.handlers.voip import routes as voip
from chalicelib.handlers.voip import webhooks as twilio_webhooks
from chalicelib.handlers.webhooks import routes as webhooks

app = Chalice(app_name="crm")
# API Gateway passes these bodies to the function as bytes (contact photos, CON-7).
app.api.binary_types.extend(t for t in images.MEDIA_TYPES if t not in app.api.binary_types)
# First, so outermost: rate-limit fields and security headers on every answer (issue 19).
app.register_middleware(security.answer, "http")
app.register_middleware(request_context, "http")
for blueprint in (
    service,
    identity,
    users,
    inbox,
    contacts,
    contact_photos,
    contact_bulk,
    job_status,
    tags,
    history,
    files,
    settings,
    consumer,
    schedules,
    tasks,
    deals,
    cases,
    imports,
    import_consumer,
    exports,
    invoice_catalogue,
    invoice_settings,
    invoices,
    web_forms,
    public_forms,
    voip,
    twilio_webhooks,
    call_events,
    webhooks,
    webhook_events,
    mailings,
    mailing_bounces,
    gdpr,
    reports,
):
    app.register_blueprint(blueprint.bp)
# Last: concrete routes must exist before the catch-all 404 routes.
app.register_blueprint(fallback.bp)
