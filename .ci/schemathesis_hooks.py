"""Hooks for the schemathesis run in .ci/checkers: the spec's known gaps, and bounded streams.

Each entry of SPEC_GAPS drops one kind of failure for one operation and one answer (a status
with an error code, or a media type), because the spec does not document an answer the
emulator is right to give; the README's "Notes on the spec" explains each. Nothing else is
relaxed.
"""

import schemathesis
from schemathesis.openapi.checks import (
    JsonSchemaError,
    RejectedPositiveData,
    UndefinedStatusCode,
)

# (failure, operation, status, what identifies the answer: the error `code` the emulator
# sends, with a fragment of its message where one code covers several rules, or a media type)
DEPLOY = "POST /apps/{app}/deploy"
SPEC_GAPS = [
    # listApps and listRevisions list no 400, yet a query can be wrong: a cursor the server
    # did not issue, a limit out of range, a status outside the enum.
    (UndefinedStatusCode, "GET /apps", 400, ("invalid_cursor", "")),
    (UndefinedStatusCode, "GET /apps", 400, ("invalid_limit", "")),
    (UndefinedStatusCode, "GET /apps", 400, ("invalid_query", "labels")),
    (UndefinedStatusCode, "GET /apps/{app}/revisions", 400, ("invalid_cursor", "")),
    (UndefinedStatusCode, "GET /apps/{app}/revisions", 400, ("invalid_limit", "")),
    (UndefinedStatusCode, "GET /apps/{app}/revisions", 400, ("invalid_query", "status")),
    # A cursor is opaque: any string fits the spec, only one the server issued is valid.
    (RejectedPositiveData, "GET /apps", 400, ("invalid_cursor", "")),
    (RejectedPositiveData, "GET /apps/{app}/revisions", 400, ("invalid_cursor", "")),
    (RejectedPositiveData, "GET /apps/{app}/logs", 400, ("invalid_cursor", "")),
    # A time range must not end before it starts; the spec cannot say so.
    (RejectedPositiveData, "GET /apps/{app}/logs", 400, ("invalid_time_range", "")),
    # A layer reference must name a layer; the spec types its id as any string.
    (RejectedPositiveData, "POST /apps", 400, ("invalid_layers", "must be a layer UUID")),
    (RejectedPositiveData, "PATCH /apps/{app}", 400, ("invalid_layers", "must be a layer UUID")),
    (RejectedPositiveData, DEPLOY, 400, ("invalid_layers", "must be a layer UUID")),
    # An env var update must name a variable: by an existing id, or by a key.
    (RejectedPositiveData, "PATCH /apps/{app}", 400, ("unknown_env_var", "")),
    (RejectedPositiveData, "PATCH /apps/{app}", 400, ("invalid_env_var", "needs an id")),
    # Env var keys must be unique within one request; the spec's arrays cannot say so.
    (RejectedPositiveData, "POST /apps", 400, ("invalid_env_var", "keys must be unique")),
    (RejectedPositiveData, "PATCH /apps/{app}", 400, ("invalid_env_var", "keys must be unique")),
    (RejectedPositiveData, DEPLOY, 400, ("invalid_env_var", "keys must be unique")),
    # An asset's members depend on its kind and encoding (a symlink needs a target, a file its
    # encoding and content, base64 content must decode), and its path must stay inside the
    # source folder (no NUL, no backslash); the spec requires only `kind` and takes any string
    # as a path.
    (RejectedPositiveData, DEPLOY, 400, ("invalid_assets", "target must not be empty")),
    (RejectedPositiveData, DEPLOY, 400, ("invalid_assets", "is required for a")),
    (RejectedPositiveData, DEPLOY, 400, ("invalid_assets", "is not valid base64")),
    (RejectedPositiveData, DEPLOY, 400, ("invalid_assets", "asset path")),
    # A symlink's target must be relative and, resolved from the link's folder, stay inside.
    (RejectedPositiveData, DEPLOY, 400, ("invalid_assets", "symlink target")),
    # Renaming an app to a taken slug conflicts, as on create; updateApp lists no 409.
    (UndefinedStatusCode, "PATCH /apps/{app}", 409, ("slug_taken", "")),
    # Only a queued or building revision can be cancelled; cancelRevision lists no 409.
    (UndefinedStatusCode, "POST /revisions/{revision}/cancel", 409,
     ("revision_not_cancellable", "")),
    # A revision serving traffic cannot be deleted; deleteRevision lists no 409.
    (UndefinedStatusCode, "DELETE /revisions/{revision}", 409, ("revision_serving", "")),
    # An Accept that nothing served can satisfy (q=0 refusing every format) is a 406 with an
    # Error body; getAppLogs and streamRevisionProgress list no 406.
    (UndefinedStatusCode, "GET /apps/{app}/logs", 406, ("not_acceptable", "")),
    (UndefinedStatusCode, "GET /revisions/{revision}/progress", 406, ("not_acceptable", "")),
    # The progress stream's schema is `type: string`, which no parsed SSE event can match.
    (JsonSchemaError, "GET /revisions/{revision}/progress", 200, "text/event-stream"),
]


def _answer_matches(response, answer):
    if isinstance(answer, str):
        values = response.headers.get("content-type") or [""]
        return values[0].startswith(answer)
    code, fragment = answer
    try:
        body = response.json()
    except Exception:
        return False
    return (
        isinstance(body, dict)
        and body.get("code") == code
        and fragment in str(body.get("error", ""))
    )


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure but those SPEC_GAPS lists."""
    return not any(
        isinstance(failure, kind)
        and case.operation.label == operation
        and response.status_code == status
        and _answer_matches(response, answer)
        for kind, operation, status, answer in SPEC_GAPS
    )


@schemathesis.hook
def before_call(context, case, kwargs):
    """Asks for a JSON page when getAppLogs has no `end`, which otherwise streams forever."""
    if case.operation.label == "GET /apps/{app}/logs" and "end" not in (case.query or {}):
        case.headers = {**(case.headers or {}), "Accept": "application/json"}


@schemathesis.hook
def before_load_schema(context, raw_schema):
    """Links deployApp's answer to the operations on its revision, so the stateful phase reaches
    them with a real revision id (the spec has no links; parameter names alone do not match)."""
    revision_operations = ["getRevision", "deleteRevision", "cancelRevision",
                           "streamRevisionProgress"]
    deployed = raw_schema["paths"]["/apps/{app}/deploy"]["post"]["responses"]["202"]
    deployed["links"] = {
        operation: {
            "operationId": operation,
            "parameters": {"revision": "$response.body#/id"},
        }
        for operation in revision_operations
    }
