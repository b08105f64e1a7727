//! Validation helpers: field paths, error lists and the name and label validators of upstream.
//!
//! This module mirrors three upstream packages:
//!
//! * `k8s.io/apimachinery/pkg/util/validation/field`: [`Path`], [`ErrorType`], [`FieldError`]
//!   and [`ErrorList`], whose messages reproduce `field.Error.Error()` / `ErrorBody()` byte for
//!   byte (e.g. `spec.replicas: Invalid value: -1: must be greater than or equal to 0`);
//! * `k8s.io/apimachinery/pkg/util/validation`: the string validators (`is_dns1123_subdomain`,
//!   `is_qualified_name`, ...), which return upstream's exact messages;
//! * `k8s.io/apimachinery/pkg/api/validation` (and `apis/meta/v1/validation`): `ObjectMeta`,
//!   label, annotation and label-selector validation.
//!
//! It also holds the parser of resource quantities ([`parse_quantity`], [`Quantity`]), which
//! follows `k8s.io/apimachinery/pkg/api/resource`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ManagedFieldsEntry, ObjectMeta, OwnerReference,
};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Field paths
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Element {
    Name(String),
    Subscript(String),
}

/// A path to a field of an object, rendered like upstream's `field.Path`:
/// `spec.template.spec.containers[0].image`, `metadata.labels[app]`.
///
/// Builders take `&self` and return a new path, so a parent can be reused for many children.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Path {
    elements: Vec<Element>,
}

impl Path {
    /// A root path with one name, e.g. `Path::new("metadata")`.
    pub fn new(name: impl Into<String>) -> Path {
        Path {
            elements: vec![Element::Name(name.into())],
        }
    }

    /// The empty path, rendered as `""`; children of it render without a leading dot.
    pub fn root() -> Path {
        Path::default()
    }

    /// This path extended with a field name: `metadata` → `metadata.name`.
    pub fn child(&self, name: impl Into<String>) -> Path {
        let mut p = self.clone();
        p.elements.push(Element::Name(name.into()));
        p
    }

    /// This path extended with a list index: `containers` → `containers[0]`.
    pub fn index(&self, index: usize) -> Path {
        let mut p = self.clone();
        p.elements.push(Element::Subscript(index.to_string()));
        p
    }

    /// This path extended with a map key: `labels` → `labels[app]`.
    pub fn key(&self, key: impl Into<String>) -> Path {
        let mut p = self.clone();
        p.elements.push(Element::Subscript(key.into()));
        p
    }

    /// Whether the path has no elements.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, element) in self.elements.iter().enumerate() {
            match element {
                Element::Name(name) if !name.is_empty() => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(name)?;
                }
                Element::Name(_) => f.write_str("[]")?,
                Element::Subscript(s) => write!(f, "[{s}]")?,
            }
        }
        Ok(())
    }
}

impl From<&Path> for Path {
    fn from(p: &Path) -> Path {
        p.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Field errors
// ---------------------------------------------------------------------------------------------

/// Why a field is invalid; matches upstream's `field.ErrorType` one to one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// A requested value could not be found (`FieldValueNotFound`).
    NotFound,
    /// A required value is missing (`FieldValueRequired`).
    Required,
    /// A value that must be unique is repeated (`FieldValueDuplicate`).
    Duplicate,
    /// A value is malformed (`FieldValueInvalid`).
    Invalid,
    /// A value is not one of an enumeration (`FieldValueNotSupported`).
    NotSupported,
    /// A value is not permitted in the current conditions (`FieldValueForbidden`).
    Forbidden,
    /// A value is too long (`FieldValueTooLong`).
    TooLong,
    /// A list has too many items (`FieldValueTooMany`).
    TooMany,
    /// An error unrelated to user input (`InternalError`).
    Internal,
    /// A value does not match the schema type (`FieldValueTypeInvalid`).
    TypeInvalid,
}

impl ErrorType {
    /// The machine-readable reason used as `Status.details.causes[].reason`.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human-readable text that starts an error body, e.g. `Invalid value`.
    pub fn text(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
            ErrorType::TypeInvalid => "Invalid value",
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// A field-level validation error, upstream's `field.Error`.
///
/// `Display` (and [`FieldError::message`]) give upstream's `Error()`:
/// `<field>: <body>`; [`FieldError::body`] gives `ErrorBody()`, used as the message of
/// `Status` causes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", self.field, self.body())]
pub struct FieldError {
    /// The kind of error.
    pub kind: ErrorType,
    /// The rendered path of the field, e.g. `spec.containers[0].image`.
    pub field: String,
    /// The offending value; `None` when upstream omits it from the message.
    pub value: Option<Value>,
    /// Extra detail appended to the message; may be empty.
    pub detail: String,
}

/// A list of field errors; empty means valid.
pub type ErrorList = Vec<FieldError>;

impl FieldError {
    fn new(kind: ErrorType, path: &Path, value: Option<Value>, detail: impl Into<String>) -> Self {
        FieldError {
            kind,
            field: path.to_string(),
            value,
            detail: detail.into(),
        }
    }

    /// `Required value`: a value that must be present is missing.
    pub fn required(path: &Path, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, path, None, detail)
    }

    /// `Invalid value: <value>: <detail>`.
    pub fn invalid(path: &Path, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, path, Some(value.into()), detail)
    }

    /// `Unsupported value: <value>: supported values: "a", "b"`.
    pub fn not_supported(path: &Path, value: impl Into<Value>, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, path, Some(value.into()), detail)
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(path: &Path, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Forbidden, path, None, detail)
    }

    /// `Duplicate value: <value>`.
    pub fn duplicate(path: &Path, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::Duplicate, path, Some(value.into()), "")
    }

    /// `Not found: <value>`.
    pub fn not_found(path: &Path, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::NotFound, path, Some(value.into()), "")
    }

    /// `Too long: may not be more than <n> bytes`; the value itself is never shown.
    pub fn too_long(path: &Path, max_length: usize) -> Self {
        let unit = if max_length == 1 { "byte" } else { "bytes" };
        Self::new(
            ErrorType::TooLong,
            path,
            None,
            format!("may not be more than {max_length} {unit}"),
        )
    }

    /// `Too many: <actual>: must have at most <n> items`; `actual` is omitted when `None`.
    pub fn too_many(path: &Path, actual: Option<usize>, max: usize) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        Self::new(
            ErrorType::TooMany,
            path,
            actual.map(Value::from),
            format!("must have at most {max} {unit}"),
        )
    }

    /// `Internal error: <error>`.
    pub fn internal(path: &Path, error: impl fmt::Display) -> Self {
        Self::new(ErrorType::Internal, path, None, error.to_string())
    }

    /// `Invalid value: <value>: <detail>` with reason `FieldValueTypeInvalid`.
    pub fn type_invalid(path: &Path, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::TypeInvalid, path, Some(value.into()), detail)
    }

    /// Upstream's `ErrorBody()`: the message without the field name, e.g.
    /// `Invalid value: "Foo": <detail>`.
    pub fn body(&self) -> String {
        let mut s = String::from(self.kind.text());
        match self.kind {
            ErrorType::Required
            | ErrorType::Forbidden
            | ErrorType::TooLong
            | ErrorType::Internal => {}
            _ => {
                if let Some(value) = &self.value {
                    s.push_str(": ");
                    s.push_str(&render_value(value));
                }
            }
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// Upstream's `Error()`: `<field>: <body>`, e.g.
    /// `spec.containers[0].image: Required value`.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// The message of a list of errors as upstream's `ErrorList.ToAggregate().Error()` renders it:
/// duplicates removed, a single message as is, several as `[a, b]`. `None` when the list is
/// empty.
pub fn aggregate_message(errors: &[FieldError]) -> Option<String> {
    let mut seen = BTreeSet::new();
    let mut messages = Vec::new();
    for e in errors {
        let m = e.to_string();
        if seen.insert(m.clone()) {
            messages.push(m);
        }
    }
    match messages.len() {
        0 => None,
        1 => messages.pop(),
        _ => Some(format!("[{}]", messages.join(", "))),
    }
}

/// Renders a bad value as upstream does: strings Go-quoted, numbers and booleans plainly,
/// everything else as (Go-flavoured) JSON.
fn render_value(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => go_json(other),
    }
}

/// Quotes a string like Go's `strconv.Quote` (`%q`): double quotes, backslash escapes for
/// quotes, backslashes and non-printable characters; printable Unicode is kept as is.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: graphic characters and the ASCII space.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e000}'..='\u{f8ff}'
            | '\u{f0000}'..
    )
}

/// Serializes a JSON value like Go's `encoding/json` (HTML-safe string escaping).
fn go_json(value: &Value) -> String {
    fn string(out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                }
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    fn write(out: &mut String, value: &Value) {
        match value {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::String(s) => string(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(out, item);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    string(out, k);
                    out.push(':');
                    write(out, v);
                }
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    write(&mut out, value);
    out
}

// ---------------------------------------------------------------------------------------------
// String validators (k8s.io/apimachinery/pkg/util/validation)
// ---------------------------------------------------------------------------------------------

/// Max length of a DNS-1123 label.
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Max length of a DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Max length of a DNS-1035 label.
pub const DNS1035_LABEL_MAX_LENGTH: usize = 63;
/// Max length of a label value.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Max length of the name part of a qualified name.
pub const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
/// Max total size of `metadata.annotations` (keys plus values), 256 KiB.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
/// Upstream's message for changes to immutable fields.
pub const FIELD_IMMUTABLE_ERROR_MSG: &str = "field is immutable";
/// Upstream's message for negative values of non-negative fields.
pub const IS_NEGATIVE_ERROR_MSG: &str = "must be greater than or equal to 0";
/// Upstream's message for non-integer values of integer resources.
pub const IS_NOT_INTEGER_ERROR_MSG: &str = "must be an integer";

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const C_IDENTIFIER_FMT: &str = "[A-Za-z_][A-Za-z0-9_]*";
const C_IDENTIFIER_ERR_MSG: &str = "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_'";
const ENV_VAR_NAME_FMT: &str = "[-._a-zA-Z][-._a-zA-Z0-9]*";
const ENV_VAR_NAME_ERR_MSG: &str = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit";
const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_MAP_KEY_ERR_MSG: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const PERCENT_FMT: &str = "[0-9]+%";
const PERCENT_ERR_MSG: &str =
    "a valid percent string must be a numeric string followed by an ending '%'";
const HTTP_HEADER_NAME_FMT: &str = "[-A-Za-z0-9]+";
const HTTP_HEADER_NAME_ERR_MSG: &str =
    "a valid HTTP header must consist of alphanumeric characters or '-'";

/// Upstream's `MaxLenError`: `must be no more than <n> characters`.
pub fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// Upstream's `RegexError`: the message, examples and the regex used for validation.
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push('\'');
        s.push_str(example);
        s.push_str("', ");
    }
    s.push_str("regex used for validation is '");
    s.push_str(fmt);
    s.push_str("')");
    s
}

/// Upstream's `EmptyError`: `must be non-empty`.
pub fn empty_error() -> &'static str {
    "must be non-empty"
}

/// Upstream's `InclusiveRangeError`: `must be between <lo> and <hi>, inclusive`.
pub fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`
fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn matches_qualified_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Whether `value` is a DNS-1123 label (RFC 1123), at most 63 characters; returns upstream's
/// messages, empty when valid.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// Whether `value` is a DNS-1123 subdomain, at most 253 characters; returns upstream's
/// messages, empty when valid.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Whether `value` is a DNS-1035 label (starts with a letter), at most 63 characters.
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1035_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1035_LABEL_MAX_LENGTH));
    }
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_lowercase()
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-');
    if !ok {
        errs.push(regex_error(
            DNS1035_LABEL_ERR_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Whether `value` is a qualified name (the syntax of label and annotation keys): a name of at
/// most 63 characters with an optional DNS-subdomain prefix and `/`.
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push(format!("prefix part {}", empty_error()));
            } else {
                for msg in is_dns1123_subdomain(prefix) {
                    errs.push(format!("prefix part {msg}"));
                }
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {}", empty_error()));
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(QUALIFIED_NAME_MAX_LENGTH)
        ));
    }
    if !matches_qualified_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Whether `value` is a valid label value: empty, or a qualified name part of at most 63
/// characters.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_qualified_name(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Whether `value` is a C identifier (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_c_identifier(value: &str) -> Vec<String> {
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_');
    if ok {
        Vec::new()
    } else {
        vec![regex_error(
            C_IDENTIFIER_ERR_MSG,
            C_IDENTIFIER_FMT,
            &["my_name", "MY_NAME", "MyName"],
        )]
    }
}

fn has_chdir_prefix(value: &str) -> Vec<String> {
    if value == "." {
        vec!["must not be '.'".to_string()]
    } else if value == ".." {
        vec!["must not be '..'".to_string()]
    } else if value.starts_with("..") {
        vec!["must not start with '..'".to_string()]
    } else {
        Vec::new()
    }
}

/// Whether `value` is a valid environment variable name (`[-._a-zA-Z][-._a-zA-Z0-9]*`, not
/// `.`/`..`).
pub fn is_env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && !b[0].is_ascii_digit()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    if !ok {
        errs.push(regex_error(
            ENV_VAR_NAME_ERR_MSG,
            ENV_VAR_NAME_FMT,
            &["my.env-name", "MY_ENV.NAME", "MyEnvName1"],
        ));
    }
    errs.extend(has_chdir_prefix(value));
    errs
}

/// Whether `value` is a valid key of a ConfigMap or Secret.
pub fn is_config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    if !ok {
        errs.push(regex_error(
            CONFIG_MAP_KEY_ERR_MSG,
            CONFIG_MAP_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    errs.extend(has_chdir_prefix(value));
    errs
}

/// Whether `port` is a valid, non-zero port number.
pub fn is_valid_port_num(port: i64) -> Vec<String> {
    is_in_range(port, 1, 65535)
}

/// Whether `value` lies in `[min, max]`.
pub fn is_in_range(value: i64, min: i64, max: i64) -> Vec<String> {
    if (min..=max).contains(&value) {
        Vec::new()
    } else {
        vec![inclusive_range_error(min, max)]
    }
}

/// Whether `port` is a valid port name (IANA_SVC_NAME): 1 to 15 characters of `[-a-z0-9]`, at
/// least one letter, no leading, trailing or consecutive hyphens.
pub fn is_valid_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_error(15));
    }
    if port.is_empty() || !port.bytes().all(|c| is_lower_alnum(c) || c == b'-') {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !port.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// Whether `value` is a percentage string (`[0-9]+%`).
pub fn is_valid_percent(value: &str) -> Vec<String> {
    let ok = value
        .strip_suffix('%')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()));
    if ok {
        Vec::new()
    } else {
        vec![regex_error(PERCENT_ERR_MSG, PERCENT_FMT, &["1%", "93%"])]
    }
}

/// Whether `value` is an HTTP header name (`[-A-Za-z0-9]+`).
pub fn is_http_header_name(value: &str) -> Vec<String> {
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-');
    if ok {
        Vec::new()
    } else {
        vec![regex_error(
            HTTP_HEADER_NAME_ERR_MSG,
            HTTP_HEADER_NAME_FMT,
            &["X-Header-Name"],
        )]
    }
}

/// Whether `name` can be a path segment: not `.` or `..`, no `/` or `%`.
pub fn is_valid_path_segment_name(name: &str) -> Vec<String> {
    for illegal in [".", ".."] {
        if name == illegal {
            return vec![format!("may not be '{illegal}'")];
        }
    }
    ["/", "%"]
        .iter()
        .filter(|c| name.contains(*c))
        .map(|c| format!("may not contain '{c}'"))
        .collect()
}

/// Parses an IP address like Go's `netutils.ParseIPSloppy`: IPv4 octets may have leading
/// zeros (read as decimal).
pub fn parse_ip_sloppy(value: &str) -> Option<std::net::IpAddr> {
    if let Ok(ip) = value.parse::<std::net::IpAddr>() {
        return Some(ip);
    }
    if value.contains(':') {
        return None;
    }
    let parts: Vec<&str> = value.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        octets[i] = part.parse::<u16>().ok().filter(|n| *n <= 255)? as u8;
    }
    Some(std::net::IpAddr::from(octets))
}

/// Whether `value` is an IP address (sloppy parsing, like upstream).
pub fn is_valid_ip(value: &str) -> Vec<String> {
    if parse_ip_sloppy(value).is_some() {
        Vec::new()
    } else {
        vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".to_string()]
    }
}

/// Whether `value` is an IPv4 address.
pub fn is_valid_ipv4_address(value: &str) -> Vec<String> {
    match parse_ip_sloppy(value) {
        Some(std::net::IpAddr::V4(_)) => Vec::new(),
        Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => Vec::new(),
        _ => vec!["must be a valid IPv4 address".to_string()],
    }
}

/// Whether `value` is an IPv6 address.
pub fn is_valid_ipv6_address(value: &str) -> Vec<String> {
    match parse_ip_sloppy(value) {
        Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => Vec::new(),
        _ => vec!["must be a valid IPv6 address".to_string()],
    }
}

/// Whether `value` is a CIDR (`10.9.8.0/24`, `2001:db8::/64`), sloppy like upstream.
pub fn is_valid_cidr(value: &str) -> Vec<String> {
    let ok = value.split_once('/').is_some_and(|(ip, bits)| {
        let max = match parse_ip_sloppy(ip) {
            Some(std::net::IpAddr::V4(_)) => 32,
            Some(std::net::IpAddr::V6(_)) => 128,
            None => return false,
        };
        !bits.is_empty()
            && bits.bytes().all(|c| c.is_ascii_digit())
            && bits.parse::<u32>().is_ok_and(|n| n <= max)
    });
    if ok {
        Vec::new()
    } else {
        vec!["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)".to_string()]
    }
}

/// Masks a trailing dash of a name prefix (`generateName`), as upstream does before validating
/// it as a name.
pub fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        format!("{}a", &name[..name.len() - 1])
    } else {
        name.to_string()
    }
}

/// Name validator for most resources: a DNS-1123 subdomain.
pub fn name_is_dns_subdomain(name: &str) -> Vec<String> {
    is_dns1123_subdomain(name)
}

/// Name validator for resources named by DNS-1123 labels (namespaces, ...).
pub fn name_is_dns_label(name: &str) -> Vec<String> {
    is_dns1123_label(name)
}

/// Name validator for resources named by DNS-1035 labels (services, ...).
pub fn name_is_dns1035_label(name: &str) -> Vec<String> {
    is_dns1035_label(name)
}

/// Name validator for namespaces.
pub fn validate_namespace_name(name: &str) -> Vec<String> {
    is_dns1123_label(name)
}

// ---------------------------------------------------------------------------------------------
// Field validators (k8s.io/apimachinery/pkg/api/validation, apis/meta/v1/validation)
// ---------------------------------------------------------------------------------------------

/// `Invalid value: <v>: must be greater than or equal to 0` when `value` is negative.
pub fn validate_nonnegative_field(value: i64, path: &Path) -> ErrorList {
    if value < 0 {
        vec![FieldError::invalid(path, value, IS_NEGATIVE_ERROR_MSG)]
    } else {
        Vec::new()
    }
}

/// Validates a JSON value holding an `IntOrString` that must be a non-negative integer or a
/// percentage (`maxSurge`, `maxUnavailable`, ...).
pub fn validate_positive_int_or_percent(value: &Value, path: &Path) -> ErrorList {
    match value {
        Value::String(s) => is_valid_percent(s)
            .into_iter()
            .map(|msg| FieldError::invalid(path, s.as_str(), msg))
            .collect(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => validate_nonnegative_field(i, path),
            None => vec![FieldError::invalid(
                path,
                value.clone(),
                "must be an integer or percentage (e.g '5%')",
            )],
        },
        _ => vec![FieldError::invalid(
            path,
            value.clone(),
            "must be an integer or percentage (e.g '5%')",
        )],
    }
}

/// Validates that `new` equals `old` (missing/`null`, empty lists and empty maps count as
/// equal); otherwise `Invalid value: <new>: field is immutable`.
pub fn validate_immutable_field(new: &Value, old: &Value, path: &Path) -> ErrorList {
    if semantic_eq(new, old) {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            path,
            new.clone(),
            FIELD_IMMUTABLE_ERROR_MSG,
        )]
    }
}

fn is_nullish(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Deep equality in the spirit of upstream's `equality.Semantic.DeepEqual` on decoded objects:
/// a missing field equals `null`, and `null`, `[]` and `{}` are interchangeable.
pub fn semantic_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.iter()
                .all(|(k, v)| semantic_eq(v, y.get(k).unwrap_or(&Value::Null)))
                && y.iter()
                    .filter(|(k, _)| !x.contains_key(*k))
                    .all(|(_, v)| is_nullish(v))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| semantic_eq(a, b))
        }
        (a, b) if is_nullish(a) && is_nullish(b) => true,
        (a, b) => a == b,
    }
}

/// Validates a label key (`metadata.labels` keys, selector keys).
pub fn validate_label_name(name: &str, path: &Path) -> ErrorList {
    is_qualified_name(name)
        .into_iter()
        .map(|msg| FieldError::invalid(path, name, msg))
        .collect()
}

/// Validates a set of labels: keys are qualified names, values label values. Errors carry the
/// path of the whole map, like upstream.
pub fn validate_labels(labels: &BTreeMap<String, String>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (k, v) in labels {
        errs.extend(validate_label_name(k, path));
        for msg in is_valid_label_value(v) {
            errs.push(FieldError::invalid(path, v.as_str(), msg));
        }
    }
    errs
}

/// Validates a set of annotations: keys are qualified names (case-insensitively) and the total
/// size of keys and values is at most 256 KiB.
pub fn validate_annotations(annotations: &BTreeMap<String, String>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (k, v) in annotations {
        for msg in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

fn owner_reference_json(r: &OwnerReference) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("apiVersion".into(), r.api_version.clone().into());
    m.insert("kind".into(), r.kind.clone().into());
    m.insert("name".into(), r.name.clone().into());
    m.insert("uid".into(), r.uid.clone().into());
    if let Some(c) = r.controller {
        m.insert("controller".into(), c.into());
    }
    if let Some(b) = r.block_owner_deletion {
        m.insert("blockOwnerDeletion".into(), b.into());
    }
    Value::Object(m)
}

/// Validates `metadata.ownerReferences`: apiVersion, kind, name and uid set; events cannot own;
/// at most one controller.
pub fn validate_owner_references(refs: &[OwnerReference], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in refs {
        // schema.ParseGroupVersion: more than one '/' gives an empty group and version.
        let (group, version) = match r.api_version.matches('/').count() {
            0 => ("", r.api_version.as_str()),
            1 => r.api_version.split_once('/').unwrap_or_default(),
            _ => ("", ""),
        };
        if version.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("apiVersion"),
                r.api_version.as_str(),
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("kind"),
                r.kind.as_str(),
                "must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("name"),
                r.name.as_str(),
                "must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("uid"),
                r.uid.as_str(),
                "must not be empty",
            ));
        }
        if group.is_empty() && version == "v1" && r.kind == "Event" {
            errs.push(FieldError::invalid(
                path,
                owner_reference_json(r),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let current = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    Value::Array(refs.iter().map(owner_reference_json).collect()),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

/// Validates `metadata.finalizers`: qualified names, and not both `orphan` and
/// `foregroundDeletion`.
pub fn validate_finalizers(finalizers: &[String], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for f in finalizers {
        for msg in is_qualified_name(f) {
            errs.push(FieldError::invalid(path, f.as_str(), msg));
        }
    }
    if finalizers.iter().any(|f| f == "orphan")
        && finalizers.iter().any(|f| f == "foregroundDeletion")
    {
        errs.push(FieldError::invalid(
            path,
            Value::from(finalizers.to_vec()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// Validates a field manager name: at most 128 bytes of printable characters.
pub fn validate_field_manager(manager: &str, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if manager.len() > 128 {
        errs.push(FieldError::too_long(path, 128));
    }
    for (i, c) in manager.char_indices() {
        if !is_go_printable(c) {
            errs.push(FieldError::invalid(
                path,
                manager,
                format!("invalid character U+{:04X} (at position {i})", c as u32),
            ));
        }
    }
    errs
}

/// Validates `metadata.managedFields`.
pub fn validate_managed_fields(entries: &[ManagedFieldsEntry], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let p = path.index(i);
        let operation = entry.operation.as_deref().unwrap_or("");
        if operation != "Apply" && operation != "Update" {
            errs.push(FieldError::invalid(
                &p.child("operation"),
                operation,
                "must be `Apply` or `Update`",
            ));
        }
        let fields_type = entry.fields_type.as_deref().unwrap_or("");
        if !fields_type.is_empty() && fields_type != "FieldsV1" {
            errs.push(FieldError::invalid(
                &p.child("fieldsType"),
                fields_type,
                "must be `FieldsV1`",
            ));
        }
        errs.extend(validate_field_manager(
            entry.manager.as_deref().unwrap_or(""),
            &p.child("manager"),
        ));
        if entry.subresource.as_deref().unwrap_or("").len() > 256 {
            errs.push(FieldError::too_long(&p.child("subresource"), 256));
        }
    }
    errs
}

/// Validates a `LabelSelector` of an object's spec (`spec.selector`): keys, operators and
/// values of `matchLabels` and `matchExpressions`.
pub fn validate_label_selector(selector: &LabelSelector, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if let Some(labels) = &selector.match_labels {
        errs.extend(validate_labels(labels, &path.child("matchLabels")));
    }
    for (i, expr) in selector.match_expressions.iter().flatten().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let values = expr.values.as_deref().unwrap_or_default();
        match expr.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        &p.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        &p.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            op => errs.push(FieldError::invalid(
                &p.child("operator"),
                op,
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_label_name(&expr.key, &p.child("key")));
        for (j, v) in values.iter().enumerate() {
            for msg in is_valid_label_value(v) {
                errs.push(FieldError::invalid(
                    &p.child("values").index(j),
                    v.as_str(),
                    msg,
                ));
            }
        }
    }
    errs
}

fn time_value(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Value {
    t.and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or(Value::Null)
}

/// Validates an object's metadata on creation (upstream `ValidateObjectMeta`), expecting name
/// generation to have happened already.
///
/// * `name` is required (`name or generateName is required`) and checked with `name_fn`;
///   `generateName`, when set, is checked with `name_fn` after masking its trailing dash;
/// * `namespace` is required and a DNS label for namespaced kinds, forbidden
///   (`not allowed on this type`) for cluster-scoped ones;
/// * `generation` is non-negative; labels, annotations, owner references, finalizers and
///   managed fields are validated.
pub fn validate_object_meta(
    meta: &ObjectMeta,
    namespaced: bool,
    name_fn: impl Fn(&str) -> Vec<String>,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let generate_name = meta.generate_name.as_deref().unwrap_or("");
    if !generate_name.is_empty() {
        for msg in name_fn(&mask_trailing_dash(generate_name)) {
            errs.push(FieldError::invalid(
                &path.child("generateName"),
                generate_name,
                msg,
            ));
        }
    }
    let name = meta.name.as_deref().unwrap_or("");
    if name.is_empty() {
        errs.push(FieldError::required(
            &path.child("name"),
            "name or generateName is required",
        ));
    } else {
        for msg in name_fn(name) {
            errs.push(FieldError::invalid(&path.child("name"), name, msg));
        }
    }
    let namespace = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(&path.child("namespace"), ""));
        } else {
            for msg in validate_namespace_name(namespace) {
                errs.push(FieldError::invalid(
                    &path.child("namespace"),
                    namespace,
                    msg,
                ));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("namespace"),
            "not allowed on this type",
        ));
    }
    errs.extend(validate_nonnegative_field(
        meta.generation.unwrap_or(0),
        &path.child("generation"),
    ));
    errs.extend(common_meta(meta, path));
    errs.extend(validate_finalizers(
        meta.finalizers.as_deref().unwrap_or_default(),
        &path.child("finalizers"),
    ));
    errs.extend(validate_managed_fields(
        meta.managed_fields.as_deref().unwrap_or_default(),
        &path.child("managedFields"),
    ));
    errs
}

fn common_meta(meta: &ObjectMeta, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if let Some(labels) = &meta.labels {
        errs.extend(validate_labels(labels, &path.child("labels")));
    }
    if let Some(annotations) = &meta.annotations {
        errs.extend(validate_annotations(
            annotations,
            &path.child("annotations"),
        ));
    }
    errs.extend(validate_owner_references(
        meta.owner_references.as_deref().unwrap_or_default(),
        &path.child("ownerReferences"),
    ));
    errs
}

/// Validates an object's metadata on update (upstream `ValidateObjectMetaUpdate`).
///
/// `name`, `namespace`, `uid`, `creationTimestamp`, `deletionTimestamp` and
/// `deletionGracePeriodSeconds` are immutable (`field is immutable`); `resourceVersion` must be
/// set (callers doing an unconditional update fill it in from the stored object first, as
/// upstream does); `generation` must not decrease; no finalizer may be added once the object
/// is being deleted; labels, annotations, owner references and managed fields are validated.
pub fn validate_object_meta_update(new: &ObjectMeta, old: &ObjectMeta, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if old.deletion_timestamp.is_some() {
        let old_finalizers: BTreeSet<&String> = old.finalizers.iter().flatten().collect();
        let extra: BTreeSet<&String> = new
            .finalizers
            .iter()
            .flatten()
            .filter(|f| !old_finalizers.contains(f))
            .collect();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|f| quote(f)).collect();
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    list.join(", ")
                ),
            ));
        }
    }
    let rv = new.resource_version.as_deref().unwrap_or("");
    if rv.is_empty() {
        errs.push(FieldError::invalid(
            &path.child("resourceVersion"),
            rv,
            "must be specified for an update",
        ));
    }
    let (new_gen, old_gen) = (new.generation.unwrap_or(0), old.generation.unwrap_or(0));
    if new_gen < old_gen {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            new_gen,
            "must not be decremented",
        ));
    }
    let s = |v: &Option<String>| Value::from(v.clone().unwrap_or_default());
    errs.extend(validate_immutable_field(
        &s(&new.name),
        &s(&old.name),
        &path.child("name"),
    ));
    errs.extend(validate_immutable_field(
        &s(&new.namespace),
        &s(&old.namespace),
        &path.child("namespace"),
    ));
    errs.extend(validate_immutable_field(
        &s(&new.uid),
        &s(&old.uid),
        &path.child("uid"),
    ));
    errs.extend(validate_immutable_field(
        &time_value(new.creation_timestamp.as_ref()),
        &time_value(old.creation_timestamp.as_ref()),
        &path.child("creationTimestamp"),
    ));
    errs.extend(validate_immutable_field(
        &time_value(new.deletion_timestamp.as_ref()),
        &time_value(old.deletion_timestamp.as_ref()),
        &path.child("deletionTimestamp"),
    ));
    errs.extend(validate_immutable_field(
        &Value::from(new.deletion_grace_period_seconds),
        &Value::from(old.deletion_grace_period_seconds),
        &path.child("deletionGracePeriodSeconds"),
    ));
    errs.extend(common_meta(new, path));
    errs.extend(validate_managed_fields(
        new.managed_fields.as_deref().unwrap_or_default(),
        &path.child("managedFields"),
    ));
    errs
}

// ---------------------------------------------------------------------------------------------
// Resource quantities (k8s.io/apimachinery/pkg/api/resource)
// ---------------------------------------------------------------------------------------------

/// Why a string is not a quantity; messages are upstream's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string does not have the shape of a quantity.
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    FormatWrong,
    /// The numeric part cannot be parsed.
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    /// The suffix is not a known one.
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// How a quantity is written, kept to render its canonical form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuantityFormat {
    /// `12e6`.
    DecimalExponent,
    /// `5Gi`.
    BinarySI,
    /// `5G`, `100m`, `2`.
    DecimalSI,
}

/// A resource quantity (`100m`, `1Gi`, `2`, `1e3`): an exact decimal `mantissa × 10^scale`,
/// rounded up to nano units like upstream, plus the format it was written in.
///
/// Equality and ordering compare values (`1000m == 1`); `Display` gives upstream's canonical
/// form (`1000m` → `1`, `1024Mi` → `1Gi`, `0.5` → `500m`).
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    mantissa: i128,
    scale: i32,
    format: QuantityFormat,
}

impl Quantity {
    /// The quantity `mantissa × 10^scale` in the given format.
    pub fn new(mantissa: i128, scale: i32, format: QuantityFormat) -> Quantity {
        let mut q = Quantity {
            mantissa,
            scale,
            format,
        };
        q.normalize();
        q
    }

    /// Zero.
    pub fn zero() -> Quantity {
        Quantity::new(0, 0, QuantityFormat::DecimalSI)
    }

    /// A quantity of `milli` thousandths (`Quantity::from_milli(100)` is `100m`).
    pub fn from_milli(milli: i64) -> Quantity {
        Quantity::new(milli as i128, -3, QuantityFormat::DecimalSI)
    }

    fn normalize(&mut self) {
        if self.mantissa == 0 {
            self.scale = 0;
            return;
        }
        // Round up (away from zero) to nano precision, like upstream.
        if self.scale < -9 {
            let shift = (-9 - self.scale) as u32;
            self.mantissa = div_pow10_away(self.mantissa, shift);
            self.scale = -9;
        }
        while self.mantissa != 0 && self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.scale += 1;
        }
        if self.mantissa == 0 {
            self.scale = 0;
        }
    }

    /// The format the quantity was written in.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// The mantissa and scale of the exact value `mantissa × 10^scale` (normalized: the
    /// mantissa has no trailing zeros).
    pub fn as_decimal(&self) -> (i128, i32) {
        (self.mantissa, self.scale)
    }

    /// Whether the quantity is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Whether the quantity is negative.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// The value in units of `10^scale`, rounded away from zero and saturating (upstream's
    /// `ScaledValue`).
    pub fn scaled_value(&self, scale: i32) -> i128 {
        let diff = self.scale as i64 - scale as i64;
        if diff >= 0 {
            mul_pow10_saturating(self.mantissa, diff as u64)
        } else {
            let shift = (-diff).min(60) as u32;
            div_pow10_away(self.mantissa, shift)
        }
    }

    /// The value in thousandths, rounded away from zero (upstream's `MilliValue`).
    pub fn milli_value(&self) -> i128 {
        self.scaled_value(-3)
    }

    /// The value in units, rounded away from zero (upstream's `Value`).
    pub fn value(&self) -> i128 {
        self.scaled_value(0)
    }

    /// The value in nano units (exact, saturating).
    pub fn nano_value(&self) -> i128 {
        self.scaled_value(-9)
    }

    /// The value as a float (approximate).
    pub fn as_f64(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.scale)
    }

    /// The sum of two quantities, in the format of `self` (saturating).
    pub fn add(&self, other: &Quantity) -> Quantity {
        let scale = self.scale.min(other.scale);
        let a = mul_pow10_saturating(self.mantissa, (self.scale - scale) as u64);
        let b = mul_pow10_saturating(other.mantissa, (other.scale - scale) as u64);
        let format = if self.is_zero() {
            other.format
        } else {
            self.format
        };
        Quantity::new(a.saturating_add(b), scale, format)
    }

    /// The difference of two quantities, in the format of `self` (saturating).
    pub fn sub(&self, other: &Quantity) -> Quantity {
        self.add(&Quantity {
            mantissa: other.mantissa.saturating_neg(),
            ..*other
        })
    }

    /// The canonical string form, as upstream's `Quantity.String()`.
    pub fn canonical(&self) -> String {
        if self.is_zero() {
            return "0".to_string();
        }
        let mut format = self.format;
        if format == QuantityFormat::BinarySI {
            let limit = Quantity::new(1024, 0, QuantityFormat::DecimalSI);
            let negative_limit = Quantity::new(-1024, 0, QuantityFormat::DecimalSI);
            // Small values and non-integers are shown in decimal, to avoid rounding.
            if (*self > negative_limit && *self < limit) || self.scale < 0 {
                format = QuantityFormat::DecimalSI;
            }
        }
        let negative = self.mantissa < 0;
        let sign = if negative { "-" } else { "" };
        if format == QuantityFormat::BinarySI {
            // An integer of magnitude >= 1024; capped at i64::MAX when parsed.
            let mut amount = self.value().unsigned_abs();
            let mut exponent = 0;
            while amount >= 1024 && amount.is_multiple_of(1024) && exponent < 6 {
                amount /= 1024;
                exponent += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exponent];
            return format!("{sign}{amount}{suffix}");
        }
        let mut digits = self.mantissa.unsigned_abs().to_string();
        let mut exponent = self.scale;
        match exponent.rem_euclid(3) {
            1 => {
                digits.push('0');
                exponent -= 1;
            }
            2 => {
                digits.push_str("00");
                exponent -= 2;
            }
            _ => {}
        }
        let suffix = match format {
            QuantityFormat::DecimalExponent => {
                if exponent == 0 {
                    String::new()
                } else {
                    format!("e{exponent}")
                }
            }
            _ => {
                while exponent > 18 {
                    digits.push_str("000");
                    exponent -= 3;
                }
                match exponent {
                    -9 => "n",
                    -6 => "u",
                    -3 => "m",
                    0 => "",
                    3 => "k",
                    6 => "M",
                    9 => "G",
                    12 => "T",
                    15 => "P",
                    _ => "E",
                }
                .to_string()
            }
        };
        format!("{sign}{digits}{suffix}")
    }
}

fn mul_pow10_saturating(m: i128, exp: u64) -> i128 {
    if m == 0 {
        return 0;
    }
    let mut v = m;
    for _ in 0..exp {
        match v.checked_mul(10) {
            Some(n) => v = n,
            None => return if m > 0 { i128::MAX } else { i128::MIN },
        }
    }
    v
}

fn div_pow10_away(m: i128, shift: u32) -> i128 {
    if shift == 0 {
        return m;
    }
    if shift > 38 {
        return m.signum();
    }
    let d = 10i128.pow(shift);
    let q = m / d;
    if m % d != 0 { q + m.signum() } else { q }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.mantissa == other.mantissa && self.scale == other.scale
    }
}

impl Eq for Quantity {}

impl std::hash::Hash for Quantity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.mantissa.hash(state);
        self.scale.hash(state);
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        let (sa, sb) = (self.mantissa.signum(), other.mantissa.signum());
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        let scale = self.scale.min(other.scale);
        let a = self
            .mantissa
            .checked_mul(checked_pow10((self.scale - scale) as u32).unwrap_or(i128::MAX));
        let b = other
            .mantissa
            .checked_mul(checked_pow10((other.scale - scale) as u32).unwrap_or(i128::MAX));
        match (a, b) {
            (Some(a), Some(b)) => a.cmp(&b),
            // The overflowing side has the larger magnitude.
            (None, _) => {
                if sa > 0 {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (_, None) => {
                if sa > 0 {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
        }
    }
}

fn checked_pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Quantity, QuantityError> {
        parse_quantity(s)
    }
}

/// Splits a quantity string like upstream's `parseQuantityString`:
/// (positive, numerator digits, denominator digits, suffix).
fn split_quantity(s: &str) -> Result<(bool, &str, &str, &str), QuantityError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    if pos < end {
        match b[0] {
            b'-' => {
                positive = false;
                pos += 1;
            }
            b'+' => pos += 1,
            _ => {}
        }
    }
    // Leading zeros.
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Ok((positive, "0", "", ""));
    }
    // Numerator.
    let start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos >= end {
        return Ok((positive, &s[start..end], "", ""));
    }
    let num = if pos == start { "0" } else { &s[start..pos] };
    // Denominator.
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let dstart = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[dstart..pos];
        if pos >= end {
            return Ok((positive, num, denom, ""));
        }
    }
    // Suffix: letters, then an optional sign and digits.
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::FormatWrong);
    }
    Ok((positive, num, denom, &s[suffix_start..]))
}

/// Parses a Kubernetes resource quantity (`100m`, `1Gi`, `2`, `1e3`, `500M`, `.5`, `-1.5Ki`).
///
/// Values finer than a nano unit are rounded up (away from zero) to 1n, and binary-suffixed
/// values are capped at `2^63 - 1`, like upstream.
pub fn parse_quantity(s: &str) -> Result<Quantity, QuantityError> {
    if s.is_empty() {
        return Err(QuantityError::FormatWrong);
    }
    let (positive, num, denom, suffix) = split_quantity(s)?;
    let (base2, exponent, format) = match suffix {
        "n" => (false, -9, QuantityFormat::DecimalSI),
        "u" => (false, -6, QuantityFormat::DecimalSI),
        "m" => (false, -3, QuantityFormat::DecimalSI),
        "" => (false, 0, QuantityFormat::DecimalSI),
        "k" => (false, 3, QuantityFormat::DecimalSI),
        "M" => (false, 6, QuantityFormat::DecimalSI),
        "G" => (false, 9, QuantityFormat::DecimalSI),
        "T" => (false, 12, QuantityFormat::DecimalSI),
        "P" => (false, 15, QuantityFormat::DecimalSI),
        "E" => (false, 18, QuantityFormat::DecimalSI),
        "Ki" => (true, 10, QuantityFormat::BinarySI),
        "Mi" => (true, 20, QuantityFormat::BinarySI),
        "Gi" => (true, 30, QuantityFormat::BinarySI),
        "Ti" => (true, 40, QuantityFormat::BinarySI),
        "Pi" => (true, 50, QuantityFormat::BinarySI),
        "Ei" => (true, 60, QuantityFormat::BinarySI),
        s if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) => {
            let e: i64 = s[1..].parse().map_err(|_| QuantityError::Suffix)?;
            let e = i32::try_from(e).map_err(|_| QuantityError::Suffix)?;
            if !(-1_000_000..=1_000_000).contains(&e) {
                return Err(QuantityError::Suffix);
            }
            (false, e, QuantityFormat::DecimalExponent)
        }
        _ => return Err(QuantityError::Suffix),
    };

    // Digits of num + denom, without leading zeros, truncated (rounding up) to what fits.
    let mut digits: String = format!("{num}{denom}");
    let trimmed = digits.trim_start_matches('0');
    digits = trimmed.to_string();
    let mut scale: i64 = -(denom.len() as i64);
    let mut round_up = false;
    // Binary suffixes multiply by up to 2^60: keep room for that in an i128.
    let max_digits = if base2 { 19 } else { 37 };
    if digits.len() > max_digits {
        let dropped = &digits[max_digits..];
        round_up = dropped.bytes().any(|c| c != b'0');
        scale += dropped.len() as i64;
        digits.truncate(max_digits);
    }
    let mut mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| QuantityError::Numeric)?
    };
    if round_up {
        mantissa += 1;
    }

    if base2 {
        // value = mantissa × 10^scale × 2^exponent, with |value| capped at i64::MAX.
        let scale = scale.clamp(-1_000_000, 1_000_000) as i32;
        let cap = Quantity::new(i64::MAX as i128, 0, format);
        let mut q = Quantity::new(mantissa << exponent, scale, format);
        if q > cap {
            q = cap;
        }
        if !positive {
            q.mantissa = -q.mantissa;
        }
        return Ok(q);
    }

    let scale = (scale + exponent as i64).clamp(i32::MIN as i64 / 2, i32::MAX as i64 / 2) as i32;
    let mut q = Quantity::new(mantissa, scale, format);
    if !positive {
        q.mantissa = -q.mantissa;
    }
    Ok(q)
}

/// Validates that a quantity is not negative: `Invalid value: "-1": must be greater than or
/// equal to 0`.
pub fn validate_nonnegative_quantity(value: &Quantity, path: &Path) -> ErrorList {
    if value.is_negative() {
        vec![FieldError::invalid(
            path,
            value.to_string(),
            IS_NEGATIVE_ERROR_MSG,
        )]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests;
