#!/usr/bin/env python3
"""A stand-in for the Genesys Cloud Platform API, as much of it as `weft tables sync` uses, for
host/tests/tables_sync.rs: the client-credentials token endpoint and four paged listings (routing queues, wrap-up
codes, users, authorization divisions), with the paging, rate-limit headers and faults the public API documents.

It cannot drift from the real shape: every listing it answers is first checked against the official API models
of Genesys' own Python SDK (PyPI `PureCloudPlatformClientV2`) — each member must be one the model has, of the
model's type — and a page that is not is answered with a 500 and counted as drift, which the test asserts is none.

    fake_genesys.py PORT CLIENT_ID CLIENT_SECRET

Control (for the test, not part of the API): POST /fake/entities/{source} (a JSON list replaces that listing),
POST /fake/faults ({"status": 401|429|500|503, "count": N, "retryAfter": S, "after": A}: after A more listing
requests, the next N get that status; a 401 also expires every token issued so far), POST /fake/paging
({"nextUri": false}: pages say only their pageCount, as some listings do), POST /fake/window ({"after": N,
"reset": S}: the Nth listing answer says the rate-limit window is spent for S seconds; a request before then gets a
429 and counts as `early`), GET /fake/stats.
"""
import base64
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import PureCloudPlatformClientV2.models as models

PORT, CLIENT_ID, CLIENT_SECRET = int(sys.argv[1]), sys.argv[2], sys.argv[3]

# listing path → (the source's name in weft, the SDK's model of a page)
LISTINGS = {
    "/api/v2/routing/queues": ("queues", "QueueEntityListing"),
    "/api/v2/routing/wrapupcodes": ("wrapupCodes", "WrapupCodeEntityListing"),
    "/api/v2/users": ("users", "UserEntityListing"),
    "/api/v2/authorization/divisions": ("divisions", "AuthzDivisionEntityListing"),
}
STATE = {
    "entities": {source: [] for source, _ in LISTINGS.values()},
    "tokens": set(),
    "faults": [],
    "nextUri": True,
    # {"after": N, "reset": S}: the Nth listing request from now spends the rate-limit window for S seconds.
    "window": None,
    "windowEnds": 0.0,
    "stats": {"requests": 0, "tokens": 0, "byPath": {}, "validated": 0, "drift": [], "throttled": 0, "early": 0},
}
LOCK = threading.Lock()
ALLOWED = 300  # requests a minute per token, as the API documents


def drift(value, type_name, where):
    """Where `value` is not of the SDK type `type_name` (a model name, `str`, `list[X]`, `dict(str, X)`, ...)."""
    if value is None:
        return []
    if type_name.startswith("list["):
        if not isinstance(value, list):
            return [f"{where}: a list expected"]
        return [d for i, v in enumerate(value) for d in drift(v, type_name[5:-1], f"{where}[{i}]")]
    if type_name.startswith("dict("):
        inner = type_name[5:-1].split(", ", 1)[1]
        if not isinstance(value, dict):
            return [f"{where}: an object expected"]
        return [d for k, v in value.items() for d in drift(v, inner, f"{where}.{k}")]
    simple = {"str": str, "datetime": str, "date": str, "bool": bool, "float": (int, float), "object": object}
    if type_name == "int":
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: an integer expected"]
    if type_name in simple:
        return [] if isinstance(value, simple[type_name]) else [f"{where}: {type_name} expected"]
    model = getattr(models, type_name)()
    if not isinstance(value, dict):
        return [f"{where}: a {type_name} object expected"]
    attributes = {json_key: attr for attr, json_key in model.attribute_map.items()}
    found = []
    for key, member in value.items():
        if key not in attributes:
            found.append(f"{where}.{key}: not a member of {type_name}")
        else:
            found += drift(member, model.swagger_types[attributes[key]], f"{where}.{key}")
    return found


class Api(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"null")

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/oauth/token":
            return self.token()
        with LOCK:
            if path.startswith("/fake/entities/"):
                STATE["entities"][path.rsplit("/", 1)[1]] = self.body()
            elif path == "/fake/window":
                STATE["window"] = self.body()
            elif path == "/fake/paging":
                STATE["nextUri"] = self.body()["nextUri"]
            elif path == "/fake/faults":
                fault = self.body()
                STATE["faults"] += [None] * fault.get("after", 0) + [fault] * fault.get("count", 1)
            else:
                return self.answer(404, {"message": f"no {path}"})
        self.answer(200, {})

    def token(self):
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("content-length") or 0)).decode())
        if self.headers.get("authorization") != f"Basic {expected}" or form.get("grant_type") != ["client_credentials"]:
            return self.answer(401, {"error": "invalid_client", "description": "client not found"})
        with LOCK:
            STATE["stats"]["tokens"] += 1
            token = f"token-{STATE['stats']['tokens']}"
            STATE["tokens"].add(token)
        self.answer(200, {"access_token": token, "token_type": "bearer", "expires_in": 86399})

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/fake/stats":
            with LOCK:
                return self.answer(200, STATE["stats"])
        if url.path not in LISTINGS:
            return self.answer(404, {"message": "Not Found", "code": "not.found", "status": 404})
        with LOCK:
            stats = STATE["stats"]
            stats["requests"] += 1
            stats["byPath"][url.path] = stats["byPath"].get(url.path, 0) + 1
            limits = [("inin-ratelimit-count", str(stats["requests"] % ALLOWED)),
                      ("inin-ratelimit-allowed", str(ALLOWED)), ("inin-ratelimit-reset", "60")]
            if self.headers.get("authorization", "").removeprefix("Bearer ") not in STATE["tokens"]:
                return self.answer(401, {"message": "Authentication failed", "code": "bad.credentials",
                                         "status": 401}, limits)
            if time.monotonic() < STATE["windowEnds"]:
                # A request while the window is spent: the API answers 429, and the client should have waited.
                stats["early"] += 1
                wait = str(max(1, int(STATE["windowEnds"] - time.monotonic() + 1)))
                return self.answer(429, {"message": "rate limit", "status": 429}, limits + [("retry-after", wait)])
            window = STATE["window"]
            if window is not None:
                window["after"] -= 1
                if window["after"] <= 0:
                    STATE["window"] = None
                    STATE["windowEnds"] = time.monotonic() + window["reset"]
                    limits = [("inin-ratelimit-count", str(ALLOWED)), ("inin-ratelimit-allowed", str(ALLOWED)),
                              ("inin-ratelimit-reset", str(window["reset"]))]
            fault = STATE["faults"].pop(0) if STATE["faults"] else None
            if fault:
                stats["throttled"] += fault["status"] == 429
                if fault["status"] == 401:
                    STATE["tokens"].clear()
                retry = [("retry-after", str(fault["retryAfter"]))] if "retryAfter" in fault else []
                return self.answer(fault["status"], {"message": "fault", "status": fault["status"]}, limits + retry)
        self.page(url, limits)

    def page(self, url, limits):
        source, model = LISTINGS[url.path]
        query = urllib.parse.parse_qs(url.query)
        size = min(int(query.get("pageSize", ["25"])[0]), 500)
        number = int(query.get("pageNumber", ["1"])[0])
        with LOCK:
            entities = list(STATE["entities"][source])
        if source == "users" and query.get("state") != ["any"]:
            entities = [e for e in entities if e.get("state", "active") == "active"]
        count = max(1, -(-len(entities) // size))
        rest = "&".join(f"{k}={v[0]}" for k, v in query.items() if k not in ("pageSize", "pageNumber"))

        def uri(n):
            return f"{url.path}?pageSize={size}&pageNumber={n}" + (f"&{rest}" if rest else "")

        body = {"entities": entities[(number - 1) * size:number * size], "pageSize": size, "pageNumber": number,
                "total": len(entities), "firstUri": uri(1), "selfUri": uri(number), "lastUri": uri(count),
                "pageCount": count}
        if number < count and STATE["nextUri"]:
            body["nextUri"] = uri(number + 1)
        if number > 1:
            body["previousUri"] = uri(number - 1)
        found = drift(body, model, model)
        with LOCK:
            STATE["stats"]["validated"] += 1
            STATE["stats"]["drift"] += found
        if found:
            return self.answer(500, {"message": "the fake drifted from the API models", "drift": found[:5]})
        self.answer(200, body, limits)


server = ThreadingHTTPServer(("127.0.0.1", PORT), Api)
print("ready", flush=True)
server.serve_forever()
