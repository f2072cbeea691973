//! One run finds every mistake it can: syntax errors table by table, misspelt keys and wrong
//! types element by element, and the checks of everything else — and no error that a mistake
//! already reported would explain.

use tollgate_policy::{Policy, Source};

/// Every error of `text` as `(line, column, message)`.
fn errors(text: &str) -> Vec<(usize, usize, String)> {
    let errors = Policy::compile(&Source::new("p.toml", text)).expect_err("a broken policy");
    errors
        .0
        .into_iter()
        .map(|error| (error.line, error.column, error.message))
        .collect()
}

/// The positions of every error of `text`.
fn positions(text: &str) -> Vec<(usize, usize)> {
    errors(text)
        .into_iter()
        .map(|(line, column, _)| (line, column))
        .collect()
}

#[test]
fn a_syntax_error_and_two_checks_in_other_tables_are_found_in_one_run() {
    let found = errors(
        r#"[server]
upstream_timeout = "30 seconds"
listen = "0.0.0.0:80" extra

[[routes]]
api = "machines"
match = "GET /machines/{id}"

[[limits]]
name = "hourly"
window = { max = 100, every = "1 fortnight" }

[[limits]]
name = "daily"
window = { max = 1000, every = "day", align = "calendar" }
per = ["account", "param:machine"]
"#,
    );
    assert_eq!(
        found,
        [
            (
                3,
                23,
                "unexpected key or value, expected newline, `#`".to_owned()
            ),
            (
                11,
                31,
                "unknown unit `fortnight` in `1 fortnight`: use ms, s, m, h, d or w, or a word such as sec, minutes, hr, day or weeks".to_owned()
            ),
            (
                16,
                19,
                "no route has a path parameter `{machine}`".to_owned()
            ),
        ]
    );
}

#[test]
fn two_syntax_errors_in_different_tables_are_found_in_one_run() {
    let found = errors(
        r#"[identity]
api_key = { header = "X-Api-Key" }

[[accounts]]
id = "acme
keys = ["acme-key"]

[[limits]]
name = "daily"
window = { max = 1000 every = "1d" }
"#,
    );
    assert_eq!(
        found,
        [
            (5, 11, "invalid basic string, expected `\"`".to_owned()),
            (
                10,
                29,
                "extra assignment between key-value pairs, expected `,`".to_owned()
            ),
        ]
    );
}

#[test]
fn misspelt_keys_and_wrong_types_in_valid_toml_are_all_reported() {
    let found = errors(
        r#"[server]
listen = 8080

[[limits]]
name = "daily"
window = { max = 1000, every = "1d" }
pre = ["account"]
shadow = "yes"

[[limits]]
name = "burst"
token_bucket = { rate = "1/s", burst = -1 }

[paths]
case_insensitive = true
case_sensitive = false
"#,
    );
    let at: Vec<(usize, usize)> = found.iter().map(|(l, c, _)| (*l, *c)).collect();
    assert_eq!(
        at,
        [(2, 10), (7, 1), (8, 10), (12, 40), (16, 1)],
        "{found:#?}"
    );
    assert!(
        found[1]
            .2
            .starts_with("unknown field `pre`, expected one of")
    );
    assert!(found[4].2.starts_with("unknown field `case_sensitive`"));
}

#[test]
fn an_array_left_open_does_not_hide_the_tables_after_it() {
    // The array swallows the next header as far as TOML goes; the error is at the array.
    let found = errors(
        r#"[[limits]]
name = "daily"
window = { max = 1000, every = "1d" }
per = ["account",

[[limits]]
name = "hourly"
window = { max = 10, every = "1 parsec" }
"#,
    );
    assert_eq!(positions_of(&found), [(4, 18), (8, 30)], "{found:#?}");
}

fn positions_of(found: &[(usize, usize, String)]) -> Vec<(usize, usize)> {
    found
        .iter()
        .map(|(line, column, _)| (*line, *column))
        .collect()
}

#[test]
fn what_an_unreadable_table_defined_is_not_reported_missing() {
    // The limit `daily`, the route of `machines` and the plan `gold` are in tables that cannot
    // be read; what refers to them is not an error of its own.
    let found = positions(
        r#"default_plan = "gold"

[[routes]]
api = "machines"
match = "GET /machines/{id}"
cost = "one"

[[limits]]
name = "daily"
window = { max = 1000, every = "1d" 
per = ["account"]

[[limits]]
name = "burst"
token_bucket = { rate = "1/s" }
apis = ["machines"]
per = ["param:id"]

[plans.gold
daily = { max = 5 }

[[accounts]]
id = "acme"
plan = "gold"
overrides = { daily = { max = 50000 }, burst = { rate = "2/s" } }
"#,
    );
    assert_eq!(found, [(6, 8), (11, 1), (19, 12)]);
}

#[test]
fn an_unreadable_limit_whose_name_reads_hides_no_real_reference_error() {
    // `weekly` is no limit anywhere; the unreadable limits' names, `daily` and `hourly`, are
    // read all the same: the first has a value of the wrong type, the second a syntax error
    // after its name.
    let found = errors(
        r#"[[limits]]
name = "daily"
window = { max = "many", every = "1d" }

[[limits]]
name = "hourly"
window = { max = 5, every = 1h }

[plans.gold.limits]
daily = { max = 5 }
hourly = { max = 1 }
weekly = { max = 5 }
"#,
    );
    assert_eq!(
        positions_of(&found),
        [(3, 18), (7, 29), (12, 10)],
        "{found:#?}"
    );
    assert_eq!(
        found[2].2,
        "plan `gold` sets numbers for `weekly`, which is not a limit"
    );
}

#[test]
fn a_header_inside_a_multi_line_string_is_text() {
    let found = positions(
        r#"[responses]
json = """
[server]
{"error":"{code}"}
"""

[server]
listen = "nowhere"
"#,
    );
    assert_eq!(found, [(8, 10)]);
}

#[test]
fn a_table_defined_twice_is_reported_once_and_the_rest_checked() {
    let found = errors(
        r#"[server]
listen = "127.0.0.1:8080"

[server]
upstream = "ftp://example.com"

[[limits]]
name = "x"
window = { max = 0, every = "1m" }
"#,
    );
    assert_eq!(
        found,
        [
            (4, 2, "duplicate key".to_owned()),
            (9, 10, "limit `x`: window max must be at least 1".to_owned())
        ]
    );
}
