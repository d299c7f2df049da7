"""Creates the actors of a schemathesis run and prints them as shell assignments.

A namespace (its service key) and, for each pass, a user of it with a session and some credits, so
the passes aim path parameters at objects that exist as well as at made-up ones, and what one pass
does to its user (a deactivation, a soft delete, a logout everywhere) leaves the others alone.
"""

import os
import shlex

import requests

base = os.environ["US_BASE"]
namespace = "schemathesis"


def call(method, path, body, headers=None):
    r = requests.request(method, base + path, json=body, headers=headers or {}, timeout=30)
    if r.status_code not in (200, 201):
        raise SystemExit(f"{method} {path}: {r.status_code} {r.text}")
    return r.json()


ns = call("POST", "/userspaces", {"namespace": namespace}, {"X-Admin-Key": os.environ["US_OPERATOR_KEY"]})["data"]
service = {"X-API-Key": ns["api_key"]}
out = {"US_SERVICE_KEY": ns["api_key"], "US_NAMESPACE": namespace}
for actor in ("user", "service", "operator"):
    registered = call(
        "POST",
        "/auth/register",
        {"namespace": namespace, "username": f"st-{actor}", "password": "correct-horse-battery",
         "email": f"st-{actor}@example.com"},
    )
    user_id = registered["user"]["id"]
    call("POST", f"/api/v1/users/{user_id}/credits/recharge", {"amount": 1000}, service)
    session = call("POST", f"/api/v1/users/{user_id}/sessions", {"title": "first"}, service)["data"]
    key = actor.upper()
    out[f"US_{key}_TOKEN"] = registered["access_token"]
    out[f"US_{key}_USER_ID"] = user_id
    out[f"US_{key}_SESSION_ID"] = session["session_id"]

for name, value in out.items():
    print(f"export {name}={shlex.quote(value)}")
