//! Prometheus' text format (0.0.4): each family's `# HELP` and `# TYPE` once, then its
//! samples, label values escaped.

use std::fmt::Write;

/// A `/metrics` page being written.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts the family `name` of `kind` (`counter`, `gauge`, `histogram`).
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let _ = write!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
        self
    }

    /// One sample of the family just started: `labels` as name and value pairs.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) -> &mut Self {
        self.sample_text(name, labels, format_args!("{value}"))
    }

    /// One sample whose value is written by `value` (a float, for a histogram's sum).
    pub fn sample_text(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: std::fmt::Arguments<'_>,
    ) -> &mut Self {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (at, (label, text)) in labels.iter().enumerate() {
                if at > 0 {
                    self.text.push(',');
                }
                self.text.push_str(label);
                self.text.push_str("=\"");
                escape(&mut self.text, text);
                self.text.push('"');
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
        self
    }

    /// A family of one sample with no labels.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, value: u64) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }

    /// The page.
    pub fn into_text(self) -> String {
        self.text
    }
}

/// A label value as the text format quotes it: backslash, double quote and newline escaped.
fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_escaped_labels() {
        let mut page = Exposition::default();
        page.family("x_total", "counter", "Xs.")
            .sample("x_total", &[("limit", "a\"b\\c\nd")], 3);
        page.single("y", "gauge", "Y.", 1);
        assert_eq!(
            page.into_text(),
            "# HELP x_total Xs.\n# TYPE x_total counter\nx_total{limit=\"a\\\"b\\\\c\\nd\"} 3\n\
             # HELP y Y.\n# TYPE y gauge\ny 1\n"
        );
    }
}
