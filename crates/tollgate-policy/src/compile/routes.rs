//! Routes: method and path template → api, in matchit routers, with their typed parameters.

use toml::Spanned;

use super::Compiler;
use crate::model::RouteConfig;
use crate::param::ParamType;
use crate::policy::{Route, Routes};

impl Compiler<'_> {
    pub(super) fn routes(
        &mut self,
        configs: &[Spanned<RouteConfig>],
        case_insensitive: bool,
    ) -> (Routes, Vec<String>) {
        let mut routes = Routes::default();
        let mut apis: Vec<String> = Vec::new();
        for config in configs {
            let route = config.get_ref();
            let pattern = &route.pattern;
            let Some((method, template)) = pattern.get_ref().trim().split_once(' ') else {
                self.fail(pattern.span(), "a route matches `METHOD /path`, e.g. `GET /hvacs/{gatewayId}` or `* /webhooks/{*rest}`");
                continue;
            };
            let template = template.trim();
            let method = method.to_ascii_uppercase();
            if method != "*" && !method.bytes().all(|b| b.is_ascii_uppercase()) {
                self.fail(pattern.span(), format!("`{method}` is not an HTTP method"));
                continue;
            }
            if method == "HEAD" {
                self.fail(pattern.span(), "HEAD requests are GET requests to routes and limits (RFC 9110 §9.3.2): write the route for GET");
                continue;
            }
            let Some((template, typed)) = self.typed_params(route, template, case_insensitive)
            else {
                continue;
            };
            let template = template.as_str();
            let normal = match crate::path::Target::parse(template, false) {
                Ok(target) if target.path() == template => target.path().to_owned(),
                Ok(target) => {
                    let normal = target.path();
                    self.fail(
                        pattern.span(),
                        format!("the path `{template}` can never match: requests are matched in their normal form `{normal}`"),
                    );
                    continue;
                }
                Err(refused) => {
                    self.fail(
                        pattern.span(),
                        format!("the path `{template}` can never match: {refused}, and such requests are refused"),
                    );
                    continue;
                }
            };
            let api = match apis.iter().position(|name| name == route.api.get_ref()) {
                Some(index) => index,
                None => {
                    apis.push(route.api.get_ref().clone());
                    apis.len() - 1
                }
            };
            let router = if method == "*" {
                &mut routes.any_method
            } else {
                routes.by_method.entry(method.clone()).or_default()
            };
            let normal = if case_insensitive {
                fold_template(&normal)
            } else {
                normal
            };
            if let Err(conflict) = router.insert(normal, routes.routes.len()) {
                self.fail(
                    pattern.span(),
                    format!("route `{}` can never match: {conflict}", pattern.get_ref()),
                );
                continue;
            }
            routes.typed |= !typed.is_empty();
            routes.routes.push(Route {
                api,
                cost: route.cost.unwrap_or(1),
                exempt: route.exempt,
                typed,
            });
        }
        (routes, apis)
    }

    /// The template with its parameters' types taken out (`{id:int}` → `{id}`, as the router
    /// reads it), and the typed parameters: inline types and the route's `params` patterns.
    fn typed_params(
        &mut self,
        route: &RouteConfig,
        template: &str,
        case_insensitive: bool,
    ) -> Option<(String, Vec<(String, ParamType)>)> {
        let span = route.pattern.span();
        let mut typed = Vec::new();
        let mut names = Vec::new();
        let mut segments = Vec::new();
        for segment in template.split('/') {
            let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                if segment.contains(':') && segment.contains('{') {
                    self.fail(
                        span,
                        format!(
                            "`{segment}`: a typed parameter is a whole segment, `{{name:int}}`"
                        ),
                    );
                    return None;
                }
                segments.push(segment.to_owned());
                continue;
            };
            let (name, ty) = match inner.split_once(':') {
                Some((name, ty)) => (name, Some(ty)),
                None => (inner, None),
            };
            // A name given twice is read as its first value here and maybe as its last by the
            // upstream (Express does): one of them would go unchecked.
            let bare = name.trim_start_matches('*');
            if names.iter().any(|known: &(String, bool)| known.0 == bare) {
                self.fail(
                    span,
                    format!("`{{{bare}}}` is a parameter of this route already"),
                );
                return None;
            }
            names.push((bare.to_owned(), name.starts_with('*')));
            if let Some(ty) = ty {
                if name.starts_with('*') {
                    self.fail(
                        span,
                        format!("`{segment}`: a catch-all parameter cannot be typed"),
                    );
                    return None;
                }
                let Some(ty) = ParamType::named(ty) else {
                    self.fail(span, format!("`{segment}`: `{ty}` is not a parameter type: use int, uuid or token, or a pattern in `params`"));
                    return None;
                };
                typed.push((name.to_owned(), ty));
            }
            segments.push(format!("{{{name}}}"));
        }
        for (name, pattern) in &route.params {
            let inline = typed.iter().any(|(typed, _)| typed == name);
            let why = match names.iter().find(|(known, _)| known == name) {
                _ if inline => Some("is typed in the template already"),
                None => Some("is not a parameter of this route"),
                Some((_, true)) => Some("is a catch-all, which cannot be typed"),
                Some((_, false)) => None,
            };
            if let Some(why) = why {
                self.fail(pattern.span(), format!("`{name}` {why}"));
                return None;
            }
            // Unicode classes match every script's digits and letters, which servers read as
            // other values: `٧` is 7 to many.
            if ["\\d", "\\w"]
                .iter()
                .any(|class| pattern.get_ref().contains(class))
            {
                self.fail(pattern.span(), format!("`{name}`: `\\d` and `\\w` match every script's digits and letters, which upstreams read as other values: write `[0-9]` or `[A-Za-z0-9_]`"));
                return None;
            }
            match ParamType::pattern(pattern.get_ref(), case_insensitive) {
                Ok(ty) => typed.push((name.clone(), ty)),
                Err(error) => {
                    let message = error.to_string().replace('\n', " ");
                    self.fail(
                        pattern.span(),
                        format!("`{name}` is not a regular expression: {message}"),
                    );
                    return None;
                }
            }
        }
        Some((segments.join("/"), typed))
    }
}

/// A route template with its literal segments lower-cased and its `{parameter}` names kept.
fn fold_template(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                segment.to_owned()
            } else {
                crate::path::fold_case(segment)
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
