//! Arbitrary bytes into the policy parser, the path rules, the route matcher and the identity
//! reading: an error or a decision, never a panic; and what the path rules give back is stable.
//! Each target runs a bounded number of cases (a few seconds in all); a case that ever failed is
//! kept in `proptest-regressions/`.

use proptest::prelude::*;
use tollgate_policy::{Policy, RequestFacts, Resolution, Source, Target};

use crate::example;

/// Bytes biased toward what paths and policies are made of.
fn hostile_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec![
                "/", ".", "..", "%", "%2e", "%2F", "%5C", "%00", "%C0%AE", "%25", ";", "\\", "?",
                "#", "{", "}", "*", "[", "]", "=", "\"", "\n", "a", "B", "é", "\u{0}", "%zz",
            ])
            .prop_map(str::to_owned),
            1 => any::<String>(),
        ],
        0..24,
    )
    .prop_map(|pieces| pieces.concat())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 8_000,
        failure_persistence: Some(Box::new(
            prop::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_policy_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let _ = Policy::compile(&Source::new("fuzz.toml", text));
    }

    #[test]
    fn a_mutated_policy_is_an_error_or_a_policy(at in 0usize..4_000, with in hostile_text()) {
        let original = std::fs::read_to_string(example("heating-partner.toml")).unwrap();
        let at = (0..=at.min(original.len())).rev().find(|&i| original.is_char_boundary(i)).unwrap_or(0);
        let mutated = format!("{}{with}{}", &original[..at], &original[at..]);
        if let Err(errors) = Policy::compile(&Source::new("mutated.toml", mutated)) {
            // Every error names the file, a line and a column.
            prop_assert!(!errors.0.is_empty());
            for error in &errors.0 {
                let shown = error.to_string();
                let mut position = shown.splitn(4, ':');
                prop_assert_eq!(position.next(), Some("mutated.toml"));
                prop_assert!(position.next().is_some_and(|line| line.parse::<u32>().is_ok()), "{}", shown);
                prop_assert!(position.next().is_some_and(|column| column.parse::<u32>().is_ok()), "{}", shown);
            }
        }
    }

    #[test]
    fn the_canonical_path_is_stable(raw in hostile_text(), folded in any::<bool>()) {
        if let Ok(target) = Target::parse(&raw, folded) {
            let path = target.path();
            prop_assert!(path.starts_with('/'));
            prop_assert!(!path.contains("//") && !path.contains(['\\', ';', '\0']));
            prop_assert!(path == "/" || !path.ends_with('/'));
            prop_assert!(!path.split('/').any(|segment| segment == "." || segment == ".."));
            // What is forwarded reads back, decoded once, as exactly what was counted.
            let forwarded = target.encoded_path().to_string();
            let again = Target::parse(&forwarded, folded).unwrap();
            prop_assert_eq!(again.path(), path);
        }
    }

    #[test]
    fn routing_and_identity_never_panic(
        method in prop::sample::select(vec!["GET", "POST", "HEAD", "get", "", "X\u{0}"]),
        raw in hostile_text(),
        headers in prop::collection::vec((prop::sample::select(vec!["authorization", "Authorization", "x-appid", "X-AppSecret", "accept", "x-other"]), hostile_text()), 0..4),
    ) {
        let policy = Policy::load(&example("heating-partner.toml")).unwrap();
        let Ok(target) = policy.target(method, &raw) else { return Ok(()) };
        let headers: Vec<(&str, &str)> = headers.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let facts = RequestFacts { method, target: &target, headers: headers.as_slice(), client_ip: None, cost: None, from_trusted_proxy: false };
        let resolution = policy.resolve(&facts);
        let repeated = headers.iter().enumerate().any(|(i, (name, _))| {
            ["authorization", "x-appid", "x-appsecret"].contains(&name.to_ascii_lowercase().as_str())
                && headers[i + 1..].iter().any(|(other, _)| other.eq_ignore_ascii_case(name))
        });
        if repeated {
            prop_assert!(
                matches!(resolution, Resolution::Ambiguous(_) | Resolution::NoRoute | Resolution::Exempt { .. }),
                "an identity header sent twice is never read one way: {resolution:?}"
            );
        }
    }
}
