//! Built-in TheHive + Cortex emulator: an HTTP server that answers the calls of the
//! analyzer-automation workflow as TheHive 4.1.24 with a Cortex 3 backend does, or, with
//! [`Profile::TheHive5`], as TheHive 5.7 with a Cortex 4 backend does (v1 API of the 5.7.3
//! OpenAPI, TheHive 5 shapes and quirks; `th5_*` modules).
//!
//! [`Emulator::start`] runs one in the background (tests), [`serve`] runs one in the foreground
//! (`hivecheck emulate`), and [`router`] gives the bare axum router. Behaviour follows
//! `shared/reference/thehive-api.md`; each handler cites the TheHive source it imitates. Time
//! is emulated lazily: a job's status and report are computed from its timestamps when read.
//!
//! [`Role`] picks what one process plays: `Combined` (the default: TheHive with an in-process
//! Cortex), `Cortex` (the Cortex API alone, bootstrapped over HTTP as StrangeBee's init script
//! does) or `TheHive` (TheHive reaching the Cortex servers of `cortex_urls` over HTTP with
//! `cortex_key`, as TheHive 4's connector does). Two processes with the split roles behave as
//! the combined one, through real HTTP calls.
//!
//! # Known differences
//!
//! Ways the emulator differs from a real TheHive 4.1.24 connected to Cortex 3.1.8 (most also
//! hold for the TheHive 5 profile, on its v1 paths; its own differences follow the list). The
//! upstream evidence for the facts behind them is in `docs/upstream-notes.md`.
//!
//! * **Notifications**: RunAnalyzer rules start their analyzer, as issue #3 asks, whereas a
//!   real 4.1.24 never finds it: `RunAnalyzer` (TH4 `cortex/connector/.../services/
//!   notification/notifiers/RunAnalyzer.scala` ~:84) looks the analyzer up with
//!   `AnalyzerSrv.getAnalyzerByName` → `searchAnalyzers`, which calls
//!   `client.searchResponders` (`services/AnalyzerSrv.scala` ~:67-77), so only a *responder*
//!   of that name is found and the notification fails with `Analyzer <name> not found`.
//!   `--emulate-runanalyzer-lookup-bug` reproduces the real behaviour: no notification job
//!   ever starts. Besides, only observable creation produces an audit event, and only
//!   `RunAnalyzer` notifiers act (webhook, Emailer, Mattermost, AppendToFile and RunResponder
//!   are parsed and ignored); `hostRestriction` is ignored; notification jobs run as
//!   `system@thehive.local` on the first Cortex server listing the analyzer.
//! * **Storage and cluster**: everything is in memory and lost on exit; there is no Cassandra,
//!   BerkeleyDB, Lucene or Elasticsearch, no cluster, no schema migration.
//! * **Session cookie**: `THEHIVE-SESSION` is an opaque random token looked up server-side, not
//!   a signed Play session holding the auth context; it never expires (real: 1 h inactivity)
//!   and carries no `expire`/`warning` data.
//! * **Timing defaults**: TheHive's poller ticks every 250 ms instead of `cortex.refreshDelay`
//!   = 5 s; Cortex jobs last 200–1200 ms (seeded uniform) instead of real analyzer time;
//!   notifications start jobs after 300 ms instead of after the audit is processed.
//! * **Job lifecycle**: Cortex jobs go straight from `Waiting` to `Success`/`Failure` (no
//!   `InProgress`, no `Deleted`, no rate limits, no `maxRetryOnError`; timeouts only in the
//!   `cortex` role). An emulated Cortex job counts as started only once it finished: the
//!   `cortex` role shows its `startDate` from then on (real Cortex: when the runner picks it
//!   up), and Cortex's job cache, which only reuses a job with a `startDate`, ignores it until
//!   then, in both roles. Report `artifacts` are always empty and never imported as
//!   observables (AbuseIPDB 1.1 and 2.0 would emit `domain`/`fqdn` artifacts); report
//!   `operations` are not run.
//! * **Analyzers**: only AbuseIPDB 1.0, 1.1 and 2.0 are modelled, with answers made up from a
//!   hash of the address instead of the live AbuseIPDB API (at most five sample reports,
//!   freshness always 0; no `Missing AbuseIPDB API key`, TLP/PAP limits or `Unexpected Error`
//!   paths). 2.0's CIDR input (`check-block`) lists the reported addresses among eight sampled
//!   from the block, its `addressSpaceDesc` is only `Internet` or `Private`, an IPv6 block's
//!   `netmask` is its prefix length, and the 422 text for a bad block is inferred. In the
//!   combined role an analyzer runs the AbuseIPDB version its name starts with
//!   (`AbuseIPDB_1_0`, `AbuseIPDB_1_1`; any other name starting with `AbuseIPDB` runs 2.0),
//!   and every other configured name takes any data type and succeeds with an empty summary.
//!   In the combined role every server's Cortex organisation is the working organisation
//!   (worker ids use it); in the `thehive` role it is the organisation of the key's Cortex
//!   user, whatever TheHive's.
//! * **Cortex status**: in the combined role `connectors.cortex` in `/api/status` (TheHive 5:
//!   `/api/v1/status`) is `OK` from the first request (real: `{}` until the first check, then
//!   re-checked every minute). In the `thehive` role the first `/api/status` or `/api/health`
//!   (TheHive 5: `/api/v1/status`) runs the check itself and the result is reused for
//!   `status_check_interval`. Versions are fixed strings; the Cortex role's Elastic4s and
//!   Elasticsearch client versions copy a 3.1.7-1 capture.
//! * **Cortex API** (role `cortex`): only status, maintenance migration, login/logout, user
//!   create/get/current, key get/renew, organization create/get, analyzer definitions,
//!   analyzer enable/list/get/by type/`_search`/run and job list/`_search`/get/report/
//!   `waitreport` exist. There is no update or delete of users, organizations, analyzers or
//!   jobs, no `key/set` or password routes, no responders, job artifacts, datastore, streams,
//!   MISP, SSO/LDAP/OAuth2, and no rate limits (`rate`/`rateUnit`). The catalog holds
//!   AbuseIPDB 1.0, 1.1 and 2.0 with the author and description of each version's
//!   `AbuseIPDB.json`; their `dockerImage` tags are inferred. A job killed by `jobTimeout` is
//!   assumed to fail with `no output`. A Basic-authenticated answer sets no session cookie
//!   (elastic4play sets one). Texts not read in the sources: the CSRF refusal, duplicate
//!   user/organization/analyzer errors (`ConflictError`), a bad `atMost`, and unknown routes
//!   (a JSON `NotFound`, where Cortex serves its web assets). A failed job's `input` is
//!   reconstructed. `data` must be text (no attachments).
//! * **TheHive role**: Cortex is polled lazily, when a job or observable is read and the
//!   job's poller tick (`refresh_delay`) has passed, with the same `waitreport?atMost=1
//!   second` call; a read can therefore wait up to a second for Cortex. `maxRetryOnError`,
//!   `includedTheHiveOrganisations`/`excludedTheHiveOrganisations`, file observables and report
//!   artifact import are not modelled; with the TheHive 4 profile a Cortex that cannot be
//!   reached during job creation gives an inferred 500 `java.net.ConnectException` (the
//!   TheHive 5 profile records a failing job instead, see below). RunAnalyzer notifications
//!   look the analyzer up with `POST /api/analyzer/_search` on each server in turn (real
//!   4.1.24: `/api/responder/_search`, see Notifications). The `cortex` role always speaks
//!   Cortex 3.1.8's API and version (`3.1.8-1`), also behind the TheHive 5 profile, whose real
//!   stack runs Cortex 4.
//! * **Request bodies**: bodies are read after their `Content-Type` as Play does (JSON for
//!   `application/json`/`text/json`, fields for `application/x-www-form-urlencoded`), but XML
//!   bodies give no field (TheHive: one `xml` field) and multipart bodies are ignored
//!   (TheHive reads their `_json` and data parts, Cortex their `_json` part and files), so
//!   attachments cannot be sent. Query-string and form values stay text (arrays of text
//!   when a name repeats): only `range`, `sort`, `nparent`, job `parameters` and Cortex's
//!   `tlp`, `pap` and `force` are read as TheHive's or elastic4play's parsers read text; an
//!   `FAny` in an error shows its values as a `List` \[I\]. Optional case and observable fields
//!   are not type-checked (TheHive answers 400 `InvalidFormatAttributeError`) and only `tags`
//!   is normalised (to a set). JSON objects are rendered with their keys in alphabetical
//!   order (Play keeps each writer's order).
//! * **Error texts**: some texts are inferred rather than observed: the message of the 500
//!   `ConfigException$Missing` for an organisation item without default (Typesafe Config's
//!   `No configuration setting found for key 'organisation.defaults.<path>'`, which may carry
//!   an origin prefix), the 500 `StringIndexOutOfBoundsException` message for an empty `sort`
//!   element (Java 8's), the `SearchError` for a filter operator the emulator lacks (real
//!   TheHive may accept it), the `acceptedInput` lists of `/api/v1/query` errors (abridged),
//!   the `JsResultException` text of a Cortex error answer to `run`, and `Invalid Json`
//!   messages, which come from serde_json instead of Jackson. `X-Permissions` lists the
//!   permissions in the emulator's order (TheHive: a Scala `Set`'s).
//! * **Totals**: `X-Total` is the exact count (real: a count capped at
//!   `query.limitedCountThreshold`); lists are sent whole, not streamed in chunks.
//! * **Queries**: filters support `_and _or _not _any _id _is _eq _ne _lt _lte _gt _gte _in
//!   _between _startsWith _endsWith _contains _has _like _parent` on the rendered JSON only
//!   (no `_child`, `_string`, `_wildcard`, `_match`, no full-text). Both profiles accept field
//!   tests in the `{field: value}` and `{"_field", "_value"}` forms and `_has`, which TheHive
//!   4 may refuse. The TheHive 4 `/api/v1/query` only supports `getObservable` → `jobs` (+
//!   `filter`, `sort`, `page`), without `extraData`. Sorting compares numbers and strings
//!   only.
//! * **Entities and endpoints** (TheHive 4 profile): only the routes of the workflow exist:
//!   login/logout, current user, status and health, case create/get/delete/`_search`,
//!   observable create/get/delete/`_search` (v0, and the v1 twins `/api/v1/case…` and
//!   `/api/v1/observable/{id}`), Cortex analyzers and jobs, and one organisation config item
//!   at a time. There is no `GET /api/config/organisation` (whole object), no user,
//!   organisation, profile or API-key management, no alerts, tasks, logs, custom fields (v1
//!   `customFields` is always `[]`), case templates, sharing, audit or stream API, no update
//!   (PATCH) endpoints, no file observables or attachments (`file` observables are stored as
//!   plain strings, `isZip` is ignored), no TOTP (a third Basic segment is ignored), no
//!   SSO/LDAP/OAuth2/PKI providers. Case deletion removes observables and jobs at once, and
//!   the v0 case `permissions` lists all the caller's permissions.
//! * **Users and organisations**: exactly two organisations (`admin` and the working one) and
//!   two users in the TheHive 4 profile; permissions per profile are an abridged copy of
//!   TheHive's. The v0 user `roles` derivation is approximated.
//!
//! Further differences of the TheHive 5 profile from a real TheHive 5.7 (closed source: the
//! shapes come from the 5.7.3 OpenAPI and StrangeBee's docs, the behaviour is partly inferred):
//!
//! * **Routes**: only the v1 routes of the workflow exist (login/logout, current user, user
//!   creation, memberships and key renewal, organisation creation, licence, status, query,
//!   case create/get/delete, observable create/get/delete, Cortex analyzers and jobs, bulk
//!   jobs),
//!   plus the legacy `/api/connector/cortex/…` analyzer and job paths, `GET /api/status`,
//!   `POST /api/organisation` and `/api/config/organisation/{path}`. That last one is kept in
//!   TheHive 4 form although nothing upstream says TheHive 5 serves it: the 5.7.3 OpenAPI has
//!   only `/api/v1/config/user[/{path}]` [?] (docs/upstream-notes.md Q10). Every other v0 path
//!   (`/api/login`, `/api/case`, `/api/user/current`, job `_search`…) answers the catch-all
//!   404, whereas a real TheHive 5 may still serve some of them.
//! * **Requests and observables**: bodies and the query string are read as TheHive 4 reads
//!   them (`Content-Type`, query over body, lenient `range`) \[I\]. A duplicate observable in a
//!   case gives TheHive 4's 207 `{success, failure}`, whereas the OpenAPI declares only 201
//!   [?]. An observable's `startDate` is its creation date and its tags a set, as in TheHive 4
//!   \[I\].
//! * **Jobs**: an unknown `cortexId` or `analyzerId` is accepted with 201 and the job ends
//!   `Failure` at the first poller tick with report `{"errorMessage": "Cortex <id> not
//!   found" | "Analyzer <id> not found", "success": false}`, `cortexJobId` `""` and
//!   `analyzerName` = the given id: the status, texts and fields are inferred (TheHive4py's
//!   tests only show the 201 and the reads). A job answers `Waiting` at creation with its
//!   Cortex job id known at once, although TheHive 5 submits asynchronously; a Cortex cache
//!   hit is still born `Success`. `endDate` is the poller's clock when the result is stored,
//!   as in TheHive 4 \[I\]. A bulk request stops at its first invalid job. Job list results
//!   never carry `report`, whatever `extraData` asks for. In the `thehive` role the remote
//!   Cortex decides what is unknown (server name, then analyzer by id and by name), and a
//!   submission that fails there (Cortex unreachable or refusing the run) also gives a 201
//!   and a failing job, whose `errorMessage` is the emulator's own text for the failed call
//!   \[I\]; `cortexJobId` is then `""`.
//! * **Shapes**: `tlpLabel`/`papLabel`/`severityLabel` follow TLP 2.0 (5.2+); cases are always
//!   `New`/stage `New` with `access` `OrganisationAccessKind`, empty `customFields`, and only
//!   `newDate`/`timeToDetect` among the date metrics; observables have `external: false`;
//!   organisations have `taskRule`/`observableRule` `manual` \[I\]. `/api/v1/status` reuses
//!   TheHive 4's Cortex connector object, `features` is empty and `gitDescription` is the
//!   version; `/api/v1/status/public` says `mitreCatalog: "Done"` [?]; the legacy
//!   `/api/status` copies a 5.1.4 capture (`Play` `2.8.x`, `authType` without `basic`; \[V\] for
//!   5.1.4, \[I\] for 5.7, docs/upstream-notes.md Q8).
//! * **Licence**: by default the not-found variant with a Platinum 14-day trial fallback
//!   starting at emulator start; `licence` (`--licence`) can make that trial one that ended a
//!   day ago, or report an installed licence (the `{license}` variant) of another plan, whose
//!   `kind` `Standard` is made up \[I\]. Ids, customer, capabilities and quotas are made up, the
//!   expired status `error` text is inferred \[I\], no licence can be installed through the API,
//!   nothing becomes read-only when it expires, no plan limits anything (RunAnalyzer
//!   notifications run on any plan, several Cortex servers need no paid plan), and RunAnalyzer
//!   notifications use the TheHive 4 configuration format.
//! * **Users and organisations**: profiles are `admin`, `org-admin`, `analyst`, `read-only`
//!   with TheHive 4's permission lists; creating users or organisations and setting
//!   memberships need the admin organisation (creating a user also works for an org-admin
//!   in its own organisation); refusals are 403 `Operation not permitted` and duplicates 400
//!   `CreateError` with inferred texts. No user update, lock, delete, password or MFA routes.
//! * **Cortex servers** (`thehive` role): `PUT /api/v1/admin/config/cortex` replaces the servers
//!   at once (`name`, `url`, `auth` `bearer` with `key` or `basic`) and drops the cached status
//!   check; the intervals, `wsConfig` and organisation filters are accepted and ignored, the
//!   validation and its texts are inferred, `manageConfig` in the admin organisation stands
//!   for `managePlatform`, there is no `GET` of the path (the 5.7.3 OpenAPI documents neither
//!   method), the combined role answers the catch-all 404, and the role may start with no
//!   server at all.
//! * **Query**: `/api/v1/query` knows `list`/`get` of Case, Observable, Job, Organisation and
//!   User, the traversals case → `observables`, observable → `jobs`/`case`, job →
//!   `observable`, and `filter`, `sort`, `page`, `count`; an empty query is a 400 (TheHive 4
//!   answers 500) \[I\].

mod abuseipdb;
mod args;
mod case;
mod config;
mod cortex;
mod cortex_api;
mod cortex_link;
mod cortex_store;
mod error;
mod notification;
mod org_config;
mod query;
mod query_steps;
mod remote;
mod request;
mod server;
mod session;
mod store;
mod th5_api;
mod th5_cortex;
mod th5_query;
mod th5_shape;

pub use args::EmulatorArgs;
pub use config::{CortexServerConfig, EmulatorConfig, Latency, LicenceState, Profile, Role};
pub use error::EmulatorError;
pub use server::{Emulator, router, serve};
