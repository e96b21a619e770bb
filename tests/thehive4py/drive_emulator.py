#!/usr/bin/env python3
"""Drives a TheHive 5 (or hivecheck's emulator with the thehive5 profile) through the
official TheHive4py 2.x client: case, ip observable, analyzers, an analyzer job, job search
and the observable's reports.

Settings come from the environment:

    THEHIVE_URL              base URL, e.g. http://127.0.0.1:9000 (required)
    THEHIVE_ORG              working organisation (required)
    THEHIVE_USER             analyst login (required)
    THEHIVE_PASSWORD         analyst password (required)
    THEHIVE_ADMIN_USER       optional: platform admin login; enables the bootstrap checks
    THEHIVE_ADMIN_PASSWORD   optional: platform admin password
    THEHIVE_CORTEX_ID        Cortex server name (default cortex0)
    THEHIVE_ANALYZER         analyzer name (default AbuseIPDB_1_0)
    THEHIVE_IP               address to analyse (default 8.8.8.8)
    THEHIVE_JOB_TIMEOUT      seconds to wait for the job (default 60)

Exit status 0 when every check holds; 1 with a `FAIL:` line naming the first mismatch; 2 when
the settings are incomplete.
"""

import os
import sys
import time

from thehive4py import TheHiveApi
from thehive4py.errors import TheHiveError
from thehive4py.query.filters import Eq, Id


class Mismatch(Exception):
    """A server answer that differs from what TheHive 5 returns."""


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def step(text):
    print(f"ok: {text}", flush=True)


def env(name, default=None):
    value = os.environ.get(name, default)
    if value is None or value == "":
        print(f"FAIL: environment variable {name} is not set", file=sys.stderr)
        sys.exit(2)
    return value


def require_keys(obj, keys, what):
    missing = [k for k in keys if k not in obj]
    check(not missing, f"{what} lacks {missing}: {obj}")


# Required fields of the TheHive 5.7.3 OpenAPI schemas (StrangeBeeCorp/docs
# docs/thehive/api-docs/docs.yaml).
USER_KEYS = ["_id", "_createdBy", "_createdAt", "login", "name", "hasKey", "hasPassword",
             "hasMFA", "locked", "profile", "organisation", "type", "extraData"]
OBSERVABLE_KEYS = ["_id", "_type", "_createdBy", "_createdAt", "dataType", "startDate", "tlp",
                   "tlpLabel", "pap", "papLabel", "ioc", "sighted", "reports", "extraData",
                   "ignoreSimilarity", "external"]
JOB_KEYS = ["_id", "_type", "_createdBy", "_createdAt", "analyzerId", "analyzerName",
            "analyzerDefinition", "status", "startDate", "cortexId", "cortexJobId", "id",
            "operations"]


def bootstrap(url, org, admin_user, admin_password):
    """The set-up TheHive4py's own test suite runs as admin (T4P tests/utils.py)."""
    admin = TheHiveApi(url=url, username=admin_user, password=admin_password,
                       organisation="admin")
    me = admin.user.get_current()
    require_keys(me, USER_KEYS, "admin current user")
    step(f"admin current user {me['login']} (type {me['type']})")

    licence = admin.session.make_request("GET", "/api/v1/license/current")
    expires = licence["fallback"]["expiresAt"]
    check(expires > time.time() * 1000, f"licence fallback already expired: {licence}")
    step("licence fallback is valid")

    found = admin.organisation.find(filters=Eq("name", org))
    if not found:
        admin.organisation.create(organisation={"name": org, "description": "thehive4py test"})
        found = admin.organisation.find(filters=Eq("name", org))
    check(len(found) == 1 and found[0]["name"] == org, f"organisation {org} not found: {found}")
    step(f"organisation {org} found")

    login = f"thehive4py-{int(time.time() * 1000)}@thehive.local"
    user = admin.user.create(user={"login": login, "name": "thehive4py service",
                                   "profile": "analyst", "organisation": org,
                                   "type": "Service"})
    require_keys(user, USER_KEYS, "created user")
    memberships = admin.user.set_organisations(
        user_id=user["_id"],
        organisations=[{"organisation": org, "profile": "analyst", "default": True}],
    )
    check([m["organisation"] for m in memberships] == [org],
          f"set_organisations answered {memberships}")
    key = admin.user.renew_apikey(user_id=user["_id"])
    check(isinstance(key, str) and len(key) >= 16, f"renewed key is not plain text: {key!r}")
    keyed = TheHiveApi(url=url, apikey=key, organisation=org)
    check(keyed.user.get_current()["login"] == login, "the renewed key does not log in")
    step(f"service user {login} created, placed in {org}, key renewed and usable")


def wait_for_job(api, job_id, timeout):
    deadline = time.time() + timeout
    while True:
        job = api.cortex.get_analyzer_job(job_id=job_id)
        if job["status"] in ("Success", "Failure") and ("report" in job
                                                        or job["status"] == "Failure"):
            return job
        check(time.time() < deadline, f"job {job_id} still {job['status']} after {timeout}s")
        time.sleep(0.2)


def drive(settings):
    url, org = settings["url"], settings["org"]
    api = TheHiveApi(url=url, username=settings["user"], password=settings["password"],
                     organisation=org)

    me = api.user.get_current()
    require_keys(me, USER_KEYS, "current user")
    check(me["organisation"] == org, f"current organisation is {me['organisation']}, not {org}")
    step(f"current user {me['login']} in {org}")

    case = api.case.create(case={"title": "thehive4py drive", "description": "hivecheck",
                                 "tags": ["hivecheck"]})
    check(case.get("_type") == "Case" and case.get("_id", "").startswith("~"),
          f"unexpected case: {case}")
    step(f"case {case['_id']} (#{case.get('number')}) created")

    created = api.observable.create_in_case(
        case_id=case["_id"], observable={"dataType": "ip", "data": settings["ip"]})
    check(isinstance(created, list) and len(created) == 1,
          f"observable creation answered {created}")
    observable = created[0]
    require_keys(observable, OBSERVABLE_KEYS, "created observable")
    check(observable["_type"] == "Observable" and observable["data"] == settings["ip"],
          f"unexpected observable: {observable}")
    step(f"observable {observable['_id']} ({settings['ip']}) created")

    analyzers = api.cortex.list_analyzers()
    named = [a for a in analyzers if a.get("name") == settings["analyzer"]]
    check(len(named) == 1, f"analyzer {settings['analyzer']} not listed: {analyzers}")
    analyzer = named[0]
    check(settings["cortex_id"] in analyzer.get("cortexIds", []),
          f"analyzer {analyzer['name']} not on {settings['cortex_id']}: {analyzer}")
    step(f"analyzer {analyzer['name']} listed with id {analyzer['id']}")

    job = api.cortex.create_analyzer_job(job={"analyzerId": analyzer["id"],
                                              "cortexId": settings["cortex_id"],
                                              "artifactId": observable["_id"]})
    require_keys(job, JOB_KEYS, "created job")
    check(job["_type"] == "case_artifact_job", f"unexpected job type: {job}")
    step(f"job {job['_id']} created ({job['status']})")

    finished = wait_for_job(api, job["_id"], settings["timeout"])
    check(finished["status"] == "Success", f"job ended {finished['status']}: {finished}")
    check(finished["report"].get("success") is True, f"job report is not a success: {finished}")
    check("endDate" in finished, f"finished job has no endDate: {finished}")
    step(f"job {job['_id']} finished with Success")

    found = api.cortex.find_analyzer_jobs(filters=Id(job["_id"]))
    check(len(found) == 1 and found[0]["_id"] == job["_id"],
          f"find_analyzer_jobs by id answered {found}")
    by_name = api.cortex.find_analyzer_jobs(filters=Eq("analyzerName", analyzer["name"]))
    check(any(j["_id"] == job["_id"] for j in by_name),
          f"find_analyzer_jobs by analyzerName missed the job: {by_name}")
    check(all("report" not in j for j in by_name), "job list results carry reports")
    step("find_analyzer_jobs finds the job, without its report")

    read = api.observable.get(observable_id=observable["_id"])
    require_keys(read, OBSERVABLE_KEYS, "observable read back")
    report = read["reports"].get(analyzer["name"])
    check(report is not None, f"observable has no {analyzer['name']} report: {read['reports']}")
    taxonomies = report.get("taxonomies", [])
    check(len(taxonomies) > 0, f"report has no taxonomies: {report}")
    for taxonomy in taxonomies:
        require_keys(taxonomy, ["level", "namespace", "predicate", "value"], "taxonomy")
    step(f"observable reports {len(taxonomies)} taxonomies from {analyzer['name']}")

    dummy = api.cortex.create_analyzer_job(job={"analyzerId": "dummy-analyzer",
                                                "cortexId": "dummy-cortex",
                                                "artifactId": observable["_id"]})
    check(dummy["_type"] == "case_artifact_job", f"unexpected dummy job: {dummy}")
    step(f"job for an unknown Cortex accepted ({dummy['status']})")

    api.case.delete(case_id=case["_id"])
    try:
        api.case.get(case_id=case["_id"])
    except TheHiveError:
        step("case deleted")
    else:
        raise Mismatch("the case can still be read after deletion")


def main():
    settings = {
        "url": env("THEHIVE_URL"),
        "org": env("THEHIVE_ORG"),
        "user": env("THEHIVE_USER"),
        "password": env("THEHIVE_PASSWORD"),
        "cortex_id": env("THEHIVE_CORTEX_ID", "cortex0"),
        "analyzer": env("THEHIVE_ANALYZER", "AbuseIPDB_1_0"),
        "ip": env("THEHIVE_IP", "8.8.8.8"),
        "timeout": float(env("THEHIVE_JOB_TIMEOUT", "60")),
    }
    admin_user = os.environ.get("THEHIVE_ADMIN_USER")
    try:
        if admin_user:
            bootstrap(settings["url"], settings["org"], admin_user,
                      env("THEHIVE_ADMIN_PASSWORD"))
        drive(settings)
    except Mismatch as mismatch:
        print(f"FAIL: {mismatch}", file=sys.stderr)
        return 1
    except TheHiveError as error:
        print(f"FAIL: TheHive answered an error: {error}", file=sys.stderr)
        return 1
    print("all thehive4py checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
