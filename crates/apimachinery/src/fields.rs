//! Field selectors: parsing and matching against an object's selectable fields.
//!
//! A port of `k8s.io/apimachinery/pkg/fields`: [`parse`] reads the syntax of `?fieldSelector=`
//! (`metadata.name=web,status.phase!=Running`, with `=`, `==` and `!=` terms separated by
//! commas; values escape `\`, `,` and `=` with a backslash) and [`FieldSelector::matches`]
//! evaluates it against an object through a lookup function such as [`json_field`]. A field
//! missing from the object reads as the empty string, so `spec.nodeName=` selects unscheduled
//! pods.
//!
//! Which fields a kind supports is the caller's business: check [`FieldSelector::requirements`]
//! (or use [`FieldSelector::transform`]) and reject others with [`FieldLabelError`].

use std::fmt;

use serde_json::Value;

use crate::validation::quote;

/// Why a field selector could not be parsed; messages are upstream's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A term has no operator, e.g. `invalid selector: 'a'; can't understand 'a'`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    Syntax {
        /// The whole selector.
        selector: String,
        /// The term that could not be split.
        term: String,
    },
    /// A value holds a backslash not followed by `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscapeSequence(String),
    /// A value holds an unescaped `,` or `=`; upstream prints the character's code point.
    #[error("invalid field selector: unescaped character in value: {}", code_point(.0))]
    UnescapedRune(char),
}

fn code_point(c: &char) -> u32 {
    *c as u32
}

/// Why a field of a selector is refused for a kind; messages are upstream's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldLabelError {
    /// The message of the per-kind conversion functions: `field label not supported: x`.
    #[error("field label not supported: {0}")]
    NotSupported(String),
    /// The message of the default conversion (kinds selectable by name and namespace only).
    #[error(
        "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        quote(.0)
    )]
    NotKnown(String),
}

/// The operator of a field requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

/// One term of a field selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    /// The field path, e.g. `status.phase`.
    pub field: String,
    /// The operator.
    pub operator: Operator,
    /// The unescaped value.
    pub value: String,
}

impl Requirement {
    /// Whether the term holds given the object's value of the field (`None` reads as `""`).
    pub fn matches_value(&self, actual: Option<&str>) -> bool {
        let actual = actual.unwrap_or("");
        match self.operator {
            Operator::Equals => actual == self.value,
            Operator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_value(&self.value))
    }
}

/// A field selector: the conjunction of its terms. The empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    requirements: Vec<Requirement>,
}

/// Parses a field selector; the empty string selects everything.
pub fn parse(s: &str) -> Result<FieldSelector, ParseError> {
    FieldSelector::parse(s)
}

impl FieldSelector {
    /// The selector that matches everything.
    pub fn everything() -> FieldSelector {
        FieldSelector::default()
    }

    /// The selector `field=value`.
    pub fn one_term_equal(field: impl Into<String>, value: impl Into<String>) -> FieldSelector {
        FieldSelector {
            requirements: vec![Requirement {
                field: field.into(),
                operator: Operator::Equals,
                value: value.into(),
            }],
        }
    }

    /// Parses a field selector (upstream `fields.ParseSelector`); terms are sorted.
    pub fn parse(selector: &str) -> Result<FieldSelector, ParseError> {
        let mut terms = split_terms(selector);
        terms.sort();
        let mut requirements = Vec::new();
        for term in terms {
            if term.is_empty() {
                continue;
            }
            let Some((field, operator, raw)) = split_term(term) else {
                return Err(ParseError::Syntax {
                    selector: selector.to_string(),
                    term: term.to_string(),
                });
            };
            requirements.push(Requirement {
                field: field.to_string(),
                operator,
                value: unescape_value(raw)?,
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// The terms, in the (sorted) order of the parsed string; callers check the fields against
    /// those supported by the kind.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether the selector has no term, i.e. matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The value the selector requires `field` to have, if a `=` term pins one.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == Operator::Equals)
            .map(|r| r.value.as_str())
    }

    /// Rewrites every term with `f(field, value) -> (field, value)`, stopping at the first
    /// error; upstream uses this to map legacy field names and refuse unsupported ones.
    pub fn transform<E>(
        &self,
        f: impl Fn(&str, &str) -> Result<(String, String), E>,
    ) -> Result<FieldSelector, E> {
        let mut requirements = Vec::with_capacity(self.requirements.len());
        for r in &self.requirements {
            let (field, value) = f(&r.field, &r.value)?;
            requirements.push(Requirement {
                field,
                operator: r.operator,
                value,
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// The first field not in `supported`, as the error upstream's per-kind conversion gives.
    pub fn check_supported(&self, supported: &[&str]) -> Result<(), FieldLabelError> {
        match self
            .requirements
            .iter()
            .find(|r| !supported.contains(&r.field.as_str()))
        {
            Some(r) => Err(FieldLabelError::NotSupported(r.field.clone())),
            None => Ok(()),
        }
    }

    /// Whether every term holds; `get` returns the object's value of a field path such as
    /// `metadata.name`, `status.phase`, `spec.nodeName` or `involvedObject.uid` (`None` reads
    /// as `""`).
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements
            .iter()
            .all(|r| r.matches_value(get(&r.field).as_deref()))
    }

    /// Whether every term holds for a JSON object, resolving fields with [`json_field`].
    pub fn matches_json(&self, obj: &Value) -> bool {
        self.matches(|path| json_field(obj, path))
    }
}

impl fmt::Display for FieldSelector {
    /// The string form with escaped values, e.g. `metadata.name=a\,b,status.phase!=Running`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldSelector {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<FieldSelector, ParseError> {
        FieldSelector::parse(s)
    }
}

/// The default field-label conversion of upstream: only `metadata.name` and
/// `metadata.namespace` are selectable.
pub fn default_meta_field_conversion(
    label: &str,
    value: &str,
) -> Result<(String, String), FieldLabelError> {
    match label {
        "metadata.name" | "metadata.namespace" => Ok((label.to_string(), value.to_string())),
        _ => Err(FieldLabelError::NotKnown(label.to_string())),
    }
}

/// Escapes `\`, `,` and `=` in a value with a backslash (upstream `EscapeValue`).
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reverses [`escape_value`]; unknown escapes and unescaped `,` or `=` are errors (upstream
/// `UnescapeValue`).
pub fn unescape_value(s: &str) -> Result<String, ParseError> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => return Err(ParseError::InvalidEscapeSequence(format!("\\{c}"))),
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => return Err(ParseError::UnescapedRune(c)),
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err(ParseError::InvalidEscapeSequence("\\".to_string()));
    }
    Ok(out)
}

/// Splits on commas not escaped by a backslash (the backslash is kept).
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in selector.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at the first operator (`!=`, `==`, `=`, tried in this order at each
/// position); the value is returned raw (still escaped).
fn split_term(term: &str) -> Option<(&str, Operator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, operator) in [
            ("!=", Operator::NotEquals),
            ("==", Operator::Equals),
            ("=", Operator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}

/// Resolves a dotted field path (`metadata.name`, `status.phase`) in a JSON object and renders
/// the value as a string: strings as is, booleans and numbers in their JSON form. Missing
/// fields, `null`, objects and arrays give `None`.
pub fn json_field(obj: &Value, path: &str) -> Option<String> {
    let mut current = obj;
    for segment in path.split('.') {
        current = current.as_object()?.get(segment)?;
    }
    match current {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
