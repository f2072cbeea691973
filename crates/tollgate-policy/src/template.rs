//! Refusal body templates, split at their placeholders once, when the policy loads: a refusal
//! writes the pieces in turn, and a value is never searched for placeholders again (so a limit
//! named `{code}` is written as it is named).

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// `{quota}`: the limit in words, `300 per 15 minutes`.
    Quota,
    /// `{limit}`: the number per period.
    Limit,
    /// `{period}`: the period in words.
    Period,
    /// `{api}`: the api refused.
    Api,
    /// `{reset}`: when the limit is whole again, in epoch seconds.
    Reset,
    /// `{reset_at}`: the same, RFC 3339 with the offset of the account's zone (the policy's
    /// default zone for a request of no known account), to the second.
    ResetAt,
    /// `{retry_after}`: seconds until the same request would be admitted.
    RetryAfter,
    /// `{retry_in}`: the same in words, `1 second`, `3600 seconds`.
    RetryIn,
    /// `{name}`: the refusing limit's name.
    Name,
    /// `{code}`: the refusing limit's error code.
    Code,
    /// `{explanation}`: which limit refused, in which partition (header values masked), its
    /// numbers and when it is whole again, in words, escaped for the body's format.
    Explanation,
}

const FIELDS: [(&str, Field); 11] = [
    ("{quota}", Field::Quota),
    ("{limit}", Field::Limit),
    ("{period}", Field::Period),
    ("{api}", Field::Api),
    ("{reset}", Field::Reset),
    ("{reset_at}", Field::ResetAt),
    ("{retry_after}", Field::RetryAfter),
    ("{retry_in}", Field::RetryIn),
    ("{name}", Field::Name),
    ("{code}", Field::Code),
    ("{explanation}", Field::Explanation),
];

/// A template: text, with placeholders found when it was compiled. Any other `{…}` is text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    /// Each placeholder: where it stood in the text (from, to) and what it stands for.
    fields: Vec<(usize, usize, Field)>,
}

impl Template {
    /// Finds the placeholders of `text`.
    #[must_use]
    pub fn compile(text: &str) -> Self {
        let mut fields = Vec::new();
        let mut at = 0;
        while let Some(open) = text[at..].find('{').map(|offset| at + offset) {
            let found = FIELDS
                .iter()
                .find(|(placeholder, _)| text[open..].starts_with(placeholder));
            match found {
                Some(&(placeholder, field)) => {
                    fields.push((open, open + placeholder.len(), field));
                    at = open + placeholder.len();
                }
                None => at = open + 1,
            }
        }
        Self {
            text: text.to_owned(),
            fields,
        }
    }

    /// The template as written.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the template has `field`.
    #[must_use]
    pub fn uses(&self, field: Field) -> bool {
        self.fields.iter().any(|&(_, _, used)| used == field)
    }

    /// Writes the template into `out`, each placeholder as `value` writes it.
    pub fn render(&self, out: &mut String, mut value: impl FnMut(Field, &mut String)) {
        let mut at = 0;
        for &(from, to, field) in &self.fields {
            out.push_str(&self.text[at..from]);
            value(field, out);
            at = to;
        }
        out.push_str(&self.text[at..]);
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use super::*;

    #[test]
    fn placeholders_are_filled_once_and_other_braces_kept() {
        let template = Template::compile(r#"{"a":"{name}","b":{retry_after},"c":"{other}{"}"#);
        let mut out = String::new();
        template.render(&mut out, |field, out| match field {
            Field::Name => out.push_str("{code}"),
            Field::RetryAfter => {
                let _ = write!(out, "{}", 7);
            }
            _ => out.push('?'),
        });
        assert_eq!(out, r#"{"a":"{code}","b":7,"c":"{other}{"}"#);
    }
}
