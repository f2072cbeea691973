//! From TOML to the [`PolicyFile`] model, one part at a time: each top-level table, each
//! element of `[[limits]]`, `[[routes]]`, `[[accounts]]` and `[[apps]]`, each plan and each
//! pack. Deserializing stops at the first misspelt key or wrong type, so each part is read
//! alone: a part with one is left out (after its other misspelt keys and wrong types are found
//! too), and the rest of the file is read and checked as usual.
//!
//! A part left out may have defined what other parts refer to. Its name is kept where it can be
//! read (a limit's `name`, a route's `api` and `match`, a plan's or pack's key), and
//! [`Unread`] says what else might be missing, so that no reference to it is reported as an
//! error of its own.

use std::collections::HashSet;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeArray, DeString, DeTable, DeValue};

use super::syntax::Lost;
use crate::error::{ConfigError, Source};
use crate::model::{PackConfig, PlanConfig, PolicyFile};

/// What a name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Defined {
    /// A limit, by its `name`.
    Limit,
    /// An api, by a route's `api`.
    Api,
    /// A path parameter of some route.
    Param,
    /// A plan, by its key under `plans`.
    Plan,
}

/// What the parts of a file that could not be read may define.
#[derive(Debug, Default)]
pub(super) struct Unread {
    /// Names they define, read all the same.
    names: HashSet<(Defined, String)>,
    /// What some of them define under a name that could not be read.
    any: HashSet<Defined>,
}

impl Unread {
    /// Whether something that could not be read may define `name` as `what`.
    pub(super) fn may_define(&self, what: Defined, name: &str) -> bool {
        self.any.contains(&what) || self.names.contains(&(what, name.to_owned()))
    }

    /// `name` (if it could be read) is defined as `what` by a part that could not be read.
    fn define(&mut self, what: Defined, name: Option<&str>) {
        match name {
            Some(name) => {
                self.names.insert((what, name.to_owned()));
            }
            None => {
                self.any.insert(what);
            }
        }
    }

    /// A route that could not be read, with its `api` and `match` if they could.
    fn route(&mut self, api: Option<&str>, pattern: Option<&str>) {
        self.define(Defined::Api, api);
        match pattern {
            Some(pattern) => {
                for param in params(pattern) {
                    self.define(Defined::Param, Some(param));
                }
            }
            None => self.define(Defined::Param, None),
        }
    }

    fn everything() -> Self {
        Self {
            names: HashSet::new(),
            any: [Defined::Limit, Defined::Api, Defined::Param, Defined::Plan].into(),
        }
    }
}

/// The parameter names of a route's `match`: `{id}`, `{id:int}`, `{*rest}`.
fn params(pattern: &str) -> impl Iterator<Item = &str> {
    pattern.split('/').filter_map(|segment| {
        let inner = segment.trim().strip_prefix('{')?.strip_suffix('}')?;
        let name = inner.split_once(':').map_or(inner, |(name, _)| name);
        Some(name.trim_start_matches('*'))
    })
}

/// The model of `text` (the readable part of `source`), with an error for each misspelt key
/// and wrong type; `lost` are the tables already left out (see [`super::syntax`]).
pub(super) fn read(
    source: &Source,
    text: &str,
    lost: &[Lost],
    errors: &mut Vec<ConfigError>,
) -> (PolicyFile, Unread) {
    let Ok(document) = DeTable::parse(text) else {
        // Only tables that clash in ways not found one at a time are left: nothing is checked.
        return (PolicyFile::default(), Unread::everything());
    };
    let mut reader = Reader {
        source,
        errors,
        file: PolicyFile::default(),
        unread: Unread::default(),
    };
    for (key, value) in document.into_inner() {
        reader.entry(key, value);
    }
    let Reader {
        mut file,
        mut unread,
        ..
    } = reader;
    for Lost { path, read } in lost {
        let text = |key: &str| {
            read.iter()
                .find(|(read, _)| read == key)
                .map(|(_, text)| text.as_str())
        };
        let keys: Vec<&str> = path.iter().map(String::as_str).collect();
        match keys.as_slice() {
            ["limits"] => unread.define(Defined::Limit, text("name")),
            ["limits", ..] => unread.define(Defined::Limit, None),
            ["routes"] => unread.route(text("api"), text("match")),
            ["routes", ..] => unread.route(None, None),
            ["plans", plan, ..] => {
                file.plans
                    .entry((*plan).to_owned())
                    .or_insert_with(|| Spanned::new(0..0, PlanConfig::default()));
            }
            ["plans"] => unread.define(Defined::Plan, None),
            // A header whose keys cannot be read may be any table.
            ["", ..] => unread = Unread::everything(),
            // The keys before the first header (listed one by one after it), and tables that
            // name nothing others refer to.
            _ => {}
        }
    }
    (file, unread)
}

struct Reader<'a> {
    source: &'a Source,
    errors: &'a mut Vec<ConfigError>,
    file: PolicyFile,
    unread: Unread,
}

impl<'i> Reader<'_> {
    fn entry(&mut self, key: Spanned<DeString<'i>>, value: Spanned<DeValue<'i>>) {
        let name = key.get_ref().to_string();
        let span = value.span();
        match (name.as_str(), value.into_inner()) {
            ("limits" | "routes" | "accounts" | "apps", DeValue::Array(elements)) => {
                for element in elements {
                    let span = element.span();
                    let mut one = DeArray::new();
                    one.push(element.clone());
                    let read = self.part(&key, Spanned::new(span.clone(), DeValue::Array(one)));
                    match read {
                        Some(part) => self.merge(&name, part),
                        None => self.salvage(&name, element.get_ref()),
                    }
                }
            }
            ("plans" | "packs", DeValue::Table(entries)) => {
                for (entry, config) in entries {
                    let mut one = DeTable::new();
                    let entry_name = entry.get_ref().to_string();
                    let config_span = config.span();
                    one.insert(entry, config);
                    match self.part(&key, Spanned::new(span.clone(), DeValue::Table(one))) {
                        Some(part) => self.merge(&name, part),
                        None if name == "plans" => {
                            let plan = Spanned::new(config_span, PlanConfig::default());
                            self.file.plans.insert(entry_name, plan);
                        }
                        None => {
                            let pack = Spanned::new(config_span, PackConfig::default());
                            self.file.packs.insert(entry_name, pack);
                        }
                    }
                }
            }
            (_, value) => match self.part(&key, Spanned::new(span, value)) {
                Some(part) => self.merge(&name, part),
                None => match name.as_str() {
                    "limits" => self.unread.define(Defined::Limit, None),
                    "routes" => self.unread.route(None, None),
                    "plans" => self.unread.define(Defined::Plan, None),
                    _ => {}
                },
            },
        }
    }

    /// The file of one top-level entry, or `None` after reporting what is wrong in it: every
    /// misspelt key and wrong type, each found after the one before is taken out. A field
    /// reported missing once something was taken out is not reported: it may be the one.
    fn part(
        &mut self,
        key: &Spanned<DeString<'i>>,
        mut value: Spanned<DeValue<'i>>,
    ) -> Option<PolicyFile> {
        let mut taken_out = false;
        loop {
            let mut table = DeTable::new();
            table.insert(key.clone(), value.clone());
            let whole = key.span().start..value.span().end;
            let deserializer = toml::de::Deserializer::from(Spanned::new(whole, table));
            match PolicyFile::deserialize(deserializer) {
                Ok(file) => return (!taken_out).then_some(file),
                Err(error) => {
                    let message = error.message().trim_end();
                    if taken_out && message.starts_with("missing field") {
                        return None;
                    }
                    let span = error.span().unwrap_or_else(|| value.span());
                    self.errors.push(self.source.error(span.clone(), message));
                    if !take_out(&mut value, &span) {
                        return None;
                    }
                    taken_out = true;
                }
            }
        }
    }

    /// Adds the part read for the top-level key `name` to the file.
    fn merge(&mut self, name: &str, part: PolicyFile) {
        let file = &mut self.file;
        // Every field, so that a new one cannot be forgotten here.
        let PolicyFile {
            server,
            responses,
            identity,
            paths,
            default_plan,
            accounts,
            apps,
            plans,
            packs,
            routes,
            limits,
            alerts,
        } = part;
        match name {
            "server" => file.server = server,
            "alerts" => file.alerts = alerts,
            "responses" => file.responses = responses,
            "identity" => file.identity = identity,
            "paths" => file.paths = paths,
            _ => {}
        }
        if default_plan.is_some() {
            file.default_plan = default_plan;
        }
        file.accounts.extend(accounts);
        file.apps.extend(apps);
        file.plans.extend(plans);
        file.packs.extend(packs);
        file.routes.extend(routes);
        file.limits.extend(limits);
    }

    /// Keeps what a part that could not be read defines, where it can be read: it is left out,
    /// and not checked further.
    fn salvage(&mut self, name: &str, element: &DeValue<'_>) {
        let text = |key: &str| element.as_table()?.get(key)?.get_ref().as_str();
        match name {
            "limits" => self.unread.define(Defined::Limit, text("name")),
            "routes" => self.unread.route(text("api"), text("match")),
            _ => {}
        }
    }
}

/// Takes out of `value` the innermost entry (a key and its value, or an array's item) that
/// `span` points into; `false` if there is none. Tables written as `[headers]` are spanned by
/// their header, so every entry is searched, not only those whose span holds `span`.
fn take_out(value: &mut Spanned<DeValue<'_>>, span: &Range<usize>) -> bool {
    let within = |outer: Range<usize>| outer.start <= span.start && span.end <= outer.end;
    match value.get_mut() {
        DeValue::Table(table) => {
            let mut found = None;
            for (key, inner) in table.iter_mut() {
                if within(key.span()) {
                    found = Some(key.clone());
                    break;
                }
                if take_out(inner, span) {
                    return true;
                }
                if within(inner.span()) {
                    found = Some(key.clone());
                    break;
                }
            }
            found.is_some_and(|key| table.remove(&key).is_some())
        }
        DeValue::Array(items) => {
            let mut found = None;
            for (index, item) in items.iter_mut().enumerate() {
                if take_out(item, span) {
                    return true;
                }
                if within(item.span()) {
                    found = Some(index);
                    break;
                }
            }
            let Some(found) = found else {
                return false;
            };
            let mut kept = DeArray::new();
            for (index, item) in items.iter().enumerate() {
                if index != found {
                    kept.push(item.clone());
                }
            }
            *items = kept;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> (Vec<String>, PolicyFile, Unread) {
        let source = Source::new("p.toml", text);
        let mut errors = Vec::new();
        let (file, unread) = read(&source, text, &[], &mut errors);
        (
            errors.iter().map(ToString::to_string).collect(),
            file,
            unread,
        )
    }

    #[test]
    fn each_element_is_read_alone() {
        let (errors, file, unread) = read_text(
            "[[limits]]\nname = \"a\"\nwindow = { max = 1, every = \"1s\" }\n\
             [[limits]]\nname = \"b\"\npre = 1\nshadow = \"yes\"\nwindow = { max = \"x\", every = \"1s\" }\n\
             [[limits]]\nname = 3\n\
             [[limits]]\nname = \"d\"\nwindow = { max = 1, every = \"1s\" }\n",
        );
        assert_eq!(
            errors,
            [
                "p.toml:6:1: unknown field `pre`, expected one of `name`, `token_bucket`, `window`, `sliding`, `concurrency`, `distinct`, `per`, `plans`, `apis`, `when`, `shadow`, `status`, `code`, `refund`, `delay`",
                "p.toml:7:10: invalid type: string \"yes\", expected a boolean",
                "p.toml:8:18: invalid type: string \"x\", expected u64",
                "p.toml:10:8: invalid type: integer `3`, expected a string",
            ]
        );
        let names: Vec<&str> = file
            .limits
            .iter()
            .map(|l| l.get_ref().name.get_ref().as_str())
            .collect();
        assert_eq!(names, ["a", "d"]);
        assert!(unread.may_define(Defined::Limit, "b"));
        assert!(
            unread.may_define(Defined::Limit, "c"),
            "the third's name is unreadable"
        );
        assert!(!unread.may_define(Defined::Api, "x"));
    }

    #[test]
    fn a_field_missing_after_a_wrong_one_is_taken_out_is_not_reported() {
        let (errors, file, unread) = read_text("[[routes]]\napi = 1\nmatch = \"GET /a\"\n");
        assert_eq!(
            errors,
            ["p.toml:2:7: invalid type: integer `1`, expected a string"]
        );
        assert!(file.routes.is_empty());
        assert!(unread.may_define(Defined::Api, "anything"));
        assert!(
            !unread.may_define(Defined::Param, "id"),
            "its path has none"
        );
        // A route whose api and path read keeps their names.
        let (errors, file, unread) = read_text(
            "[[routes]]\napi = \"a\"\nmatch = \"GET /a/{id:int}/{*rest}\"\ncost = \"one\"\n",
        );
        assert_eq!(
            errors,
            ["p.toml:4:8: invalid type: string \"one\", expected u32"]
        );
        assert!(file.routes.is_empty());
        assert!(unread.may_define(Defined::Api, "a"));
        assert!(!unread.may_define(Defined::Api, "b"));
        assert!(unread.may_define(Defined::Param, "id"));
        assert!(unread.may_define(Defined::Param, "rest"));
        assert!(!unread.may_define(Defined::Param, "x"));
    }

    #[test]
    fn a_plan_that_cannot_be_read_is_a_plan_all_the_same() {
        let (mut errors, file, unread) = read_text(
            "default_plan = 1\n[plans.gold]\nlimit = {}\n[plans.free.limits]\nx = { max = 1 }\n[colour]\n",
        );
        errors.sort();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("p.toml:1:16: invalid type: integer `1`"));
        assert!(errors[1].starts_with("p.toml:3:1: unknown field `limit`"));
        assert!(errors[2].starts_with("p.toml:6:2: unknown field `colour`"));
        let plans: Vec<&String> = file.plans.keys().collect();
        assert_eq!(plans, ["free", "gold"]);
        assert!(file.default_plan.is_none());
        assert!(!unread.may_define(Defined::Plan, "silver"));
    }
}
