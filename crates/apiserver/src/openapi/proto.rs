//! The protobuf encoding of a Swagger 2.0 document as gnostic's `openapi.v2.Document`
//! (github.com/google/gnostic-models, `openapiv2/OpenAPIv2.proto`): what client-go's
//! `OpenAPISchema()` asks for (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`) and
//! decodes with `proto.Unmarshal`, with no JSON fallback.
//!
//! The encoder translates the JSON document rudder builds, field by field; message and field
//! numbers are noted where they are written. Values gnostic keeps as YAML (`Any`: vendor
//! extensions, defaults, enums) are written as JSON, which is YAML.

use serde_json::{Map, Value};

/// A protobuf message being written.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
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

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire_type));
    }

    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    /// A string field; proto3 leaves empty strings out.
    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }

    fn message(&mut self, field: u32, m: Message) {
        self.bytes(field, &m.0);
    }

    fn boolean(&mut self, field: u32, b: bool) {
        if b {
            self.key(field, 0);
            self.varint(1);
        }
    }

    fn int64(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.key(field, 0);
            self.varint(v as u64);
        }
    }

    fn double(&mut self, field: u32, v: f64) {
        if v != 0.0 {
            self.key(field, 1);
            self.0.extend_from_slice(&v.to_le_bytes());
        }
    }
}

fn str_of<'a>(o: &'a Map<String, Value>, key: &str) -> &'a str {
    o.get(key).and_then(Value::as_str).unwrap_or("")
}

fn strings<'a>(o: &'a Map<String, Value>, key: &str) -> impl Iterator<Item = &'a str> {
    o.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// `Any { string yaml = 2; }`.
fn any(value: &Value) -> Message {
    let mut m = Message::default();
    m.string(2, &value.to_string());
    m
}

/// `NamedAny { string name = 1; Any value = 2; }` for each `x-` key of `o`, written as
/// `field` of the enclosing message.
fn vendor_extensions(m: &mut Message, field: u32, o: &Map<String, Value>) {
    for (name, value) in o.iter().filter(|(k, _)| k.starts_with("x-")) {
        let mut named = Message::default();
        named.string(1, name);
        named.message(2, any(value));
        m.message(field, named);
    }
}

/// `Schema`.
fn schema(v: &Value) -> Message {
    let mut m = Message::default();
    let Some(o) = v.as_object() else { return m };
    m.string(1, str_of(o, "$ref"));
    m.string(2, str_of(o, "format"));
    m.string(3, str_of(o, "title"));
    m.string(4, str_of(o, "description"));
    if let Some(default) = o.get("default") {
        m.message(5, any(default));
    }
    let number = |k: &str| o.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let int = |k: &str| o.get(k).and_then(Value::as_i64).unwrap_or(0);
    let flag = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or(false);
    m.double(6, number("multipleOf"));
    m.double(7, number("maximum"));
    m.boolean(8, flag("exclusiveMaximum"));
    m.double(9, number("minimum"));
    m.boolean(10, flag("exclusiveMinimum"));
    m.int64(11, int("maxLength"));
    m.int64(12, int("minLength"));
    m.string(13, str_of(o, "pattern"));
    m.int64(14, int("maxItems"));
    m.int64(15, int("minItems"));
    m.boolean(16, flag("uniqueItems"));
    m.int64(17, int("maxProperties"));
    m.int64(18, int("minProperties"));
    for r in strings(o, "required") {
        m.string(19, r);
    }
    for e in o
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(20, any(e));
    }
    if let Some(extra) = o.get("additionalProperties") {
        // AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2; } }
        let mut item = Message::default();
        match extra {
            Value::Bool(b) => {
                item.key(2, 0);
                item.varint(u64::from(*b));
            }
            other => item.message(1, schema(other)),
        }
        m.message(21, item);
    }
    if let Some(t) = o.get("type") {
        // TypeItem { repeated string value = 1; }
        let mut item = Message::default();
        match t {
            Value::Array(types) => types
                .iter()
                .filter_map(Value::as_str)
                .for_each(|t| item.string(1, t)),
            t => item.string(1, t.as_str().unwrap_or("")),
        }
        m.message(22, item);
    }
    if let Some(items) = o.get("items") {
        // ItemsItem { repeated Schema schema = 1; }
        let mut item = Message::default();
        match items {
            Value::Array(list) => list.iter().for_each(|s| item.message(1, schema(s))),
            one => item.message(1, schema(one)),
        }
        m.message(23, item);
    }
    for all in o
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(24, schema(all));
    }
    if let Some(props) = o.get("properties").and_then(Value::as_object) {
        // Properties { repeated NamedSchema additional_properties = 1; }
        let mut properties = Message::default();
        for (name, p) in props {
            properties.message(1, named_schema(name, p));
        }
        m.message(25, properties);
    }
    m.string(26, str_of(o, "discriminator"));
    m.boolean(27, flag("readOnly"));
    if let Some(example) = o.get("example") {
        m.message(30, any(example));
    }
    vendor_extensions(&mut m, 31, o);
    m
}

/// `NamedSchema { string name = 1; Schema value = 2; }`.
fn named_schema(name: &str, v: &Value) -> Message {
    let mut named = Message::default();
    named.string(1, name);
    named.message(2, schema(v));
    named
}

/// `ParametersItem { oneof { Parameter parameter = 1; JsonReference json_reference = 2; } }`.
fn parameters_item(p: &Value) -> Message {
    let mut item = Message::default();
    let Some(o) = p.as_object() else { return item };
    if let Some(r) = o.get("$ref").and_then(Value::as_str) {
        // JsonReference { string _ref = 1; string description = 2; }
        let mut reference = Message::default();
        reference.string(1, r);
        reference.string(2, str_of(o, "description"));
        item.message(2, reference);
        return item;
    }
    // Parameter { oneof { BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2; } }
    let mut parameter = Message::default();
    let location = str_of(o, "in");
    let required = o.get("required").and_then(Value::as_bool).unwrap_or(false);
    let unique = o
        .get("uniqueItems")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if location == "body" {
        // BodyParameter { description = 1; name = 2; in = 3; required = 4; schema = 5; vendor_extension = 6; }
        let mut body = Message::default();
        body.string(1, str_of(o, "description"));
        body.string(2, str_of(o, "name"));
        body.string(3, location);
        body.boolean(4, required);
        if let Some(s) = o.get("schema") {
            body.message(5, schema(s));
        }
        vendor_extensions(&mut body, 6, o);
        parameter.message(1, body);
    } else {
        // QueryParameterSubSchema and FormDataParameterSubSchema: required = 1, in = 2,
        // description = 3, name = 4, allow_empty_value = 5, type = 6, format = 7,
        // unique_items = 20, vendor_extension = 23. HeaderParameterSubSchema and
        // PathParameterSubSchema have no allow_empty_value: type = 5, format = 6,
        // unique_items = 19, vendor_extension = 22.
        let (which, with_allow_empty) = match location {
            "header" => (1, false),
            "formData" => (2, true),
            "path" => (4, false),
            _ => (3, true),
        };
        let shift = u32::from(with_allow_empty);
        let mut sub = Message::default();
        sub.boolean(1, required);
        sub.string(2, location);
        sub.string(3, str_of(o, "description"));
        sub.string(4, str_of(o, "name"));
        if with_allow_empty {
            sub.boolean(
                5,
                o.get("allowEmptyValue")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            );
        }
        sub.string(5 + shift, str_of(o, "type"));
        sub.string(6 + shift, str_of(o, "format"));
        sub.boolean(19 + shift, unique);
        vendor_extensions(&mut sub, 22 + shift, o);
        // NonBodyParameter { oneof { header = 1; form_data = 2; query = 3; path = 4; } }
        let mut non_body = Message::default();
        non_body.message(which, sub);
        parameter.message(2, non_body);
    }
    item.message(1, parameter);
    item
}

/// `Operation`.
fn operation(v: &Value) -> Message {
    let mut m = Message::default();
    let Some(o) = v.as_object() else { return m };
    for t in strings(o, "tags") {
        m.string(1, t);
    }
    m.string(2, str_of(o, "summary"));
    m.string(3, str_of(o, "description"));
    m.string(5, str_of(o, "operationId"));
    for p in strings(o, "produces") {
        m.string(6, p);
    }
    for c in strings(o, "consumes") {
        m.string(7, c);
    }
    for p in o
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(8, parameters_item(p));
    }
    if let Some(responses) = o.get("responses").and_then(Value::as_object) {
        // Responses { repeated NamedResponseValue response_code = 1; }
        let mut rs = Message::default();
        for (code, r) in responses {
            // Response { string description = 1; SchemaItem schema = 2; }
            let mut response = Message::default();
            response.string(
                1,
                r.get("description").and_then(Value::as_str).unwrap_or(""),
            );
            if let Some(s) = r.get("schema") {
                // SchemaItem { oneof { Schema schema = 1; FileSchema file_schema = 2; } }
                let mut item = Message::default();
                item.message(1, schema(s));
                response.message(2, item);
            }
            // ResponseValue { oneof { Response response = 1; JsonReference json_reference = 2; } }
            let mut value = Message::default();
            value.message(1, response);
            // NamedResponseValue { string name = 1; ResponseValue value = 2; }
            let mut named = Message::default();
            named.string(1, code);
            named.message(2, value);
            rs.message(1, named);
        }
        m.message(9, rs);
    }
    for s in strings(o, "schemes") {
        m.string(10, s);
    }
    m.boolean(
        11,
        o.get("deprecated")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    );
    vendor_extensions(&mut m, 13, o);
    m
}

/// `PathItem`.
fn path_item(v: &Value) -> Message {
    let mut m = Message::default();
    let Some(o) = v.as_object() else { return m };
    m.string(1, str_of(o, "$ref"));
    for (field, method) in [
        (2, "get"),
        (3, "put"),
        (4, "post"),
        (5, "delete"),
        (6, "options"),
        (7, "head"),
        (8, "patch"),
    ] {
        if let Some(op) = o.get(method) {
            m.message(field, operation(op));
        }
    }
    for p in o
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(9, parameters_item(p));
    }
    vendor_extensions(&mut m, 10, o);
    m
}

/// The `Document` message of a Swagger 2.0 document.
pub(super) fn document(doc: &Value) -> Vec<u8> {
    let mut m = Message::default();
    let Some(o) = doc.as_object() else {
        return m.0;
    };
    m.string(1, str_of(o, "swagger"));
    if let Some(info) = o.get("info").and_then(Value::as_object) {
        // Info { string title = 1; string version = 2; string description = 3; }
        let mut i = Message::default();
        i.string(1, str_of(info, "title"));
        i.string(2, str_of(info, "version"));
        i.string(3, str_of(info, "description"));
        vendor_extensions(&mut i, 7, info);
        m.message(2, i);
    }
    m.string(3, str_of(o, "host"));
    m.string(4, str_of(o, "basePath"));
    for s in strings(o, "schemes") {
        m.string(5, s);
    }
    for c in strings(o, "consumes") {
        m.string(6, c);
    }
    for p in strings(o, "produces") {
        m.string(7, p);
    }
    if let Some(paths) = o.get("paths").and_then(Value::as_object) {
        // Paths { repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2; }
        let mut ps = Message::default();
        vendor_extensions(&mut ps, 1, paths);
        for (path, item) in paths.iter().filter(|(k, _)| !k.starts_with("x-")) {
            // NamedPathItem { string name = 1; PathItem value = 2; }
            let mut named = Message::default();
            named.string(1, path);
            named.message(2, path_item(item));
            ps.message(2, named);
        }
        m.message(8, ps);
    }
    if let Some(definitions) = o.get("definitions").and_then(Value::as_object) {
        // Definitions { repeated NamedSchema additional_properties = 1; }
        let mut ds = Message::default();
        for (name, def) in definitions {
            ds.message(1, named_schema(name, def));
        }
        m.message(9, ds);
    }
    for requirement in o
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // SecurityRequirement { repeated NamedStringArray additional_properties = 1; }
        let mut r = Message::default();
        for (name, scopes) in requirement.as_object().into_iter().flatten() {
            // StringArray { repeated string value = 1; }
            let mut array = Message::default();
            for s in scopes
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                array.string(1, s);
            }
            // NamedStringArray { string name = 1; StringArray value = 2; }
            let mut named = Message::default();
            named.string(1, name);
            named.message(2, array);
            r.message(1, named);
        }
        m.message(12, r);
    }
    if let Some(definitions) = o.get("securityDefinitions").and_then(Value::as_object) {
        // SecurityDefinitions { repeated NamedSecurityDefinitionsItem additional_properties = 1; }
        let mut ds = Message::default();
        for (name, def) in definitions {
            let Some(d) = def.as_object() else { continue };
            if str_of(d, "type") != "apiKey" {
                continue;
            }
            // ApiKeySecurity { type = 1; name = 2; in = 3; description = 4; }
            let mut key = Message::default();
            key.string(1, "apiKey");
            key.string(2, str_of(d, "name"));
            key.string(3, str_of(d, "in"));
            key.string(4, str_of(d, "description"));
            vendor_extensions(&mut key, 5, d);
            // SecurityDefinitionsItem { oneof { ...; ApiKeySecurity api_key_security = 2; ... } }
            let mut item = Message::default();
            item.message(2, key);
            // NamedSecurityDefinitionsItem { string name = 1; SecurityDefinitionsItem value = 2; }
            let mut named = Message::default();
            named.string(1, name);
            named.message(2, item);
            ds.message(1, named);
        }
        m.message(13, ds);
    }
    vendor_extensions(&mut m, 16, o);
    m.0
}
