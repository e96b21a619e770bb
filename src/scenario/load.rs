//! Reading scenario files: TOML parsing, then validation, both pointing at `file:line:col`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::error::ScenarioError;
use super::model::{
    AnalyzerPattern, AutorunSpec, Expectation, Location, Outcome, PollSpec, RawScenario, Scenario,
};

/// The most random addresses one scenario may ask for: enough for any load a person means to
/// put on a TheHive, and far from what would exhaust memory or the public address space.
pub const MAX_RANDOM: usize = 1000;

/// The longest poll or autorun deadline a scenario may set. Longer waits are almost always a
/// typo, and a bound keeps every deadline computation in range.
pub const MAX_DEADLINE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Loads every `*.toml` file of `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let io = |source| ScenarioError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(ScenarioError::Empty {
            dir: dir.to_owned(),
        });
    }
    paths.iter().map(|path| load_file(path)).collect()
}

/// Loads one scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        path: path.to_owned(),
        source,
    })?;
    load_str(path, &text)
}

/// Parses and validates scenario text; `path` names it in errors.
pub fn load_str(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let source = Source { path, text };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let message = e.message().trim().to_owned();
        let hint = parse_hint(&message);
        source.error(e.span().unwrap_or(0..0), message, hint)
    })?;
    validate(&source, raw)
}

struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

/// Where a byte span of `text` is: 1-based line and column, and the line with a caret under
/// the span, for any TOML file hivecheck reads.
pub fn locate(text: &str, span: Range<usize>) -> (usize, usize, String) {
    let offset = span.start.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or_default();
    let width = text[offset..span.end.clamp(offset, text.len())]
        .lines()
        .next()
        .map_or(1, |s| s.chars().count().max(1));
    let gutter = " ".repeat(line.to_string().len());
    let snippet = format!(
        "{gutter} |\n{line} | {line_text}\n{gutter} | {}{}",
        " ".repeat(column - 1),
        "^".repeat(width)
    );
    (line, column, snippet)
}

impl Source<'_> {
    fn error(&self, span: Range<usize>, message: String, hint: Option<String>) -> ScenarioError {
        let (line, column, snippet) = locate(self.text, span);
        ScenarioError::Invalid {
            path: self.path.to_owned(),
            line,
            column,
            message,
            snippet,
            hint,
        }
    }

    fn at<T>(&self, spanned: &Spanned<T>, message: impl Into<String>, hint: &str) -> ScenarioError {
        self.error(spanned.span(), message.into(), Some(hint.to_owned()))
    }
}

fn parse_hint(message: &str) -> Option<String> {
    let hint = if message.starts_with("unknown field") {
        "check the spelling; the \"Scenarios\" section of README.md lists every key a scenario takes"
    } else if message.starts_with("missing field") {
        "add the key; scenarios/compact.toml shows a complete scenario"
    } else if message.contains("time unit") || message.contains("duration") {
        "write a duration with its unit, e.g. \"500ms\", \"30s\" or \"2m\""
    } else if message.starts_with("unknown variant") {
        "use one of the values listed"
    } else if message.contains("untagged enum CaseRef") {
        "give the case as its `~id` in quotes (\"~4120\") or as its number (42)"
    } else if message.starts_with("invalid value: integer") {
        "this value is a whole number of zero or more"
    } else if message.starts_with("invalid type") || message.starts_with("wanted ") {
        "check the value's type: strings are quoted, numbers are not"
    } else if message.starts_with("duplicate key") {
        "each key appears once in its table; keep one of the two"
    } else {
        // Anything else comes from the TOML grammar itself.
        "this is not valid TOML here: strings are in double quotes, tables are `[name]`, lists \
         of tables `[[name]]`; scenarios/compact.toml is a complete example"
    };
    Some(hint.to_owned())
}

fn validate(source: &Source<'_>, raw: RawScenario) -> Result<Scenario, ScenarioError> {
    let analyzer = raw.analyzer.get_ref();
    let patterns: Vec<&Spanned<String>> = match (&analyzer.name, &analyzer.names) {
        (Some(name), None) => vec![name],
        (None, Some(names)) if !names.is_empty() => names.iter().collect(),
        (Some(_), Some(_)) => {
            return Err(source.at(
                &raw.analyzer,
                "`name` and `names` are both set",
                "keep `name` for one analyzer, or list them all in `names`",
            ));
        }
        _ => {
            return Err(source.at(
                &raw.analyzer,
                "no analyzer selected",
                "add `name = \"(?i)abuseipdb\"` (a regex on the analyzer name)",
            ));
        }
    };
    let many = patterns.len() > 1;
    let mut analyzers = Vec::new();
    for (index, pattern) in patterns.into_iter().enumerate() {
        let regex = regex::RegexBuilder::new(pattern.get_ref())
            .case_insensitive(true)
            .build()
            .map_err(|e| {
                let first = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                source.at(
                    pattern,
                    format!("invalid analyzer regex: {first}"),
                    "the pattern is a Rust regex, matched case-insensitively",
                )
            })?;
        let plain = pattern
            .get_ref()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        let label = match (many, plain) {
            (_, true) => pattern.get_ref().clone(),
            (true, false) => format!("#{}", index + 1),
            (false, false) => String::new(),
        };
        analyzers.push(AnalyzerPattern {
            pattern: pattern.get_ref().clone(),
            label,
            regex,
        });
    }

    let observables = raw.observables.get_ref();
    let random = match &observables.random {
        Some(count) if *count.get_ref() > MAX_RANDOM => {
            return Err(source.at(
                count,
                format!(
                    "`random` is {}, above the limit of {MAX_RANDOM}",
                    count.get_ref()
                ),
                "ask for fewer addresses, or split the load over several scenarios",
            ));
        }
        Some(count) => *count.get_ref(),
        None => 0,
    };
    if random == 0 && observables.items.is_empty() {
        return Err(source.at(
            &raw.observables,
            "no observable to create",
            "set `random = 3` for three public IPv4 addresses, or list `items`",
        ));
    }
    let tlp = match &observables.tlp {
        Some(tlp) if *tlp.get_ref() > 3 => {
            return Err(source.at(
                tlp,
                "tlp must be 0 to 3",
                "TLP:WHITE=0, GREEN=1, AMBER=2, RED=3",
            ));
        }
        Some(tlp) => *tlp.get_ref(),
        None => 2,
    };
    let mut seen = std::collections::HashSet::new();
    for item in &observables.items {
        let data_type = item
            .get_ref()
            .data_type
            .as_deref()
            .unwrap_or(&observables.data_type);
        if item.get_ref().data.trim().is_empty() {
            return Err(source.at(
                item,
                "`data` is empty",
                "TheHive skips blank values and creates nothing; give the observable's value",
            ));
        }
        if !seen.insert((data_type.to_owned(), item.get_ref().data.clone())) {
            return Err(source.at(
                item,
                format!("`{}` is listed twice", item.get_ref().data),
                "TheHive refuses a duplicate observable in a case; list each value once",
            ));
        }
        if let Some(expect) = &item.get_ref().expect {
            check_expectation(source, item, expect)?;
        }
    }

    let poll = raw
        .poll
        .as_ref()
        .map_or_else(PollSpec::default, |p| *p.get_ref());
    if let Some(spanned) = &raw.poll
        && (poll.interval.is_zero() || poll.interval > poll.deadline)
    {
        return Err(source.at(
            spanned,
            "the poll interval must be above zero and below the deadline",
            "e.g. interval = \"1s\", deadline = \"2m\"",
        ));
    }
    if let Some(spanned) = &raw.poll
        && poll.deadline > MAX_DEADLINE
    {
        return Err(source.at(
            spanned,
            format!(
                "the poll deadline `{}` is above the limit of 24h",
                humantime::format_duration(poll.deadline)
            ),
            "a job that has not ended within minutes is worth a failure; e.g. deadline = \"5m\"",
        ));
    }

    let expect = match &raw.expect {
        Some(spanned) => {
            check_expectation(source, spanned, spanned.get_ref())?;
            spanned.get_ref().clone()
        }
        None => Expectation::default(),
    };

    let autorun = match raw.autorun {
        None => None,
        Some(spanned) => {
            let a = spanned.into_inner();
            let deadline = a.deadline.get_ref().0;
            if deadline.is_zero() || deadline > MAX_DEADLINE {
                return Err(source.at(
                    &a.deadline,
                    format!(
                        "the autorun deadline `{}` must be above zero and at most 24h",
                        humantime::format_duration(deadline)
                    ),
                    "TheHive starts notification jobs within seconds; e.g. deadline = \"30s\"",
                ));
            }
            let (line, column, snippet) = locate(source.text, a.template.span());
            Some(AutorunSpec {
                template: a.template.into_inner(),
                template_at: Location {
                    line,
                    column,
                    snippet,
                },
                mode: a.mode,
                deadline,
                expect: a.expect,
            })
        }
    };

    let name = source
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".to_owned());
    Ok(Scenario {
        path: source.path.to_owned(),
        name,
        description: raw.description,
        ignore: raw.ignore,
        seed: raw.seed,
        cortex: analyzer.cortex.clone(),
        analyzers,
        case: raw.case.map(Spanned::into_inner).unwrap_or_default(),
        random,
        data_type: observables.data_type.clone(),
        tlp,
        items: observables
            .items
            .iter()
            .map(|i| i.get_ref().clone())
            .collect(),
        poll,
        expect,
        snapshot: raw.snapshot,
        autorun,
    })
}

fn check_expectation<T>(
    source: &Source<'_>,
    at: &Spanned<T>,
    expect: &Expectation,
) -> Result<(), ScenarioError> {
    if !expect.predicates.is_empty() && expect.outcome != Outcome::Success {
        return Err(source.at(
            at,
            format!(
                "`predicates` only apply to a success, not to `{}`",
                expect.outcome
            ),
            "drop `predicates`, or expect outcome = \"success\"",
        ));
    }
    if expect.error.is_some() && matches!(expect.outcome, Outcome::Success | Outcome::Timeout) {
        return Err(source.at(
            at,
            format!(
                "`error` only applies to a failure or a rejection, not to `{}`",
                expect.outcome
            ),
            "drop `error`, or expect outcome = \"failure\" or \"rejected\"",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Scenario, ScenarioError> {
        load_str(Path::new("scenarios/t.toml"), text)
    }

    const MINIMAL: &str =
        "description = \"d\"\n[analyzer]\nname = \"abuse\"\n[observables]\nrandom = 2\n";

    #[test]
    fn minimal_scenario_takes_defaults() {
        let s = load(MINIMAL).unwrap();
        assert_eq!(s.name, "t");
        assert_eq!(s.cortex, "cortex0");
        assert_eq!((s.random, s.tlp, s.data_type.as_str()), (2, 2, "ip"));
        assert!(
            s.analyzers[0].regex.is_match("AbuseIPDB_1_0"),
            "case-insensitive"
        );
        assert_eq!(s.expect.outcome, Outcome::Success);
    }

    #[test]
    fn unknown_key_points_at_its_line_with_a_hint() {
        let err = load(&format!("{MINIMAL}[poll]\nintervall = \"1s\"\n")).unwrap_err();
        let ScenarioError::Invalid {
            line,
            column,
            ref message,
            ..
        } = err
        else {
            panic!("{err}")
        };
        assert_eq!((line, column), (7, 1));
        assert!(message.contains("unknown field `intervall`"), "{message}");
        assert!(err.hint().unwrap().contains("spelling"));
    }

    #[test]
    fn duration_without_unit_is_refused() {
        let err = load(&format!("{MINIMAL}[poll]\ninterval = \"10\"\n")).unwrap_err();
        assert!(err.to_string().starts_with("scenarios/t.toml:7:"), "{err}");
        assert!(err.hint().unwrap().contains("unit"), "{err:?}");
    }

    #[test]
    fn invalid_regex_points_at_the_pattern() {
        let err =
            load("description = \"d\"\n[analyzer]\nname = \"(abuse\"\n[observables]\nrandom = 1\n")
                .unwrap_err();
        let ScenarioError::Invalid { line, column, .. } = err else {
            panic!("{err}")
        };
        assert_eq!((line, column), (3, 8));
    }

    #[test]
    fn predicates_with_a_failure_expectation_are_contradictory() {
        let err = load(&format!(
            "{MINIMAL}[[observables.items]]\ndata = \"1.2.3.4\"\nexpect = {{ outcome = \"failure\", predicates = [\"x\"] }}\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("`predicates` only apply"), "{err}");
    }

    #[test]
    fn nothing_to_create_is_an_error() {
        let err =
            load("description = \"d\"\n[analyzer]\nname = \"a\"\n[observables]\n").unwrap_err();
        assert!(err.to_string().contains("no observable"), "{err}");
    }

    #[test]
    fn a_random_count_above_the_limit_points_at_the_key() {
        let err = load(
            "description = \"d\"\n[analyzer]\nname = \"a\"\n[observables]\nrandom = 100000000000\n",
        )
        .unwrap_err();
        let ScenarioError::Invalid { line, column, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!((*line, *column), (5, 10));
        assert!(err.to_string().contains("above the limit of 1000"), "{err}");
    }

    #[test]
    fn an_empty_observable_value_is_refused() {
        let err = load(&format!("{MINIMAL}[[observables.items]]\ndata = \" \"\n")).unwrap_err();
        assert!(err.to_string().contains("`data` is empty"), "{err}");
        assert!(err.hint().unwrap().contains("blank"), "{err:?}");
    }

    #[test]
    fn deadlines_must_be_positive_and_bounded() {
        let huge = load(&format!(
            "{MINIMAL}[poll]\ninterval = \"1s\"\ndeadline = \"300000000000y\"\n"
        ))
        .unwrap_err();
        assert!(
            huge.to_string().contains("above the limit of 24h"),
            "{huge}"
        );

        let zero = load(&format!(
            "{MINIMAL}[autorun]\ntemplate = \"thehive4\"\ndeadline = \"0s\"\n"
        ))
        .unwrap_err();
        let ScenarioError::Invalid { line, .. } = &zero else {
            panic!("{zero}")
        };
        assert_eq!(*line, 8, "points at the deadline: {zero}");
        assert!(zero.to_string().contains("must be above zero"), "{zero}");
    }

    #[test]
    fn the_template_position_is_kept_for_later_checks() {
        let s = load(&format!("{MINIMAL}[autorun]\ntemplate = \"nope\"\n")).unwrap();
        let at = &s.autorun.unwrap().template_at;
        assert_eq!((at.line, at.column), (7, 12));
        assert!(at.snippet.contains("template = \"nope\""), "{}", at.snippet);
    }

    #[test]
    fn toml_syntax_errors_and_odd_values_get_hints() {
        for (text, fragment) in [
            ("description = \"d\n", "not valid TOML"),
            (
                &format!("{MINIMAL}[observables]\nrandom = 1\n") as &str,
                "appears once",
            ),
            (
                &format!("{MINIMAL}[case]\nid = 4.5\n") as &str,
                "`~id` in quotes",
            ),
            (
                &format!(
                    "{MINIMAL}[[observables.items]]\ndata = \"1.2.3.4\"\nexpect = {{ outcome = 3 }}\n"
                ) as &str,
                "type",
            ),
        ] {
            let err = load(text).unwrap_err();
            let hint = err.hint().unwrap_or_default();
            assert!(
                hint.contains(fragment),
                "{text:?} gave {err} with hint {hint:?}"
            );
        }
    }

    #[test]
    fn several_names_give_labels() {
        let s = load("description = \"d\"\n[analyzer]\nnames = [\"AbuseIPDB_1_0\", \"(?i)abuse.*2\"]\n[observables]\nrandom = 1\n")
            .unwrap();
        let labels: Vec<_> = s.analyzers.iter().map(|a| a.label.as_str()).collect();
        assert_eq!(labels, vec!["AbuseIPDB_1_0", "#2"]);
    }
}
