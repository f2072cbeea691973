//! Compiling the files' models into the lookup tree, with the checks that span a level or the
//! files: duplicate descriptors and domains, units, counts and `replaces`.

use std::collections::HashMap;
use std::sync::Arc;

use tollgate_core::{KeyBuilder, KeySpace};
use tollgate_policy::{ConfigError, Source};

use crate::Unit;
use crate::read::{DescriptorModel, FileModel, RateLimitModel, Reader, Text, one_of};
use crate::rule::{Location, Rule, RuleLimit};
use crate::tree::{Level, Map, TreeNode};
use crate::wildcard::Pattern;
use crate::yaml::{self, Pos};

/// Builds the tree of every domain, collecting every error.
pub(crate) struct Compiler<'k> {
    key_space: &'k KeySpace,
    /// Whether a domain may be spread over several files (`MERGE_DOMAIN_CONFIG`).
    merge_domains: bool,
    pub(crate) domains: Map<Box<str>, Level>,
    domain_locations: HashMap<String, Location>,
    /// Where each top-level descriptor of a domain is, by domain, key and value: a merged
    /// domain's files may not define one twice.
    top_level: HashMap<(String, String, Option<String>), Location>,
    pub(crate) nodes: Vec<TreeNode>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) errors: Vec<ConfigError>,
}

/// The file being compiled and its errors.
struct FileContext {
    name: Arc<str>,
    errors: Vec<ConfigError>,
}

impl FileContext {
    fn fail(&mut self, at: Pos, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.name.to_string(),
            line: at.line,
            column: at.column,
            message: message.into(),
        });
    }

    fn location(&self, at: Pos) -> Location {
        Location {
            file: self.name.clone(),
            line: at.line,
            column: at.column,
        }
    }
}

impl<'k> Compiler<'k> {
    pub(crate) fn new(key_space: &'k KeySpace, merge_domains: bool) -> Self {
        Self {
            key_space,
            merge_domains,
            domains: Map::default(),
            domain_locations: HashMap::new(),
            top_level: HashMap::new(),
            nodes: Vec::new(),
            rules: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Compiles one file, adding its errors in the order of their positions.
    pub(crate) fn file(&mut self, source: &Source) {
        let mut file = FileContext {
            name: source.name().into(),
            errors: Vec::new(),
        };
        match yaml::parse(source.text()) {
            Ok(root) => {
                let model = Reader {
                    file: source.name(),
                    errors: &mut file.errors,
                }
                .file(root);
                self.domain(&mut file, model);
            }
            Err(syntax) => file.fail(syntax.at, syntax.message),
        }
        file.errors.sort_by_key(|error| (error.line, error.column));
        self.errors.append(&mut file.errors);
    }

    fn domain(&mut self, file: &mut FileContext, mut model: FileModel) {
        let mut merged = false;
        let domain = match model.domain {
            None => {
                if !model.damaged {
                    file.fail(
                        model.at,
                        "missing `domain`: every file names the domain of its descriptors",
                    );
                }
                String::new()
            }
            Some(Text { text, at }) => {
                if text.is_empty() {
                    file.fail(at, "`domain` must not be empty");
                } else if self.merge_domains && self.domain_locations.contains_key(&text) {
                    merged = true;
                } else if let Some(first) = self.domain_locations.get(&text) {
                    file.fail(
                        at,
                        format!("domain `{text}` is already defined at {first}: each domain is in one file (MERGE_DOMAIN_CONFIG=true merges them)"),
                    );
                } else {
                    self.domain_locations
                        .insert(text.clone(), file.location(at));
                }
                text
            }
        };
        if self.merge_domains {
            model.descriptors = self.once_in_domain(file, &domain, model.descriptors);
        }
        let mut identity = self.key_space.builder();
        identity.push(domain.as_bytes());
        let root = self.level(file, &domain, &identity, model.descriptors);
        if !file.errors.is_empty() {
            return;
        }
        match self.domains.get_mut(domain.as_str()) {
            Some(held) if merged => {
                // The file's top-level descriptors join the domain's: none is there twice.
                for (key, candidates) in root.0 {
                    let into = held.0.entry(key).or_default();
                    into.values.extend(candidates.values);
                    into.wildcards.extend(candidates.wildcards);
                    into.any = into.any.or(candidates.any);
                }
            }
            _ => {
                self.domains.insert(domain.into(), root);
            }
        }
    }

    /// The top-level `descriptors` of a domain that may be merged, less those another file of
    /// the domain already defines (each an error naming both places).
    fn once_in_domain(
        &mut self,
        file: &mut FileContext,
        domain: &str,
        descriptors: Vec<DescriptorModel>,
    ) -> Vec<DescriptorModel> {
        let mut here: HashMap<(String, Option<String>), Location> = HashMap::new();
        let mut kept = Vec::with_capacity(descriptors.len());
        for descriptor in descriptors {
            let Some(key) = descriptor.key.as_ref().filter(|key| !key.text.is_empty()) else {
                kept.push(descriptor);
                continue;
            };
            let value = descriptor.value.as_ref().map(|value| value.text.clone());
            let place = (domain.to_owned(), key.text.clone(), value.clone());
            if let Some(first) = self.top_level.get(&place) {
                let which = match &value {
                    Some(value) => format!("with key `{}` and value `{value}`", key.text),
                    None => format!("with key `{}` and no value", key.text),
                };
                file.fail(
                    descriptor.at,
                    format!(
                        "a descriptor {which} of domain `{domain}` is already defined at \
                         {first}: a merged domain defines each descriptor once"
                    ),
                );
                continue;
            }
            here.entry((key.text.clone(), value))
                .or_insert_with(|| file.location(descriptor.at));
            kept.push(descriptor);
        }
        for ((key, value), location) in here {
            self.top_level
                .insert((domain.to_owned(), key, value), location);
        }
        kept
    }

    /// One level of descriptors; `path` is the statistics name of the level's parent and
    /// `identity` holds its place in the tree.
    fn level(
        &mut self,
        file: &mut FileContext,
        path: &str,
        identity: &KeyBuilder<'k>,
        descriptors: Vec<DescriptorModel>,
    ) -> Level {
        let mut level = Level::default();
        let mut seen: HashMap<(String, Option<String>), Pos> = HashMap::new();
        for mut descriptor in descriptors {
            let key = match descriptor.key.take() {
                Some(key) if !key.text.is_empty() => key,
                Some(key) => {
                    file.fail(key.at, "`key` must not be empty");
                    continue;
                }
                None => {
                    if !descriptor.damaged {
                        file.fail(descriptor.at, "a descriptor needs a `key`");
                    }
                    continue;
                }
            };
            let value = descriptor.value.take().map(|value| value.text);
            if let Some(first) = seen.get(&(key.text.clone(), value.clone())) {
                let which = match &value {
                    Some(value) => format!("with key `{}` and value `{value}`", key.text),
                    None => format!("with key `{}` and no value", key.text),
                };
                file.fail(
                    descriptor.at,
                    format!(
                        "a descriptor {which} is already defined at line {} of this list",
                        first.line
                    ),
                );
                continue;
            }
            seen.insert((key.text.clone(), value.clone()), descriptor.at);

            let path = match &value {
                Some(value) => format!("{path}.{}_{value}", key.text),
                None => format!("{path}.{}", key.text),
            };
            let mut identity = identity.clone();
            identity.push(key.text.as_bytes());
            match &value {
                Some(value) => identity.push_u64(1).push(value.as_bytes()),
                None => identity.push_u64(0),
            };
            let pattern = value.as_deref().and_then(Pattern::new);
            if let Some(at) = descriptor.share_threshold {
                if pattern.is_none() {
                    file.fail(
                        at,
                        "`share_threshold` needs a wildcard value (one with a `*`) to share",
                    );
                }
            }
            let share = descriptor
                .share_threshold
                .and(pattern.as_ref())
                .and(value.as_deref())
                .map(Box::from);
            let rule = descriptor
                .rate_limit
                .take()
                .and_then(|limit| self.rule(file, &descriptor, limit, &path, &identity));
            let children = self.level(file, &path, &identity, descriptor.descriptors);
            let id = self.nodes.len();
            self.nodes.push(TreeNode {
                rule,
                share,
                children,
            });
            let candidates = level.0.entry(key.text.into()).or_default();
            match value {
                None => candidates.any = Some(id),
                Some(value) => {
                    if let Some(pattern) = pattern {
                        candidates.wildcards.push((pattern, id));
                    }
                    candidates.values.insert(value.into(), id);
                }
            }
        }
        level
    }

    fn rule(
        &mut self,
        file: &mut FileContext,
        descriptor: &DescriptorModel,
        limit: RateLimitModel,
        path: &str,
        identity: &KeyBuilder<'k>,
    ) -> Option<usize> {
        let errors_before = file.errors.len();
        let name = limit
            .name
            .map(|name| name.text)
            .filter(|name| !name.is_empty());
        let unit_text = limit.unit.as_ref().filter(|unit| !unit.text.is_empty());
        let unit = match unit_text.map(|text| (text, Unit::parse(&text.text))) {
            None => None,
            Some((text, None)) => {
                file.fail(text.at, unknown_unit(&text.text));
                None
            }
            Some((text, Some(_))) if limit.unlimited => {
                file.fail(text.at, "an unlimited rate_limit takes no `unit`");
                None
            }
            Some((_, Some(unit))) => Some(unit),
        };
        let requests_per_unit = limit.requests_per_unit.map_or(0, |(count, _)| count);
        let rule_limit = if limit.unlimited {
            RuleLimit::Unlimited
        } else {
            if unit_text.is_none() && !limit.damaged {
                file.fail(
                    limit.at,
                    format!(
                        "`rate_limit` needs a `unit` ({}) or `unlimited: true`",
                        one_of(&Unit::ALL.map(Unit::as_str))
                    ),
                );
            }
            if limit.requests_per_unit.is_none() && !limit.damaged {
                file.fail(
                    limit.at,
                    "`rate_limit` needs `requests_per_unit` (envoyproxy/ratelimit reads a \
                     missing one as 0, which refuses every request: write \
                     `requests_per_unit: 0` for that)",
                );
            }
            match (unit, limit.requests_per_unit) {
                (Some(unit), Some((count, at))) if count > 0 => match unit.window(count) {
                    Ok(window) => RuleLimit::Limited(window.into()),
                    Err(tollgate_core::LimitError::MaxExceedsPeriod { period_nanos, .. }) => {
                        file.fail(
                            at,
                            format!(
                                "`requests_per_unit` {count} is too large for a {unit}: Tollgate \
                                 counts a window exactly, at most one request per nanosecond \
                                 of it, so a {unit} counts at most {} (envoyproxy/ratelimit \
                                 takes up to 4294967295); a limit this high never refuses \
                                 ordinary traffic: write `unlimited: true`, or count it per \
                                 minute",
                                period_nanos - 1
                            ),
                        );
                        RuleLimit::Blocked
                    }
                    Err(error) => {
                        file.fail(
                            at,
                            format!("`requests_per_unit` is too large for a {unit}: {error}"),
                        );
                        RuleLimit::Blocked
                    }
                },
                // Zero, or an error reported above.
                _ => RuleLimit::Blocked,
            }
        };
        for replaced in &limit.replaces {
            if replaced.text.is_empty() {
                file.fail(replaced.at, "an entry of `replaces` needs a `name`");
            } else if name.as_deref() == Some(replaced.text.as_str()) {
                file.fail(
                    replaced.at,
                    format!(
                        "a rate_limit cannot replace itself: its `name` is `{}`",
                        replaced.text
                    ),
                );
            }
        }
        if file.errors.len() > errors_before {
            return None;
        }
        let mut keyed = identity.clone();
        keyed.push_u64(unit.map_or(0, |unit| u64::from(unit.proto_number().unsigned_abs())));
        self.rules.push(Rule {
            path: path.into(),
            name: name.map(Box::from),
            limit: rule_limit,
            unit,
            requests_per_unit,
            shadow_mode: descriptor.shadow_mode,
            quota_mode: descriptor.quota_mode,
            detailed_metric: descriptor.detailed_metric,
            replaces: limit
                .replaces
                .into_iter()
                .map(|replaced| Box::from(replaced.text))
                .collect(),
            identity: keyed.finish().get(),
            location: file.location(limit.at),
        });
        Some(self.rules.len() - 1)
    }
}

/// What is wrong with a unit envoyproxy/ratelimit does not read; a spelling that a policy file
/// reads (`seconds`, `hr`) is answered with the word these files take.
fn unknown_unit(text: &str) -> String {
    use tollgate_policy::units::Unit as Word;
    let all = one_of(&Unit::ALL.map(Unit::as_str));
    let meant = match Word::parse(&text.to_lowercase()) {
        Some(Word::Second) => Some(Unit::Second),
        Some(Word::Minute) => Some(Unit::Minute),
        Some(Word::Hour) => Some(Unit::Hour),
        Some(Word::Day) => Some(Unit::Day),
        Some(Word::Week) => Some(Unit::Week),
        Some(Word::Month) => Some(Unit::Month),
        Some(Word::Millisecond) | None => None,
    };
    match meant {
        Some(unit) => {
            format!("unknown unit `{text}`: envoyproxy/ratelimit reads {all} (write `{unit}`)")
        }
        None => format!("unknown unit `{text}`: use {all}"),
    }
}
