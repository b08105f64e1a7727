//! Kubernetes protobuf request bodies decoded into the JSON of the same object.
//!
//! kubectl 1.32 and later send the bodies of its typed commands (`kubectl create configmap`,
//! `create deployment`, ...) as `application/vnd.kubernetes.protobuf`: the magic `k8s\0`, then
//! a `runtime.Unknown` envelope holding the TypeMeta and the object's message. The field
//! numbers of every message come from upstream's generated.proto files (`protobuf/fields.rs`,
//! generated); JSON names come from the OpenAPI schema of the same definition, so the result is
//! what the JSON encoding of the object would have been.

use std::{collections::HashMap, sync::OnceLock};

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Map, Value, json};

use crate::{resources, schema};

mod fields;

/// How a field is encoded.
#[derive(Clone, Copy, Debug)]
enum Kind {
    String,
    Bool,
    Int32,
    Int64,
    Bytes,
    Message(&'static str),
    StringMap,
    BytesMap,
    MessageMap(&'static str),
}

/// One wire field as read: number, wire type, payload and varint value.
type RawField<'a> = (u32, u8, &'a [u8], u64);

/// One field of a message.
#[derive(Debug)]
struct Field {
    tag: u32,
    name: &'static str,
    kind: Kind,
    repeated: bool,
}

/// Errors decoding a protobuf body.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body does not start with `k8s\0`.
    #[error("protobuf body does not start with the kubernetes magic prefix")]
    Magic,
    /// The bytes end in the middle of a field.
    #[error("truncated protobuf message")]
    Truncated,
    /// A field has a wire type its kind cannot have.
    #[error("wrong wire type {wire} for field {tag} of {message}")]
    WireType {
        /// The message.
        message: String,
        /// The field number.
        tag: u32,
        /// The wire type found.
        wire: u8,
    },
    /// The envelope names a kind that is not served.
    #[error("no kind \"{kind}\" is registered for version \"{api_version}\"")]
    UnknownKind {
        /// The apiVersion.
        api_version: String,
        /// The kind.
        kind: String,
    },
    /// An embedded JSON document did not parse.
    #[error("embedded json: {0}")]
    Json(#[from] serde_json::Error),
}

type Result<T, E = Error> = std::result::Result<T, E>;

fn message_fields(name: &str) -> Option<&'static [Field]> {
    static INDEX: OnceLock<HashMap<&'static str, &'static [Field]>> = OnceLock::new();
    INDEX
        .get_or_init(|| fields::MESSAGES.iter().map(|(n, f)| (*n, *f)).collect())
        .get(name)
        .copied()
}

fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The JSON name of a field: the schema property whose name matches the prost field name.
fn json_name(message: &str, field: &'static str) -> String {
    static NAMES: OnceLock<std::sync::Mutex<HashMap<(String, &'static str), String>>> =
        OnceLock::new();
    let cache = NAMES.get_or_init(Default::default);
    let key = (message.to_string(), field);
    if let Some(name) = cache.lock().expect("names lock").get(&key) {
        return name.clone();
    }
    let wanted = normalize(field);
    let name = schema::properties(message)
        .into_iter()
        .find(|p| normalize(p) == wanted)
        .map(str::to_string)
        .unwrap_or_else(|| camel_case(field));
    cache.lock().expect("names lock").insert(key, name.clone());
    name
}

fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A cursor over protobuf bytes.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.bytes.split_first().ok_or(Error::Truncated)?;
            self.bytes = rest;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Error::Truncated)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(Error::Truncated);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// The next field: its number, wire type and raw value (for length-delimited fields the
    /// payload; for varints the value in `varint`).
    fn field(&mut self) -> Result<Option<RawField<'a>>> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (tag, wire) = ((key >> 3) as u32, (key & 7) as u8);
        match wire {
            0 => Ok(Some((tag, wire, &[], self.varint()?))),
            1 => Ok(Some((tag, wire, self.take(8)?, 0))),
            2 => {
                let len = self.varint()? as usize;
                Ok(Some((tag, wire, self.take(len)?, 0)))
            }
            5 => Ok(Some((tag, wire, self.take(4)?, 0))),
            _ => Err(Error::WireType {
                message: "?".into(),
                tag,
                wire,
            }),
        }
    }
}

/// Decodes a message of type `name` into its JSON form.
fn message(name: &str, bytes: &[u8]) -> Result<Value> {
    match name {
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
        | "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime" => {
            let (mut seconds, mut nanos) = (0i64, 0i64);
            let mut r = Reader { bytes };
            while let Some((tag, _, _, v)) = r.field()? {
                match tag {
                    1 => seconds = v as i64,
                    2 => nanos = v as i64,
                    _ => {}
                }
            }
            // Go's zero time is encoded, and marshals to JSON as null.
            if seconds == 0 && nanos == 0 {
                return Ok(Value::Null);
            }
            let ts =
                jiff::Timestamp::new(seconds, nanos as i32).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            return Ok(if name.ends_with("MicroTime") {
                json!(ts.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string())
            } else {
                json!(
                    jiff::Timestamp::from_second(ts.as_second())
                        .unwrap_or(ts)
                        .to_string()
                )
            });
        }
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
            let mut r = Reader { bytes };
            let mut s = String::new();
            while let Some((tag, _, raw, _)) = r.field()? {
                if tag == 1 {
                    s = String::from_utf8_lossy(raw).into_owned();
                }
            }
            return Ok(json!(s));
        }
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            let (mut is_string, mut int, mut string) = (false, 0i64, String::new());
            let mut r = Reader { bytes };
            while let Some((tag, _, raw, v)) = r.field()? {
                match tag {
                    1 => is_string = v == 1,
                    2 => int = i64::from(v as i32),
                    3 => string = String::from_utf8_lossy(raw).into_owned(),
                    _ => {}
                }
            }
            return Ok(if is_string { json!(string) } else { json!(int) });
        }
        "io.k8s.apimachinery.pkg.apis.meta.v1.Duration" => {
            let mut r = Reader { bytes };
            let mut nanos = 0i64;
            while let Some((tag, _, _, v)) = r.field()? {
                if tag == 1 {
                    nanos = v as i64;
                }
            }
            return Ok(json!(go_duration(nanos)));
        }
        "io.k8s.apimachinery.pkg.runtime.RawExtension"
        | "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            let mut r = Reader { bytes };
            let mut value = Value::Null;
            while let Some((tag, _, raw, _)) = r.field()? {
                if tag == 1 && !raw.is_empty() {
                    value = serde_json::from_slice(raw)?;
                }
            }
            return Ok(value);
        }
        _ => {}
    }
    let fields = message_fields(name).unwrap_or(&[]);
    let mut out = Map::new();
    let mut r = Reader { bytes };
    while let Some((tag, wire, raw, v)) = r.field()? {
        let Some(field) = fields.iter().find(|f| f.tag == tag) else {
            continue;
        };
        let key = json_name(name, field.name);
        let wrong = || Error::WireType {
            message: name.to_string(),
            tag,
            wire,
        };
        // Repeated scalars may come packed.
        let values: Vec<Value> = match (field.kind, wire) {
            (Kind::String, 2) => vec![json!(String::from_utf8_lossy(raw))],
            (Kind::Bytes, 2) => vec![json!(STANDARD.encode(raw))],
            (Kind::Bool, 0) => vec![json!(v != 0)],
            (Kind::Int32, 0) => vec![json!(v as i32)],
            (Kind::Int64, 0) => vec![json!(v as i64)],
            (Kind::Bool | Kind::Int32 | Kind::Int64, 2) => {
                let mut packed = Reader { bytes: raw };
                let mut vals = Vec::new();
                while !packed.bytes.is_empty() {
                    let v = packed.varint()?;
                    vals.push(match field.kind {
                        Kind::Bool => json!(v != 0),
                        Kind::Int32 => json!(v as i32),
                        _ => json!(v as i64),
                    });
                }
                vals
            }
            (Kind::Message(m), 2) => vec![message(m, raw)?],
            (Kind::StringMap | Kind::BytesMap | Kind::MessageMap(_), 2) => {
                let (mut k, mut val) = (String::new(), Value::Null);
                let mut entry = Reader { bytes: raw };
                while let Some((t, _, raw, _)) = entry.field()? {
                    match (t, field.kind) {
                        (1, _) => k = String::from_utf8_lossy(raw).into_owned(),
                        (2, Kind::StringMap) => val = json!(String::from_utf8_lossy(raw)),
                        (2, Kind::BytesMap) => val = json!(STANDARD.encode(raw)),
                        (2, Kind::MessageMap(m)) => val = message(m, raw)?,
                        _ => {}
                    }
                }
                let map = out.entry(key).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = map {
                    map.insert(k, val);
                }
                continue;
            }
            _ => return Err(wrong()),
        };
        if field.repeated {
            let list = out.entry(key).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                list.extend(values);
            }
        } else if let Some(v) = values.into_iter().next().filter(|v| !v.is_null()) {
            out.insert(key, v);
        }
    }
    Ok(Value::Object(out))
}

/// Go's `time.Duration.String()` for a number of nanoseconds.
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let total = nanos.unsigned_abs();
    let (h, m) = (total / 3_600_000_000_000, (total / 60_000_000_000) % 60);
    let s = (total % 60_000_000_000) as f64 / 1e9;
    let mut out = sign.to_string();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{s}s"));
    out
}

/// Decodes a Kubernetes protobuf request body (magic `k8s\0` and a `runtime.Unknown` envelope)
/// into the JSON object of the same API object, with `apiVersion` and `kind` set.
pub fn decode(body: &[u8]) -> Result<Value> {
    let envelope = body.strip_prefix(b"k8s\0").ok_or(Error::Magic)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    let mut r = Reader { bytes: envelope };
    while let Some((tag, _, bytes, _)) = r.field()? {
        match tag {
            1 => {
                let mut meta = Reader { bytes };
                while let Some((t, _, v, _)) = meta.field()? {
                    match t {
                        1 => api_version = String::from_utf8_lossy(v).into_owned(),
                        2 => kind = String::from_utf8_lossy(v).into_owned(),
                        _ => {}
                    }
                }
            }
            2 => raw = bytes,
            _ => {}
        }
    }
    let (group, version) = resources::split_api_version(&api_version);
    let definition = resources::find_kind(group, version, &kind)
        .map(|r| r.definition.clone())
        .or_else(|| schema::definition_for_kind(group, version, &kind).map(str::to_string))
        .ok_or_else(|| Error::UnknownKind {
            api_version: api_version.clone(),
            kind: kind.clone(),
        })?;
    let mut obj = match message(&definition, raw)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(api_version));
    out.insert("kind".into(), json!(kind));
    out.append(&mut obj);
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal protobuf writer for the tests.
    #[derive(Default)]
    struct W(Vec<u8>);

    impl W {
        fn varint(&mut self, mut v: u64) {
            loop {
                let b = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    self.0.push(b);
                    return;
                }
                self.0.push(b | 0x80);
            }
        }
        fn bytes(mut self, tag: u32, b: &[u8]) -> W {
            self.varint(u64::from(tag << 3 | 2));
            self.varint(b.len() as u64);
            self.0.extend_from_slice(b);
            self
        }
        fn str(self, tag: u32, s: &str) -> W {
            self.bytes(tag, s.as_bytes())
        }
        fn msg(self, tag: u32, m: W) -> W {
            self.bytes(tag, &m.0)
        }
        fn int(mut self, tag: u32, v: u64) -> W {
            self.varint(u64::from(tag << 3));
            self.varint(v);
            self
        }
        fn entry(self, tag: u32, k: &str, v: &str) -> W {
            self.msg(tag, W::default().str(1, k).str(2, v))
        }
    }

    fn envelope(api_version: &str, kind: &str, obj: W) -> Vec<u8> {
        let unknown = W::default()
            .msg(1, W::default().str(1, api_version).str(2, kind))
            .msg(2, obj);
        let mut out = b"k8s\0".to_vec();
        out.extend(unknown.0);
        out
    }

    #[test]
    fn configmap_with_labels_and_data() {
        let meta = W::default()
            .str(1, "settings")
            .str(3, "team")
            .entry(11, "app", "web");
        let cm = W::default().msg(1, meta).entry(2, "color", "blue");
        let json = decode(&envelope("v1", "ConfigMap", cm)).unwrap();
        assert_eq!(
            json,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "team", "labels": {"app": "web"}},
                "data": {"color": "blue"}})
        );
    }

    #[test]
    fn secret_bytes_become_base64() {
        let secret = W::default()
            .msg(1, W::default().str(1, "creds"))
            .msg(2, W::default().str(1, "user").str(2, "admin"))
            .str(3, "Opaque");
        let json = decode(&envelope("v1", "Secret", secret)).unwrap();
        assert_eq!(json["data"]["user"], "YWRtaW4=");
        assert_eq!(json["type"], "Opaque");
    }

    #[test]
    fn deployment_with_template_quantities_and_times() {
        let limits = W::default().msg(
            1,
            W::default()
                .str(1, "cpu")
                .msg(2, W::default().str(1, "500m")),
        );
        let container = W::default()
            .str(1, "web")
            .str(2, "nginx:1.25")
            .msg(6, W::default().int(3, 80).str(4, "TCP"))
            .msg(8, limits);
        let template = W::default()
            .msg(1, W::default().entry(11, "app", "web"))
            .msg(2, W::default().msg(2, container));
        let spec = W::default()
            .int(1, 3)
            .msg(2, W::default().entry(1, "app", "web"))
            .msg(3, template);
        let meta = W::default()
            .str(1, "api")
            .msg(8, W::default().int(1, 1_700_000_000));
        let json = decode(&envelope(
            "apps/v1",
            "Deployment",
            W::default().msg(1, meta).msg(2, spec),
        ))
        .unwrap();
        assert_eq!(json["spec"]["replicas"], 3);
        assert_eq!(json["spec"]["selector"]["matchLabels"]["app"], "web");
        let c = &json["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "nginx:1.25");
        assert_eq!(
            c["ports"][0],
            json!({"containerPort": 80, "protocol": "TCP"})
        );
        assert_eq!(c["resources"]["limits"]["cpu"], "500m");
        assert_eq!(
            json["metadata"]["creationTimestamp"],
            "2023-11-14T22:13:20Z"
        );
    }

    #[test]
    fn bad_bodies_are_errors() {
        assert!(matches!(decode(b"nope"), Err(Error::Magic)));
        assert!(decode(b"k8s\0\x0a\xff").is_err());
        let unknown = envelope("v1", "Nope", W::default());
        assert!(matches!(decode(&unknown), Err(Error::UnknownKind { .. })));
    }
}
