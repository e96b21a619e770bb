//! The emulated AbuseIPDB analyzer (Cortex-Analyzers `analyzers/AbuseIPDB/`, versions 1.0, 1.1
//! and 2.0).
//!
//! The AbuseIPDB `check` answer is made up deterministically from a hash of the address, so a
//! given IP always gets the same score, usage type and report count whatever the emulator seed;
//! a `check-block` answer (2.0, CIDR input) lists the block's sampled addresses that `check`
//! reports. The summary rules are those of the analyzer's `summary()` at each version, read in
//! TheHive-Project/Cortex-Analyzers `analyzers/AbuseIPDB/abuseipdb.py`: 1.0 at d2a1f1fe, 1.1 at
//! c24b757b (its last state: the malicious threshold was `>= 80` from 7100ac17, 2025-08-08,
//! and `>= 75` from 6eeeb403, 2026-01-20), 2.0 at 48712ecc.

use std::net::IpAddr;

use md5::{Digest, Md5};
use serde_json::{Value, json};

/// Which published analyzer generation to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// `AbuseIPDB_1_0`: predicates `Is Whitelist`, `Is Tor`, `Usage Type`, `Abuse Confidence
    /// Score`, `Records`; any positive score is only `suspicious`.
    V1,
    /// `AbuseIPDB_1_1`: 1.0's predicates, a score of 75 or more is `malicious`, and the full
    /// report adds reporter countries, category counts and freshness.
    V1_1,
    /// `AbuseIPDB_2_0`: predicates `Whitelisted`, `Tor`, `Usage`, `Score`, `Reports`, and CIDR
    /// input checked as a block (`Max Score`, `Reported IPs`, `Total Reports`).
    V2,
}

impl Version {
    /// The version an enabled analyzer runs, from its definition id (in the combined role,
    /// its configured name): `AbuseIPDB_1_0` and `AbuseIPDB_1_1` by prefix, any other name
    /// starting with `AbuseIPDB` as the current 2.0; `None` for other analyzers.
    pub fn of(definition: &str) -> Option<Self> {
        if definition.starts_with("AbuseIPDB_1_0") {
            Some(Version::V1)
        } else if definition.starts_with("AbuseIPDB_1_1") {
            Some(Version::V1_1)
        } else if definition.starts_with("AbuseIPDB") {
            Some(Version::V2)
        } else {
            None
        }
    }
}

/// A catalog entry's descriptive fields (`AbuseIPDB.json` of each version).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CatalogEntry {
    /// `author`.
    pub author: &'static str,
    /// `description`.
    pub description: &'static str,
}

/// The catalog fields of a version, as its `AbuseIPDB.json` gives them (Cortex-Analyzers
/// d2a1f1fe for 1.0, c24b757b for 1.1, 48712ecc for 2.0). The JSON's `integration_type`
/// (1.1 and later) is not listed: Cortex's `WorkerDefinition` neither reads nor writes it.
pub(crate) fn catalog(version: Version) -> CatalogEntry {
    match version {
        Version::V1 => CatalogEntry {
            author: "Matteo Lodi",
            description: "Determine whether an IP was reported or not as malicious by AbuseIPDB",
        },
        Version::V1_1 => CatalogEntry {
            author: "Matteo Lodi; Fabien Bloume, StrangeBee",
            description: "Checks an IP against AbuseIPDB for abuse score, categories, and recent reports.",
        },
        Version::V2 => CatalogEntry {
            author: "Matteo Lodi; Fabien Bloume, StrangeBee",
            description: "Check IP addresses or CIDR blocks against AbuseIPDB. Returns abuse confidence score, report categories, reporter countries, and detailed report history.",
        },
    }
}

/// Outcome of one analyzer run as Cortex records it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The analyzer reported: `full` report and summary taxonomies.
    Success {
        /// The `full` report.
        full: Value,
        /// `summary.taxonomies`.
        taxonomies: Vec<Value>,
    },
    /// The analyzer failed with this `errorMessage`.
    Failure(String),
}

const USAGE_TYPES: [&str; 8] = [
    "Data Center/Web Hosting/Transit",
    "Fixed Line ISP",
    "Mobile ISP",
    "Commercial",
    "University/College/School",
    "Content Delivery Network",
    "Search Engine Spider",
    "Organization",
];

const COUNTRIES: [(&str, &str); 6] = [
    ("US", "United States of America"),
    ("DE", "Germany"),
    ("FR", "France"),
    ("NL", "Netherlands"),
    ("CN", "China"),
    ("BR", "Brazil"),
];

/// AbuseIPDB category names (the analyzer's `extract_abuse_ipdb_category` table, abridged to
/// the categories the emulator hands out).
const CATEGORIES: [(u64, &str); 6] = [
    (14, "Port Scan"),
    (15, "Hacking"),
    (18, "Brute Force"),
    (21, "Web App Attack"),
    (22, "SSH"),
    (11, "Email Spam"),
];

/// Runs the analyzer on one observable.
pub(crate) fn run(version: Version, data_type: &str, data: &str) -> Outcome {
    // The analyzer only handles `ip`; cortexutils turns the `notSupported()` call into this
    // error message (CU `worker.py`).
    if data_type != "ip" {
        return Outcome::Failure("This datatype is not supported by this analyzer.".to_owned());
    }

    // 2.0 sends anything with a `/` to `check-block`; earlier versions send it to `check`,
    // which refuses it like any other text that is not an address.
    if version == Version::V2 && data.contains('/') {
        return check_block(data.trim());
    }
    let Ok(addr) = data.trim().parse::<IpAddr>() else {
        return Outcome::Failure(format!(
            "Unable to query AbuseIPDB API\n{}",
            invalid_ip_body()
        ));
    };

    let data = check_response(addr);
    let taxonomies = summary(version, &data);
    let mut value = json!({"data": data, "categories_strings": categories_strings(&data)});
    if version != Version::V1 {
        // Versions 1.1 and later add report statistics.
        let (countries, categories) = report_statistics(&data);
        value["reporting_countries"] = countries;
        value["category_counts"] = categories;
        // The sample reports are months old, so none falls in the freshness windows.
        value["freshness"] = json!({"last24h": 0, "last7d": 0});
    }
    let mut full = json!({"values": [value]});
    if version == Version::V2 {
        // 2.0 names the query type beside `values`.
        full["query_type"] = json!("check");
    }
    Outcome::Success { full, taxonomies }
}

/// The 2.0 analyzer on a CIDR block: AbuseIPDB's `check-block` answer, summarised with
/// `Max Score`, `Reported IPs` and `Total Reports` (Cortex-Analyzers 48712ecc `_check_block`,
/// `_summary_check_block`).
fn check_block(network: &str) -> Outcome {
    let Some((addr, prefix)) = network
        .split_once('/')
        .and_then(|(a, p)| Some((a.parse::<IpAddr>().ok()?, p.parse::<u32>().ok()?)))
        .filter(|(a, p)| *p <= if a.is_ipv4() { 32 } else { 128 })
    else {
        return Outcome::Failure(format!(
            "Unable to query AbuseIPDB API\n{}",
            invalid_network_body()
        ));
    };
    let data = block_response(addr, prefix);
    let reported = data["reportedAddress"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let total_reports: u64 = reported
        .iter()
        .filter_map(|a| a["numReports"].as_u64())
        .sum();
    let max_score = reported
        .iter()
        .filter_map(|a| a["abuseConfidenceScore"].as_u64())
        .max()
        .unwrap_or(0);
    let mut countries: Vec<(String, u64)> = Vec::new();
    for entry in &reported {
        let code = entry["countryCode"].as_str().unwrap_or("??").to_uppercase();
        match countries.iter_mut().find(|(c, _)| *c == code) {
            Some(c) => c.1 += 1,
            None => countries.push((code, 1)),
        }
    }
    countries.sort_by_key(|c| std::cmp::Reverse(c.1));
    let result = json!({
        "data": data,
        "summary": {
            "networkAddress": data["networkAddress"],
            "netmask": data["netmask"],
            "minAddress": data["minAddress"],
            "maxAddress": data["maxAddress"],
            "numPossibleHosts": data["numPossibleHosts"],
            "addressSpaceDesc": data["addressSpaceDesc"],
            "reportedAddressCount": reported.len(),
            "totalReports": total_reports,
            "maxAbuseConfidenceScore": max_score,
        },
        // The sampled reports are months old, so none falls in the freshness windows.
        "freshness": {"last24h": 0, "last7d": 0},
        "reporting_countries": countries
            .iter()
            .take(6)
            .map(|(code, count)| json!({"code": code, "count": count}))
            .collect::<Vec<_>>(),
    });

    let mut taxonomies = vec![taxonomy(
        score_level(max_score),
        "Max Score",
        json!(max_score),
    )];
    let count = reported.len();
    taxonomies.push(if count > 0 {
        taxonomy("suspicious", "Reported IPs", json!(count))
    } else {
        taxonomy("safe", "Reported IPs", json!(0))
    });
    if total_reports > 0 {
        taxonomies.push(taxonomy("info", "Total Reports", json!(total_reports)));
    }
    Outcome::Success {
        full: json!({"values": [result], "query_type": "check-block"}),
        taxonomies,
    }
}

/// The level of a score from 1.1 on: 75 or more is malicious, any other positive score
/// suspicious.
fn score_level(score: u64) -> &'static str {
    if score >= 75 {
        "malicious"
    } else if score > 0 {
        "suspicious"
    } else {
        "safe"
    }
}

/// The `data` of a `check-block` answer: the block's bounds, and the addresses among a few
/// sampled ones that `check` reports, each with its count, score and last report.
fn block_response(addr: IpAddr, prefix: u32) -> Value {
    let (bits, base) = match addr {
        IpAddr::V4(v4) => (32u32, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (128u32, u128::from(v6)),
    };
    let host_bits = bits - prefix;
    let mask: u128 = if host_bits >= 128 {
        0
    } else {
        (u128::MAX >> (128 - bits)) & !((1u128 << host_bits) - 1)
    };
    let network = base & mask;
    let last = network | !mask & (u128::MAX >> (128 - bits));
    // IPv4 blocks of more than two addresses leave out the network and broadcast addresses.
    let (min, max) = if addr.is_ipv4() && host_bits > 1 {
        (network + 1, last - 1)
    } else {
        (network, last)
    };
    let to_ip = |n: u128| -> IpAddr {
        if addr.is_ipv4() {
            IpAddr::V4(std::net::Ipv4Addr::from(n as u32))
        } else {
            IpAddr::V6(std::net::Ipv6Addr::from(n))
        }
    };
    let hosts = (max - min).saturating_add(1);
    let samples: Vec<IpAddr> = (0..8u128.min(hosts))
        .map(|i| to_ip(min + i * (hosts / 8).max(1)))
        .collect();
    let reported: Vec<Value> = samples
        .into_iter()
        .filter_map(|ip| {
            let checked = check_response(ip);
            let reports = checked["totalReports"].as_u64().unwrap_or(0);
            (reports > 0).then(|| {
                json!({
                    "ipAddress": ip.to_string(),
                    "numReports": reports,
                    "mostRecentReport": checked["lastReportedAt"],
                    "abuseConfidenceScore": checked["abuseConfidenceScore"],
                    "countryCode": checked["countryCode"],
                })
            })
        })
        .collect();
    let netmask = if addr.is_ipv4() {
        to_ip(mask).to_string()
    } else {
        prefix.to_string()
    };
    json!({
        "networkAddress": to_ip(network).to_string(),
        "netmask": netmask,
        "minAddress": to_ip(min).to_string(),
        "maxAddress": to_ip(max).to_string(),
        "numPossibleHosts": u64::try_from(hosts).unwrap_or(u64::MAX),
        "addressSpaceDesc": if is_public(addr) { "Internet" } else { "Private" },
        "reportedAddress": reported,
    })
}

/// The 422 body AbuseIPDB answers for a network it cannot parse \[I\].
fn invalid_network_body() -> String {
    json!({"errors": [{
        "detail": "The network must be a valid CIDR block (e.g. 127.0.0.1/24).",
        "status": 422,
        "source": {"parameter": "network"},
    }]})
    .to_string()
}

/// The 422 body AbuseIPDB answers for an address it cannot parse (reference §9, \[I\]).
fn invalid_ip_body() -> String {
    json!({"errors": [{
        "detail": "The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).",
        "status": 422,
        "source": {"parameter": "ipAddress"},
    }]})
    .to_string()
}

/// Addresses AbuseIPDB reports as not public (private, loopback, link-local, reserved…).
fn is_public(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            let shared = o[0] == 100 && (64..128).contains(&o[1]);
            let reserved = o[0] >= 240 || o[0] == 0;
            let benchmarking = o[0] == 198 && (o[1] == 18 || o[1] == 19);
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || shared
                || reserved
                || benchmarking)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let unique_local = (s[0] & 0xfe00) == 0xfc00;
            let link_local = (s[0] & 0xffc0) == 0xfe80;
            let documentation = s[0] == 0x2001 && s[1] == 0x0db8;
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || unique_local
                || link_local
                || documentation)
        }
    }
}

/// Builds the `data` object of a verbose `check` answer for `addr`.
fn check_response(addr: IpAddr) -> Value {
    let version = if addr.is_ipv4() { 4 } else { 6 };
    let text = addr.to_string();

    if !is_public(addr) {
        return json!({
            "ipAddress": text,
            "isPublic": false,
            "ipVersion": version,
            "isWhitelisted": false,
            "abuseConfidenceScore": 0,
            "countryCode": null,
            "countryName": null,
            "usageType": "Reserved",
            "isp": "Private IP Address LAN",
            "domain": null,
            "hostnames": [],
            "isTor": false,
            "totalReports": 0,
            "numDistinctUsers": 0,
            "lastReportedAt": null,
            "reports": [],
        });
    }

    let h: [u8; 16] = Md5::digest(text.as_bytes()).into();
    // One byte picks the reputation band so that a handful of addresses shows all three
    // levels: about 40 % clean, 30 % low score, 30 % high score.
    let band = h[0] % 10;
    let (score, total_reports) = match band {
        0..=3 => (0u64, 0u64),
        4..=6 => (1 + u64::from(h[1]) % 60, 1 + u64::from(h[2]) % 20),
        _ => (75 + u64::from(h[1]) % 26, 20 + u64::from(h[2]) % 400),
    };
    let whitelisted = band <= 3 && h[3].is_multiple_of(4);
    let is_tor = band >= 7 && h[4].is_multiple_of(3);
    let usage = USAGE_TYPES[usize::from(h[5]) % USAGE_TYPES.len()];
    let (country_code, country_name) = COUNTRIES[usize::from(h[6]) % COUNTRIES.len()];
    let domain = format!("example-{:02x}{:02x}.net", h[7], h[8]);
    let distinct_users = if total_reports == 0 {
        0
    } else {
        1 + total_reports / 3
    };
    let reports = sample_reports(&h, total_reports);
    let last_reported = reports
        .first()
        .and_then(|r| r.get("reportedAt").cloned())
        .unwrap_or(Value::Null);

    json!({
        "ipAddress": text,
        "isPublic": true,
        "ipVersion": version,
        "isWhitelisted": whitelisted,
        "abuseConfidenceScore": score,
        "countryCode": country_code,
        "countryName": country_name,
        "usageType": usage,
        "isp": format!("Example Networks {}", h[9] % 50),
        "domain": domain,
        "hostnames": [],
        "isTor": is_tor,
        "totalReports": total_reports,
        "numDistinctUsers": distinct_users,
        "lastReportedAt": last_reported,
        "reports": reports,
    })
}

/// At most five sample reports, newest first, with the analyzer's added `categories_strings`.
fn sample_reports(h: &[u8; 16], total: u64) -> Vec<Value> {
    let count = total.min(5) as usize;
    (0..count)
        .map(|i| {
            let (number, name) = CATEGORIES[(usize::from(h[10]) + i) % CATEGORIES.len()];
            let (cc, cname) = COUNTRIES[(usize::from(h[11]) + i) % COUNTRIES.len()];
            json!({
                "reportedAt": format!("2026-0{}-1{}T0{}:00:00+00:00", 1 + i, i, i),
                "comment": format!("{name} activity"),
                "categories": [number],
                "reporterId": 1000 + u64::from(h[12]) + i as u64,
                "reporterCountryCode": cc,
                "reporterCountryName": cname,
                "categories_strings": [name],
            })
        })
        .collect()
}

/// Distinct category names over all reports, in first-seen order.
fn categories_strings(data: &Value) -> Vec<Value> {
    let mut names: Vec<Value> = Vec::new();
    for report in data["reports"].as_array().into_iter().flatten() {
        for name in report["categories_strings"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

/// `reporting_countries` and `category_counts`: the six most frequent reporter countries and
/// categories with their counts, most frequent first (first seen wins a tie).
fn report_statistics(data: &Value) -> (Value, Value) {
    let mut countries: Vec<(String, String, u64)> = Vec::new();
    let mut categories: Vec<(String, u64)> = Vec::new();
    for report in data["reports"].as_array().into_iter().flatten() {
        let code = report["reporterCountryCode"]
            .as_str()
            .unwrap_or("??")
            .to_uppercase();
        let name = report["reporterCountryName"]
            .as_str()
            .unwrap_or(&code)
            .to_owned();
        match countries
            .iter_mut()
            .find(|(c, n, _)| *c == code && *n == name)
        {
            Some(entry) => entry.2 += 1,
            None => countries.push((code, name, 1)),
        }
        for category in report["categories_strings"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let category = category.as_str().unwrap_or_default().to_owned();
            match categories.iter_mut().find(|(c, _)| *c == category) {
                Some(entry) => entry.1 += 1,
                None => categories.push((category, 1)),
            }
        }
    }
    countries.sort_by_key(|c| std::cmp::Reverse(c.2));
    categories.sort_by_key(|c| std::cmp::Reverse(c.1));
    let countries: Vec<Value> = countries
        .into_iter()
        .take(6)
        .map(|(code, name, count)| json!({"code": code, "name": name, "count": count}))
        .collect();
    let categories: Vec<Value> = categories
        .into_iter()
        .take(6)
        .map(|(category, count)| json!({"category": category, "count": count}))
        .collect();
    (Value::Array(countries), Value::Array(categories))
}

fn taxonomy(level: &str, predicate: &str, value: Value) -> Value {
    json!({"level": level, "namespace": "AbuseIPDB", "predicate": predicate, "value": value})
}

/// The analyzer's `summary()` taxonomies for a `check` answer.
fn summary(version: Version, data: &Value) -> Vec<Value> {
    let names = match version {
        Version::V1 | Version::V1_1 => [
            "Is Whitelist",
            "Is Tor",
            "Usage Type",
            "Abuse Confidence Score",
            "Records",
        ],
        Version::V2 => ["Whitelisted", "Tor", "Usage", "Score", "Reports"],
    };
    let mut out = Vec::new();

    let whitelisted = data["isWhitelisted"].as_bool().unwrap_or(false);
    if whitelisted {
        out.push(taxonomy("info", names[0], json!("True")));
    }
    if data["isTor"].as_bool().unwrap_or(false) {
        out.push(taxonomy("info", names[1], json!("True")));
    }
    if let Some(usage) = data.get("usageType") {
        out.push(taxonomy("info", names[2], usage.clone()));
    }

    let score = data["abuseConfidenceScore"].as_u64().unwrap_or(0);
    let level = match version {
        Version::V1 if score > 0 => "suspicious",
        Version::V1 => "safe",
        Version::V1_1 | Version::V2 => score_level(score),
    };
    out.push(taxonomy(level, names[3], json!(score)));

    let total = data["totalReports"].as_u64().unwrap_or(0);
    if total > 0 {
        let level = if whitelisted { "info" } else { "malicious" };
        out.push(taxonomy(level, names[4], json!(total)));
    } else {
        out.push(taxonomy("safe", names[4], json!(0)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(outcome: &Outcome) -> Vec<String> {
        match outcome {
            Outcome::Success { taxonomies, .. } => taxonomies
                .iter()
                .map(|t| {
                    format!(
                        "{}:{}",
                        t["predicate"].as_str().unwrap_or(""),
                        t["level"].as_str().unwrap_or("")
                    )
                })
                .collect(),
            Outcome::Failure(m) => vec![m.clone()],
        }
    }

    #[test]
    fn same_address_gives_same_answer() {
        assert_eq!(
            run(Version::V1, "ip", "203.0.113.9"),
            run(Version::V1, "ip", "203.0.113.9")
        );
    }

    #[test]
    fn private_address_is_reserved_and_safe() {
        let outcome = run(Version::V1, "ip", "10.1.2.3");

        let Outcome::Success { full, taxonomies } = outcome else {
            panic!("expected success");
        };
        assert_eq!(full["values"][0]["data"]["isPublic"], false);
        assert_eq!(taxonomies[0]["value"], "Reserved");
        assert_eq!(taxonomies[1]["level"], "safe");
        assert_eq!(taxonomies[2]["predicate"], "Records");
    }

    #[test]
    fn a_handful_of_addresses_covers_every_level() {
        let all: Vec<String> = (1..=40)
            .flat_map(|i| levels(&run(Version::V2, "ip", &format!("45.{i}.7.9"))))
            .collect();

        for wanted in ["Score:safe", "Score:suspicious", "Score:malicious"] {
            assert!(all.iter().any(|l| l.contains(wanted)), "{wanted}: {all:?}");
        }
    }

    #[test]
    fn version_1_1_keeps_1_0_names_with_the_75_threshold() {
        let all: Vec<(String, String)> = (1..=60)
            .map(|i| format!("45.{i}.7.9"))
            .filter_map(|ip| match run(Version::V1_1, "ip", &ip) {
                Outcome::Success { taxonomies, .. } => taxonomies
                    .iter()
                    .find(|t| t["predicate"] == "Abuse Confidence Score")
                    .map(|t| (t["level"].to_string(), t["value"].to_string())),
                Outcome::Failure(_) => None,
            })
            .collect();

        assert!(all.iter().any(|(l, _)| l == "\"malicious\""), "{all:?}");
        for (level, value) in &all {
            let score: u64 = value.parse().expect("number");
            assert_eq!(level.trim_matches('"'), score_level(score), "{score}");
        }
    }

    #[test]
    fn version_2_checks_a_cidr_block() {
        let Outcome::Success { full, taxonomies } = run(Version::V2, "ip", "45.3.7.0/24") else {
            panic!("expected success");
        };

        assert_eq!(full["query_type"], "check-block");
        let data = &full["values"][0]["data"];
        assert_eq!(data["networkAddress"], "45.3.7.0");
        assert_eq!(data["netmask"], "255.255.255.0");
        assert_eq!(data["numPossibleHosts"], 254);
        assert_eq!(taxonomies[0]["predicate"], "Max Score");
        assert_eq!(taxonomies[1]["predicate"], "Reported IPs");
        assert!(matches!(
            run(Version::V1, "ip", "45.3.7.0/24"),
            Outcome::Failure(_)
        ));
    }

    #[test]
    fn definitions_pick_their_version() {
        assert_eq!(Version::of("AbuseIPDB_1_0"), Some(Version::V1));
        assert_eq!(Version::of("AbuseIPDB_1_1"), Some(Version::V1_1));
        assert_eq!(Version::of("AbuseIPDB_2_0"), Some(Version::V2));
        assert_eq!(Version::of("VirusTotal_GetReport_3_1"), None);
    }

    #[test]
    fn invalid_address_fails_like_the_api_422() {
        let outcome = run(Version::V1, "ip", "8.8.8.x");

        let Outcome::Failure(message) = outcome else {
            panic!("expected failure");
        };
        assert!(message.starts_with("Unable to query AbuseIPDB API\n{"));
    }
}
