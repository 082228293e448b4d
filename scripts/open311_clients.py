"""Exercises civicgrid's Open311 GeoReport v2 server with published client libraries that
this project did not write: georeport (reads, JSON and XML) and civicbot (reads, POST and
tokens, JSON), plus requests + xmltodict for what no published client does in XML (POST,
tokens, discovery). Anything a spec-following client trips on is a bug in civicgrid.

Usage: open311_clients.py BASE_URL RESIDENT_APP_KEY STAFF_KEY
Prints one line per library with its call count; exits non-zero on the first failure.
"""

import json
import sys
import urllib.parse

import requests
import xmltodict
from civicbot.http import HttpError, HttpTransport, RateLimiter
from civicbot.open311 import Open311Client
from civicbot.registry import Endpoint
from georeport import GeoReport

base, app_key, staff_key = sys.argv[1], sys.argv[2], sys.argv[3]
api = base + "/open311/v2/"
calls = {"georeport": 0, "civicbot": 0, "requests+xmltodict": 0}
TEXT = '路灯不亮 & 井盖松动 <注意> "安乐社区" 3号楼旁 \'夜间\''


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAIL: {what}")


def as_list(x):
    """xmltodict gives one child as a dict and several as a list."""
    return x if isinstance(x, list) else [x]


# --- civicbot: JSON reads, a POST checked against the live definition, tokens, errors ------
bot = Open311Client(
    Endpoint(id="civicgrid", name="civicgrid", base_url=api, write=True),
    transport=HttpTransport(rate_limiter=RateLimiter(min_interval=0)),
)
services = bot.list_services()
calls["civicbot"] += 1
codes = {s["service_code"]: s for s in services}
check(codes["01001"]["service_name"] == "上水井盖", "civicbot: service name in Chinese")
check(codes["12002"]["type"] == "batch", "civicbot: batch service type")
definition = bot.get_service_definition("01001")
calls["civicbot"] += 1
check(definition["attributes"][0]["code"] == "damage", "civicbot: definition attributes")
posted = bot.create_request(
    "01001", dry_run=False, confirm="SEND", api_key=app_key, validate_remote=True,
    lat=22.5168, lng=113.9171, description=TEXT, attributes={"damage": "broken"},
    first_name="李", phone="13900000000", account_id="acct-7",
)
calls["civicbot"] += 3  # services (cached), definition, POST
response = posted.response
check(isinstance(response, list) and len(response) == 1, f"civicbot: POST answer {response}")
rid = response[0]["service_request_id"]
check(response[0]["account_id"] == "acct-7", "civicbot: account_id echoed")
one = bot.get_request(rid)
calls["civicbot"] += 1
check(one["description"] == TEXT, f"civicbot: description round-trips: {one['description']!r}")
check(one["status"] == "open" and one["service_code"] == "01001", "civicbot: status and code")
check("13900000000" not in json.dumps(one, ensure_ascii=False), "civicbot: no contact details")
listed = bot.list_requests(service_request_ids=[rid])
calls["civicbot"] += 1
check([r["service_request_id"] for r in listed] == [rid], "civicbot: list by id")
open_covers = bot.list_requests(service_code="01001", status="open", page_size=50)
calls["civicbot"] += 1
check(any(r["service_request_id"] == rid for r in open_covers), "civicbot: filtered list")
batch = bot.create_request(
    "12002", dry_run=False, confirm="SEND", api_key=app_key,
    address_string="南山区南头街道", description="建议在安乐社区增设休闲座椅",
)
calls["civicbot"] += 1
token = batch.response[0]["token"]
check("service_request_id" not in batch.response[0], "civicbot: batch answers with a token only")
pending = bot.get_token(token)
calls["civicbot"] += 1
check(pending[0]["service_request_id"] is None, "civicbot: no id before acceptance")
# A call-taker accepts it through REST v1; the token then yields the id.
staff = {"Authorization": f"Bearer {staff_key}"}
case = requests.get(f"{base}/api/v1/cases/{token}", headers=staff, timeout=10)
check(case.status_code == 200, f"REST read of the batch case: {case.status_code} {case.text}")
accepted = requests.post(
    f"{base}/api/v1/cases/{token}/actions/accept",
    headers={**staff, "If-Match": case.headers["ETag"]}, timeout=10,
)
check(accepted.status_code == 200, f"accept: {accepted.status_code} {accepted.text}")
issued = bot.get_token(token)
calls["civicbot"] += 1
check(issued[0]["service_request_id"] == accepted.json()["public_id"], "civicbot: token gives the public id")
for bad, status in (
    (dict(service_code="01001", api_key="cg_not_a_key"), 403),
    (dict(service_code="99999", api_key=app_key), 400),
    (dict(service_code="01001", api_key=app_key, description="<b>bold</b>"), 400),
):
    form = {"lat": 22.5168, "long": 113.9171, "attribute[damage]": "broken", **bad}
    try:
        bot.http.post_form(api + "requests.json", form)
        check(False, f"civicbot: {bad} accepted")
    except HttpError as e:
        calls["civicbot"] += 1
        body = json.loads(e.body)
        check(e.status == status and body[0]["code"] == status, f"civicbot: {bad} -> {e.status} {e.body}")

# --- georeport: reads in JSON and XML ---------------------------------------------------
for fmt in ("json", "xml"):
    g = GeoReport(api, output_format=fmt)
    svc = as_list(g.get_service_list())
    calls["georeport"] += 1
    check(any(s["service_code"] == "01001" and s["service_name"] == "上水井盖" for s in svc),
          f"georeport {fmt}: services")
    d = g.get_service_definition("01001")
    calls["georeport"] += 1
    attrs = d["attributes"] if fmt == "json" else as_list(d["attributes"]["attribute"])
    check(attrs[0]["code"] == "damage", f"georeport {fmt}: definition")
    values = attrs[0]["values"] if fmt == "json" else as_list(attrs[0]["values"]["value"])
    check([v["key"] for v in values][:2] == ["missing", "broken"], f"georeport {fmt}: values")
    r = g.get_service_request(rid)
    calls["georeport"] += 1
    check(r["description"] == TEXT, f"georeport {fmt}: description round-trips: {r['description']!r}")
    check(r["service_request_id"] == rid, f"georeport {fmt}: id")
    rs = as_list(g.get_service_requests(service_code="01001", status="open"))
    calls["georeport"] += 1
    check(any(x["service_request_id"] == rid for x in rs), f"georeport {fmt}: filtered list")
    try:
        g.get_service_request("NOPE-NOPE")
        check(False, f"georeport {fmt}: unknown id found")
    except requests.HTTPError as e:
        calls["georeport"] += 1
        check(e.response.status_code == 404, f"georeport {fmt}: 404 for an unknown id")

# --- XML POST, tokens, errors and discovery: no published client does these in XML ----------
x = requests.post(api + "requests.xml", timeout=10, data={
    "api_key": app_key, "service_code": "05001", "lat": "22.5168", "long": "113.9171",
    "description": TEXT, "email": "wang@example.cn",
})
calls["requests+xmltodict"] += 1
check(x.status_code == 201 and x.text.startswith('<?xml version="1.0"'), f"XML POST: {x.status_code} {x.text}")
xid = xmltodict.parse(x.content)["service_requests"]["request"]["service_request_id"]
back = GeoReport(api, output_format="xml").get_service_request(xid)
calls["georeport"] += 1
check(back["description"] == TEXT, "XML POST: description round-trips through XML")
e = requests.post(api + "requests.xml", data={"service_code": "05001"}, timeout=10)
calls["requests+xmltodict"] += 1
err = xmltodict.parse(e.content)["errors"]["error"]
check(e.status_code == 403 and err["code"] == "403", f"XML error body: {e.text}")
e = requests.get(api + "requests.xml", params={"start_date": "2026-01-01", "end_date": "2026-06-30"}, timeout=10)
calls["requests+xmltodict"] += 1
check(e.status_code == 400 and "90 days" in xmltodict.parse(e.content)["errors"]["error"]["description"],
      "XML: a span over 90 days")
t = xmltodict.parse(requests.get(api + f"tokens/{token}.xml", timeout=10).content)
calls["requests+xmltodict"] += 1
check(t["service_requests"]["request"]["token"] == token, "XML token")
for fmt in ("json", "xml"):
    d = requests.get(base + f"/open311/discovery.{fmt}", timeout=10)
    calls["requests+xmltodict"] += 1
    doc = d.json() if fmt == "json" else xmltodict.parse(d.content)["discovery"]
    endpoints = doc["endpoints"] if fmt == "json" else as_list(doc["endpoints"]["endpoint"])
    check(endpoints[0]["url"].endswith("/open311/v2"), f"discovery {fmt}")

for lib, n in calls.items():
    print(f"open311 clients: {lib}: {n} calls passed")
