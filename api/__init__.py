"""Kehou Ledger's HTTP API: ``create_app()`` wires configuration, database, auth and resources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, send_from_directory
from flask_smorest import Api

from . import audit, auth, config, errors, security
from .database import Database


class KehouApi(Api):
    """flask-smorest's Api with errors rendered as problem+json."""

    def handle_http_exception(self, error):  # type: ignore[no-untyped-def]
        return errors.http_problem(error)

    def _register_responses(self) -> None:
        """Document the error responses (DEFAULT_ERROR, UNPROCESSABLE_ENTITY, …) with the
        media type they are sent as, so that clients and schema checks read their bodies."""
        self.DEFAULT_RESPONSE_CONTENT_TYPE = errors.PROBLEM
        try:
            super()._register_responses()  # type: ignore[misc]
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(config.load(test_config))
    if not app.config.get("SECRET_KEY"):
        import secrets

        app.config["SECRET_KEY"] = secrets.token_hex(32)

    from .resources import DatabaseId, PathText

    app.url_map.converters.update(int=DatabaseId, default=PathText, string=PathText)
    Database(app)
    audit.init_app(app)
    security.init_app(app)
    auth.init_app(app)

    from .schemas import ProblemOut

    KehouApi.ERROR_SCHEMA = ProblemOut
    api = KehouApi(app)
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "API token"}
    )
    api.spec.options["security"] = [{"bearer": []}]

    from .resources import billing, books, enrolment, links, schools, users

    api.register_blueprint(books.blp)
    api.register_blueprint(users.blp)
    api.register_blueprint(schools.blp)
    api.register_blueprint(enrolment.blp)
    api.register_blueprint(billing.blp)
    api.register_blueprint(links.blp)
    from .resources import closing, programmes, settlement, subsidies

    api.register_blueprint(programmes.blp)
    api.register_blueprint(closing.blp)
    api.register_blueprint(subsidies.blp)
    api.register_blueprint(settlement.blp)
    from .resources import outflow

    api.register_blueprint(outflow.blp)
    from .resources import findings

    api.register_blueprint(findings.blp)
    from .resources import bank

    api.register_blueprint(bank.blp)
    from .resources import documents

    api.register_blueprint(documents.blp)
    from .resources import coverage

    api.register_blueprint(coverage.blp)
    from .resources import explanations

    api.register_blueprint(explanations.blp)
    from .resources import jobs

    api.register_blueprint(jobs.blp)
    from . import portal
    from .resources import portal_logins

    api.register_blueprint(portal_logins.blp)
    portal.init_app(app)
    errors.register(app)
    _serve_docs_assets(app)

    from . import cli

    cli.register(app)
    return app


def _serve_docs_assets(app: Flask) -> None:
    """Swagger UI's files from the swagger-ui-bundle package, so /api/docs works offline."""
    from swagger_ui_bundle import swagger_ui_path

    @app.get("/api/docs/static/<path:filename>")
    def docs_static(filename: str):  # type: ignore[no-untyped-def]
        return send_from_directory(swagger_ui_path, filename, max_age=3600)
