//! Routes: method and path template → api, in matchit routers.

use toml::Spanned;

use super::Compiler;
use crate::model::RouteConfig;
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
            routes.routes.push(Route {
                api,
                cost: route.cost.unwrap_or(1),
                exempt: route.exempt,
            });
        }
        (routes, apis)
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
