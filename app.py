"""Wiring only: the Chalice app, its blueprints and middleware."""
from chalice import Chalice

from chalicelib.domain import contact_photo
from chalicelib.handlers import (contacts, fallback, files, history, identity, inbox, jobs, service, settings,
                                users)
from chalicelib.handlers import tags
from chalicelib.handlers import contacts_extra, jobs_status
from chalicelib.handlers import tasks as tasks_handlers
from chalicelib.handlers import cases as cases_handlers
from chalicelib.handlers import deals as deals_handlers
from chalicelib.handlers.middleware import request_context

app = Chalice(app_name="crm")
# API Gateway passes these bodies to the function as bytes (contact photos, CON-7).
app.api.binary_types.extend(t for t in contact_photo.MEDIA_TYPES if t not in app.api.binary_types)
app.register_middleware(request_context, "http")
app.register_blueprint(service.bp)
app.register_blueprint(identity.bp)
app.register_blueprint(users.bp)
app.register_blueprint(inbox.bp)
app.register_blueprint(contacts.bp)
app.register_blueprint(contacts_extra.bp)
app.register_blueprint(jobs_status.bp)
app.register_blueprint(tags.bp)
app.register_blueprint(history.bp)
app.register_blueprint(files.bp)
app.register_blueprint(settings.bp)
app.register_blueprint(jobs.bp)
app.register_blueprint(tasks_handlers.bp)
app.register_blueprint(deals_handlers.bp)
app.register_blueprint(cases_handlers.bp)
# Last: concrete routes must exist before the catch-all 404 routes.
app.register_blueprint(fallback.bp)
