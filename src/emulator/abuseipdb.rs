//! The emulated AbuseIPDB analyzer (Cortex-Analyzers `analyzers/AbuseIPDB/`, versions 1.0 and 2.0).
//!
//! The AbuseIPDB `check` answer is made up deterministically from a hash of the address, so a
//! given IP always gets the same score, usage type and report count whatever the emulator seed.
//! The summary rules are those of the analyzer's `summary()` at each version (reference §9).

use std::net::IpAddr;

use md5::{Digest, Md5};
use serde_json::{Value, json};

/// Which published analyzer generation to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// `AbuseIPDB_1_0`: predicates `Is Whitelist`, `Is Tor`, `Usage Type`, `Abuse Confidence
    /// Score`, `Records`.
    V1,
    /// `AbuseIPDB_2_0`: predicates `Whitelisted`, `Tor`, `Usage`, `Score`, `Reports`.
    V2,
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

    let Ok(addr) = data.trim().parse::<IpAddr>() else {
        return Outcome::Failure(format!(
            "Unable to query AbuseIPDB API\n{}",
            invalid_ip_body()
        ));
    };

    let data = check_response(addr);
    let taxonomies = summary(version, &data);
    let mut value = json!({"data": data, "categories_strings": categories_strings(&data)});
    if version == Version::V2 {
        // Versions 1.1 and later add report statistics, 2.0 also names the query type.
        let (countries, categories) = report_statistics(&data);
        value["reporting_countries"] = countries;
        value["category_counts"] = categories;
        // The sample reports are months old, so none falls in the freshness windows.
        value["freshness"] = json!({"last24h": 0, "last7d": 0});
        value["query_type"] = json!("check");
    }
    Outcome::Success {
        full: json!({"values": [value]}),
        taxonomies,
    }
}

/// The 422 body AbuseIPDB answers for an address it cannot parse (reference §9, [I]).
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
        Version::V1 => [
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
        Version::V2 if score >= 75 => "malicious",
        Version::V2 if score > 0 => "suspicious",
        _ => "safe",
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
    fn invalid_address_fails_like_the_api_422() {
        let outcome = run(Version::V1, "ip", "8.8.8.x");

        let Outcome::Failure(message) = outcome else {
            panic!("expected failure");
        };
        assert!(message.starts_with("Unable to query AbuseIPDB API\n{"));
    }
}
