"""Wiring only: the Chalice app, its blueprints and middleware."""
from chalice import Chalice

from chalicelib.handlers import contacts, fallback, identity, inbox, jobs, service, users
from chalicelib.handlers.middleware import request_context

app = Chalice(app_name="crm")
app.register_middleware(request_context, "http")
app.register_blueprint(service.bp)
app.register_blueprint(identity.bp)
app.register_blueprint(users.bp)
app.register_blueprint(inbox.bp)
app.register_blueprint(contacts.bp)
app.register_blueprint(jobs.bp)
# Last: concrete routes must exist before the catch-all 404 routes.
app.register_blueprint(fallback.bp)
