#!/usr/bin/env python3
"""Builds the seed corpora of tests/fuzz/corpus/<target>/ (committed; rerun only to refresh them).

Usage: make_corpus.py BUILD_DIR [EXTRA_POLICY_DIR...] [--rest-examples DIR]

Seeds come from the repository's policy fixtures (plus any extra directories of policy XML and
of Azure REST API examples named on the command line), from answers of a real apim-sim (demo
scenario, started here on 127.0.0.1 port 0 and stopped at the end) to the requests the server
itself makes while running its read tools, and from a few hand-written frames and answers.
Every seed file is named by the SHA-1 of its content, as libFuzzer names corpus entries."""
import hashlib
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TENANT = "11111111-1111-1111-1111-111111111111"
CONTRIB = ("aaaaaaaa-0000-0000-0000-000000000001", "demo-contributor-secret")
SUB = "11111111-2222-3333-4444-555555555555"
SVC = f"/subscriptions/{SUB}/resourceGroups/rg-aigw-demo/providers/Microsoft.ApiManagement/service/apim-aigw-demo"


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def policies(extra_dirs):
    files = []
    for d in [os.path.join(ROOT, "tests", "fixtures", "policies")] + extra_dirs:
        files += [os.path.join(d, n) for n in sorted(os.listdir(d)) if n.endswith(".xml")]
    texts = [open(f, "rb").read() for f in files]
    for i, t in enumerate(texts):
        put("policy", bytes([i * 37 % 256]) + t)
        # a global document and a product document for the quota edit
        put("policy", bytes([0x80 | (i * 11 % 128)]) + texts[0] + b"\n<!--doc2-->\n" + t)
    return texts


class Sim:
    def __init__(self, build):
        self.proc = subprocess.Popen([os.path.join(build, "apim-sim"), "--port", "0"], stdout=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        self.url = "http://127.0.0.1:%d" % int(line)  # apim-sim prints its port first
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": CONTRIB[0],
                                       "client_secret": CONTRIB[1], "scope": "https://management.azure.com/.default"})
        self.token_answer = self.raw("POST", f"/{TENANT}/oauth2/v2.0/token", form.encode(), auth=False)[1]
        self.token = json.loads(self.token_answer)["access_token"]

    def raw(self, method, path, body=None, auth=True):
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if auth:
            req.add_header("Authorization", "Bearer " + self.token)
        if body is not None and auth:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def mcp_session(build, sim, frames):
    env = dict(os.environ, AZURE_TENANT_ID=TENANT, AZURE_CLIENT_ID=CONTRIB[0], AZURE_CLIENT_SECRET=CONTRIB[1],
               AZURE_SUBSCRIPTION_ID=SUB, APIM_RESOURCE_GROUP="rg-aigw-demo", APIM_SERVICE_NAME="apim-aigw-demo",
               AZURE_AUTHORITY_HOST=sim.url, AZURE_RESOURCE_MANAGER_ENDPOINT=sim.url, AIGW_READ_ONLY="1")
    p = subprocess.run([os.path.join(build, "azure-ai-gateway-mcp")], input="".join(frames), env=env,
                       capture_output=True, text=True, timeout=120)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def example_value(schema):
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    t = schema.get("type")
    if isinstance(t, list):
        t = [x for x in t if x != "null"][0]
    if t == "object":
        props = schema.get("properties", {})
        return {k: example_value(v) for k, v in props.items() if k in schema.get("required", props.keys())}
    if t == "array":
        return [example_value(schema.get("items", {"type": "string"}))] * max(1, schema.get("minItems", 1))
    if t == "integer":
        return schema.get("minimum", 1)
    if t == "number":
        return schema.get("minimum", 1.5)
    if t == "boolean":
        return True
    return "aoai-completions"


def frame(obj):
    return json.dumps(obj, separators=(",", ":")) + "\n"


INIT = frame({"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {"elicitation": {}},
                         "clientInfo": {"name": "fuzz", "version": "1"}}}) + \
    frame({"jsonrpc": "2.0", "method": "notifications/initialized"})


def mcp_and_traffic(build, sim, rest_examples):
    answers = mcp_session(build, sim, [INIT, frame({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})])
    tools = answers[1]["result"]["tools"]
    calls = []
    for i, t in enumerate(tools):
        args = example_value(t["inputSchema"])
        calls.append(frame({"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call",
                            "params": {"name": t["name"], "arguments": args, "_meta": {"progressToken": i}}}))
        put("mcp", INIT + calls[-1])
        full = example_value(dict(t["inputSchema"], required=list(t["inputSchema"].get("properties", {}))))
        put("mcp", INIT + frame({"jsonrpc": "2.0", "id": "s-%d" % i, "method": "tools/call",
                                 "params": {"name": t["name"], "arguments": dict(full, confirm=True)}}) +
            frame({"jsonrpc": "2.0", "id": "aigw-elicit-1", "result": {"action": "accept",
                                                                       "content": {"confirm": True}}}))
    # the read tools against the simulator: its request log gives the requests the server makes
    reads = [c for c, t in zip(calls, tools) if t.get("annotations", {}).get("readOnlyHint")]
    for extra in ({"name": "get_metrics", "arguments": {"api_id": "aoai-completions", "since": "24h",
                                                        "group_by": "time"}},
                  {"name": "get_metrics", "arguments": {"api_id": "aoai-completions", "since": "1h"}},
                  {"name": "get_policy", "arguments": {"api_id": "aoai-completions"}},
                  {"name": "get_backend_pool", "arguments": {"backend_id": "aoai-pool"}}):
        reads.append(frame({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": extra}))
    mcp_session(build, sim, [INIT] + reads)
    log = json.loads(sim.raw("GET", "/_sim/requests", auth=False)[1])["requests"]
    seen = set()
    for r in log:
        key = (r["method"], r["path"], r["query"])
        if key in seen or r["path"].startswith("/_sim"):
            continue
        seen.add(key)
        target = r["path"] + ("?" + r["query"] if r["query"] else "")
        if r["method"] == "POST" and "/token" in r["path"]:
            put("sim", f"POST {target}\ncontent-type: application/x-www-form-urlencoded\n\n" +
                urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": CONTRIB[0],
                                        "client_secret": CONTRIB[1],
                                        "scope": "https://management.azure.com/.default"}))
            continue
        body = None
        if r["method"] == "POST":  # Log Analytics query
            body = json.dumps({"query": "ApiManagementGatewayLogs | summarize count() by ApimSubscriptionId",
                               "timespan": "PT1H"}).encode()
        put("sim", f"{r['method']} {target}\n\n" + (body.decode() if body else ""))
        status, answer = sim.raw(r["method"], target, body)
        put("parsers", bytes([len(seen) % 256]) + answer)
    # writes: the REST examples' request bodies, sent to the matching simulator paths
    for name in sorted(n for n in os.listdir(rest_examples) if n.endswith(".json")) if rest_examples else []:
        ex = json.load(open(os.path.join(rest_examples, name)))
        for code, resp in ex.get("responses", {}).items():
            if resp.get("body") is not None:
                put("parsers", bytes([int(code) % 256]) + json.dumps(resp["body"]).encode())
        params = ex.get("parameters", {})
        body = params.get("parameters")
        if not isinstance(body, dict):
            continue
        if "backendId" in params:
            path = f"{SVC}/backends/{params['backendId']}"
        elif "policyId" in params and "apiId" in params:
            path = f"{SVC}/apis/aoai-completions/policies/policy"
        elif "policyId" in params and "productId" in params:
            path = f"{SVC}/products/aoai/policies/policy"
        elif "policyId" in params:
            path = f"{SVC}/policies/policy"
        elif "sid" in params:
            path = f"{SVC}/subscriptions/growth"
        else:
            continue
        method = "PATCH" if "Update" in name else "PUT"
        put("sim", f"{method} {path}?api-version=2024-05-01\nif-match: *\n\n" + json.dumps(body))
    put("sim", f"GET {SVC}/apis?api-version=2024-05-01&$filter=startswith(name,'aoai') and "
               f"contains(displayName,'x')&$top=1\n\n")
    put("sim", f"GET {SVC}/subscriptions?api-version=2024-05-01&$filter=scope eq '/products/aoai'\n\n")
    put("sim", "GET /msi/token?resource=https://management.azure.com/&api-version=2019-08-01\n"
               "x-identity-header: demo-identity-header\n\n")
    put("sim", "GET /metadata/identity/oauth2/token?resource=https://management.azure.com/\nmetadata: true\n\n")
    put("sim", "GET /_sim/counters\n\n")
    put("sim", "POST /_sim/faults\n\n" + json.dumps({"rules": [{"path_contains": "/apis", "status": 503}]}))
    put("sim", "POST /_sim/faults\n\n" + json.dumps({"backend_id": "eastus-aoai", "kind": "5xx", "minutes": 3}))
    put("sim", "POST /_sim/clock\n\n" + json.dumps({"rate": 60, "advance_s": 30}))
    put("sim", "POST /_sim/ingestion\n\n" + json.dumps({"logs_delay_s": 120, "metrics_delay_s": 60}))
    put("token", b"\x00" + sim.token_answer)


def hand_written():
    for frames in (
        INIT + frame({"jsonrpc": "2.0", "id": 1, "method": "ping"}) +
        frame({"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel", "params": {"level": "debug"}}) +
        frame({"jsonrpc": "2.0", "id": 3, "method": "prompts/list"}) +
        frame({"jsonrpc": "2.0", "id": 4, "method": "prompts/get",
               "params": {"name": "fuzz-prompt", "arguments": {"team": "growth", "tpm": "50k"}}}),
        '{"jsonrpc":"2.0","id":1,"method":"tools/list"}\n' + INIT + "\r\n  \n[1,2]\n{\"jsonrpc\":\"1.0\"}\n"
        '{"jsonrpc":"2.0","id":{"a":1},"method":"x"}\n{"jsonrpc":"2.0","id":7,"method":"tools/call","params":'
        '{"name":"nope"}}\n{not json\n{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"list_apis",'
        '"arguments":[1]}}\n{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":8}}',
        INIT + '{"jsonrpc":"2.0","id":5,"method":"m\\u00e9thode-\\u4e2d\\u6587-tr\\u00e8s-longue-'
        'abcdefghijklmnopqrstuvwxyz-abcdefghijklmnopqrstuvwxyz-\\u00e9\\u00e9\\u00e9"}\n',
    ) + tuple(INIT + frame({"jsonrpc": "2.0", "id": 1, "method": "prompts/get", "params": {"name": n, "arguments": a}})
              for n, a in (("enforce_team_quotas", {"team": "growth", "tpm": "100k"}),
                           ("configure_failover", {"api_id": "aoai-completions",
                                                   "secondary_url": "https://x.openai.azure.com"}),
                           ("deploy_semantic_caching", {"api_id": "aoai-completions", "threshold": "0.97",
                                                        "ttl_seconds": "3600"}))):
        put("mcp", frames)
    for body in ({"access_token": "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2ln", "expires_in": 3599,
                  "token_type": "Bearer"},
                 {"access_token": "mi-token-abc", "expires_on": "1764500000", "resource": "https://management.azure.com/"},
                 {"accessToken": "cli", "expiresOn": "2026-11-30 06:00:00.000000"},
                 {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided. "
                  "Trace ID: 1 Correlation ID: 2 Timestamp: 2026-01-01", "error_codes": [7000215]},
                 {"error": "unauthorized_client", "error_description": "AADSTS700016: Application not found",
                  "error_codes": [700016]},
                 {"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."},
                 {"error": "invalid_client", "error_description": "AADSTS700027: Client assertion failed\r\nmore",
                  "error_codes": [700027]},
                 {"error": "invalid_grant", "error_description": "AADSTS70021: No matching federated identity",
                  "error_codes": [70021]},
                 {"error": "invalid_grant", "error_codes": [700024, 1]},
                 {"error": "consent_required", "error_codes": [65001]}):
        for ctl in (0x00, 0x21):
            put("token", bytes([ctl]) + json.dumps(body).encode())
    for body in ({"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization",
                            "details": [{"code": "x", "target": "properties.pool", "message": "bad"}] * 4}},
                 {"error": {"code": "ExpiredAuthenticationToken", "message": "The access token expiry"}},
                 {"error": {"code": "PreconditionFailed", "message": "ETag mismatch"}},
                 {"tables": [{"name": "PrimaryResult", "columns": [{"name": "ApimSubscriptionId", "type": "string"},
                                                                   {"name": "requests", "type": "long"}],
                              "rows": [["growth", 10], ["search", 5], [None, 1]]}]}):
        for ctl in (0x00, 0x41, 0x82):
            put("parsers", bytes([ctl]) + json.dumps(body).encode())


def main():
    args = sys.argv[1:]
    rest = None
    if "--rest-examples" in args:
        i = args.index("--rest-examples")
        rest = args[i + 1]
        del args[i:i + 2]
    build, extra = args[0], args[1:]
    policies(extra)
    hand_written()
    sim = Sim(build)
    try:
        mcp_and_traffic(build, sim, rest)
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
