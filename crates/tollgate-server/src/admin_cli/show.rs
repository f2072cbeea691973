//! An answer shown: as the API's JSON (`--json`), or for people — rows under a header, or one
//! object a field a line — and an error as its code and message.

use serde_json::Value;

use super::client::Answer;
use super::request::{ACCOUNT, Asked, DELIVERIES, PACKS, Shape};

/// Prints the answer to `asked`.
pub(super) fn answer(asked: &Asked, answer: &Answer, json: bool) {
    let value: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    if json {
        if !value.is_null() {
            println!("{value:#}");
        }
        return;
    }
    print!("{}", text(asked.shape, &value));
}

/// What a person reads of `value`, shown as `shape` says.
pub(super) fn text(shape: Shape, value: &Value) -> String {
    match shape {
        Shape::Rows(columns) => table(columns, value.as_array().map_or(&[][..], Vec::as_slice)),
        Shape::Page => {
            let accounts = value["accounts"].as_array().map_or(&[][..], Vec::as_slice);
            let mut text = table(ACCOUNT, accounts);
            if let Some(next) = value["next"].as_str() {
                text.push_str(&format!("more: --after {next}\n"));
            }
            text
        }
        Shape::Record => record(value),
        Shape::Usage => usage(value),
        Shape::History => {
            let days = value["days"].as_array().map_or(&[][..], Vec::as_slice);
            let zone = value["time_zone"].as_str().unwrap_or("UTC");
            let mut text = format!(
                "{} from {} to {} ({zone})\n",
                cell(&value["account"]),
                cell(&value["from"]),
                cell(&value["to"])
            );
            text.push_str(&table(&["date", "api", "admitted", "refused"], days));
            text
        }
        Shape::Shadow => {
            let mut rows = Vec::new();
            for limit in value["limits"].as_array().into_iter().flatten() {
                for account in limit["accounts"].as_array().into_iter().flatten() {
                    rows.push(serde_json::json!({
                        "limit": limit["limit"],
                        "account": account["account"],
                        "refused": account["refused"],
                    }));
                }
            }
            let mut text = format!("since {}\n", cell(&value["since"]));
            text.push_str(&table(&["limit", "account", "refused"], &rows));
            text
        }
        Shape::Ledger => {
            let rows: Vec<Value> = value
                .as_array()
                .into_iter()
                .flatten()
                .map(|row| {
                    let mut row = row.clone();
                    let refund = row["refund"].take();
                    row["price"] = money(&row["price"]);
                    row["unused_seconds"] = refund["unused_seconds"].clone();
                    row["refund"] = money(&refund["value"]);
                    row
                })
                .collect();
            table(PACKS, &rows)
        }
        Shape::Alerts => {
            let settings = [
                "url",
                "receiver",
                "limits",
                "thresholds",
                "pack_expiry_seconds",
            ];
            let mut text: String = settings
                .iter()
                .map(|field| format!("{field}: {}\n", cell(&value[field])))
                .collect();
            let deliveries = value["deliveries"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            text.push_str(&table(DELIVERIES, deliveries));
            text
        }
        Shape::Done(what) => format!("{what}\n"),
    }
}

/// An amount of money as people write it, `87.39 EUR`; `null` for none.
fn money(value: &Value) -> Value {
    match (value["amount"].as_str(), value["currency"].as_str()) {
        (Some(amount), Some(currency)) => Value::String(format!("{amount} {currency}")),
        _ => Value::Null,
    }
}

/// Prints the refusal of the API, or the status of an answer that is not one.
pub(super) fn error(answer: &Answer) {
    let value: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    match (value["code"].as_str(), value["message"].as_str()) {
        (Some(code), Some(message)) => {
            eprintln!("tollgate admin: {code}: {message} (HTTP {})", answer.status);
            for problem in value["errors"].as_array().into_iter().flatten() {
                eprintln!("  {}", cell(problem));
            }
        }
        _ => eprintln!(
            "tollgate admin: HTTP {}: {}",
            answer.status,
            answer.body.trim()
        ),
    }
}

/// A JSON value in a cell: strings bare, `null` as `-`.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `rows` under a header of `columns`, each column as wide as its widest cell.
fn table(columns: &[&str], rows: &[Value]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| columns.iter().map(|column| cell(&row[*column])).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(at, column)| {
            cells
                .iter()
                .map(|row| row[at].chars().count())
                .chain([column.len()])
                .max()
                .unwrap_or_default()
        })
        .collect();
    let line = |values: Vec<String>| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(value, width)| format!("{value:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut text = line(columns.iter().map(|column| column.to_uppercase()).collect());
    for row in cells {
        text.push_str(&line(row));
    }
    text
}

/// One object, a field a line (nested values as JSON).
fn record(value: &Value) -> String {
    let Some(fields) = value.as_object() else {
        return format!("{}\n", cell(value));
    };
    let width = fields.keys().map(String::len).max().unwrap_or_default();
    fields
        .iter()
        .map(|(name, value)| format!("{name:<width$}  {}\n", cell(value)))
        .collect()
}

/// An account's standing: its plan and pack, then a row per api and limit.
fn usage(value: &Value) -> String {
    let mut text = format!(
        "{}  plan {}  zone {}",
        cell(&value["account"]),
        cell(&value["plan"]),
        cell(&value["time_zone"])
    );
    if let Some(pack) = value["pack"].as_object() {
        let name = pack.get("name").map_or_else(|| "-".to_owned(), cell);
        let until = pack
            .get("expires_local")
            .map_or_else(|| "-".to_owned(), cell);
        text.push_str(&format!("  pack {name} until {until}"));
    }
    text.push('\n');
    let mut rows = Vec::new();
    for api in value["apis"].as_array().into_iter().flatten() {
        for limit in api["limits"].as_array().into_iter().flatten() {
            let mut row = limit.clone();
            row["api"] = api["api"].clone();
            rows.push(row);
        }
    }
    let columns = [
        "api",
        "name",
        "kind",
        "used",
        "remaining",
        "limit",
        "reset_local",
    ];
    text.push_str(&table(&columns, &rows));
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rows_line_up_under_their_header() {
        let rows = [
            json!({ "id": "acme", "plan": "basic" }),
            json!({ "id": "initech-europe", "plan": null }),
        ];
        assert_eq!(
            table(&["id", "plan"], &rows),
            "ID              PLAN\nacme            basic\ninitech-europe  -\n"
        );
    }

    #[test]
    fn a_ledger_writes_its_money_out_and_its_refund_in_two_columns() {
        let ledger = json!([
            {
                "pack": "plus", "bought_by": "billing", "bought_at": 1, "starts_at": 1,
                "expires_at": 9, "superseded_at": 2, "superseded_by": "max",
                "price": { "amount": "999.00", "currency": "CNY" },
                "refund": { "unused_seconds": 7, "value": { "amount": "777.00", "currency": "CNY" } }
            },
            {
                "pack": "max", "bought_by": "admin", "bought_at": 2, "starts_at": 2,
                "expires_at": 10, "superseded_at": null, "superseded_by": null,
                "price": null, "refund": null
            }
        ]);
        assert_eq!(
            text(Shape::Ledger, &ledger),
            "PACK  BOUGHT_BY  BOUGHT_AT  STARTS_AT  EXPIRES_AT  SUPERSEDED_AT  SUPERSEDED_BY  PRICE       UNUSED_SECONDS  REFUND\n\
             plus  billing    1          1          9           2              max            999.00 CNY  7               777.00 CNY\n\
             max   admin      2          2          10          -              -              -           -               -\n"
        );
    }

    #[test]
    fn a_page_says_how_to_ask_for_the_next() {
        let page = json!({ "accounts": [{ "id": "a", "source": "policy" }], "next": "a" });
        assert_eq!(
            text(Shape::Page, &page),
            "ID  PLAN  COMPANY  TIME_ZONE  SOURCE\na   -     -        -          policy\nmore: --after a\n"
        );
    }
}
