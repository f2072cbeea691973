//! The customer's quota page: the same figures as `/_tollgate/quota`, as a small HTML table.

use std::fmt::Write;

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page for a usage document as [`Gate::usage`](crate::Gate::usage) makes it.
pub(crate) fn render(usage: &serde_json::Value) -> String {
    let text = |value: &serde_json::Value| {
        escape(
            &value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned),
        )
    };
    let mut page = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Your quotas</title>\
         <style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left}\
         th{border-bottom:1px solid #999}</style></head><body>",
    );
    let _ = write!(
        page,
        "<h1>Quotas of {}</h1><p>Plan: {}",
        text(&usage["account"]),
        text(&usage["plan"])
    );
    if let Some(pack) = usage["pack"].as_object() {
        let _ = write!(
            page,
            " &middot; pack {} until {}",
            text(&pack["name"]),
            text(&pack["expires_local"])
        );
    }
    page.push_str("</p><table><tr><th>API</th><th>Limit</th><th>Used</th><th>Remaining</th><th>Of</th><th>Resets</th></tr>");
    for api in usage["apis"].as_array().into_iter().flatten() {
        for limit in api["limits"].as_array().into_iter().flatten() {
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                text(&api["api"]),
                text(&limit["name"]),
                text(&limit["kind"]),
                text(&limit["used"]),
                text(&limit["remaining"]),
                text(&limit["limit"]),
                text(&limit["reset_local"]),
            );
        }
    }
    page.push_str("</table></body></html>");
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rows_and_escapes() {
        let usage = serde_json::json!({
            "account": "<acme>",
            "plan": "basic",
            "pack": null,
            "apis": [{ "api": "machines", "limits": [{ "name": "daily", "kind": "quota", "used": 2, "remaining": 3, "limit": 5, "reset_local": "2026-11-23T00:00:00+00:00[UTC]" }] }],
        });
        let page = render(&usage);
        assert!(page.contains("Quotas of &lt;acme&gt;"));
        assert!(
            page.contains("<td>machines</td><td>daily (quota)</td><td>2</td><td>3</td><td>5</td>")
        );
    }
}
