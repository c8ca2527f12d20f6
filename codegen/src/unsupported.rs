//! Removes the parameters that progenitor refuses, and records each one.
//!
//! progenitor accepts `form` query parameters and `simple` header parameters; a query parameter of
//! any other style (`deepObject`, `spaceDelimited`, `pipeDelimited`) or a cookie parameter aborts
//! the whole document. Removing them lets the rest generate; the record lets hand-written code
//! supply them and lets a test notice when a spec bump adds a new one.

use serde_json::Value;

/// One parameter taken out of an operation because the generator cannot express it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedParameter {
    /// The operation's `operationId` (or `METHOD /path` when it has none).
    pub operation_id: String,
    /// The parameter's name on the wire.
    pub name: String,
    /// Where it travels: `query`, `header` or `cookie`.
    pub location: String,
    /// Its serialization style (`deepObject`, ...), or the location's default.
    pub style: String,
    /// Whether the spec marks it required.
    pub required: bool,
}

const OPERATION_KEYS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Removes every parameter progenitor would refuse from every operation of `doc`.
///
/// Parameters declared on a path item apply to each of its operations, so they are copied into
/// the operations first. A parameter given as a `$ref` is resolved against
/// `components/parameters` to read its location and style.
///
/// # Errors
/// A path parameter whose style is not `simple` cannot be removed (the URL template needs it),
/// so it is reported as an error naming the operation and the parameter.
pub fn remove_unsupported_parameters(doc: &mut Value) -> Result<Vec<RemovedParameter>, String> {
    let components = doc
        .get("components")
        .and_then(|c| c.get("parameters"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut removed = Vec::new();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return Ok(removed);
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        let shared = item.remove("parameters");
        for method in OPERATION_KEYS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let operation_id = op
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{} {path}", method.to_uppercase()));
            let mut params = merge_parameters(shared.as_ref(), op.get("parameters"), &components);
            let mut kept = Vec::new();
            for param in params.drain(..) {
                let resolved = resolve(&param, &components);
                match classify(resolved) {
                    Verdict::Supported => kept.push(param),
                    Verdict::Unsupported { location, style } => removed.push(RemovedParameter {
                        operation_id: operation_id.clone(),
                        name: field(resolved, "name"),
                        location,
                        style,
                        required: resolved.get("required") == Some(&Value::Bool(true)),
                    }),
                    Verdict::Fatal(why) => {
                        return Err(format!(
                            "operation {operation_id}: parameter {:?}: {why}",
                            field(resolved, "name")
                        ))
                    }
                }
            }
            if kept.is_empty() {
                op.remove("parameters");
            } else {
                op.insert("parameters".into(), Value::Array(kept));
            }
        }
    }
    Ok(removed)
}

enum Verdict {
    Supported,
    Unsupported { location: String, style: String },
    Fatal(String),
}

fn classify(param: &Value) -> Verdict {
    let location = field(param, "in");
    let style = param.get("style").and_then(Value::as_str);
    match (location.as_str(), style) {
        ("query", None | Some("form")) => Verdict::Supported,
        ("header", None | Some("simple")) => Verdict::Supported,
        ("path", None | Some("simple")) => Verdict::Supported,
        ("path", Some(other)) => Verdict::Fatal(format!(
            "path parameters must use style `simple` (found `{other}`)"
        )),
        ("query" | "header" | "cookie", style) => Verdict::Unsupported {
            style: style.unwrap_or("form").to_owned(),
            location,
        },
        (other, _) => Verdict::Fatal(format!("unknown parameter location `{other}`")),
    }
}

/// Path-level parameters followed by operation-level ones; an operation's own parameter
/// replaces a path-level one with the same name and location, as OpenAPI says.
fn merge_parameters(shared: Option<&Value>, own: Option<&Value>, components: &Value) -> Vec<Value> {
    let own: Vec<Value> = own.and_then(Value::as_array).cloned().unwrap_or_default();
    let key = |p: &Value| {
        let p = resolve(p, components);
        (field(p, "name"), field(p, "in"))
    };
    let own_keys: Vec<_> = own.iter().map(key).collect();
    let mut all: Vec<Value> = shared
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| !own_keys.contains(&key(p)))
        .cloned()
        .collect();
    all.extend(own);
    all
}

fn resolve<'a>(param: &'a Value, components: &'a Value) -> &'a Value {
    match param.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix("#/components/parameters/")
            .and_then(|name| components.get(name))
            .unwrap_or(param),
        None => param,
    }
}

fn field(value: &Value, name: &str) -> String {
    value
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_deep_object_query_parameter_is_removed_and_recorded() {
        let mut doc = json!({
            "paths": {"/apps": {"get": {"operationId": "listApps", "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                {"name": "labels", "in": "query", "style": "deepObject", "explode": true,
                 "schema": {"type": "object"}}
            ]}}}
        });
        let removed = remove_unsupported_parameters(&mut doc).unwrap();
        assert_eq!(
            removed,
            vec![RemovedParameter {
                operation_id: "listApps".into(),
                name: "labels".into(),
                location: "query".into(),
                style: "deepObject".into(),
                required: false,
            }]
        );
        let params = &doc["paths"]["/apps"]["get"]["parameters"];
        assert_eq!(params.as_array().unwrap().len(), 1);
        assert_eq!(params[0]["name"], "limit");
    }

    #[test]
    fn referenced_and_path_level_parameters_are_checked_too() {
        let mut doc = json!({
            "components": {"parameters": {
                "ids": {"name": "ids", "in": "query", "style": "pipeDelimited"},
                "app": {"name": "app", "in": "path", "required": true}
            }},
            "paths": {"/a/{app}": {
                "parameters": [{"$ref": "#/components/parameters/app"},
                               {"name": "session", "in": "cookie"}],
                "get": {"parameters": [{"$ref": "#/components/parameters/ids"}]},
                "delete": {"operationId": "deleteA"}
            }}
        });
        let removed = remove_unsupported_parameters(&mut doc).unwrap();
        let names: Vec<_> = removed
            .iter()
            .map(|r| (r.operation_id.as_str(), r.name.as_str(), r.style.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("GET /a/{app}", "session", "form"),
                ("GET /a/{app}", "ids", "pipeDelimited"),
                ("deleteA", "session", "form"),
            ]
        );
        // The path parameter survives on every operation.
        let delete = &doc["paths"]["/a/{app}"]["delete"]["parameters"];
        assert_eq!(delete, &json!([{"$ref": "#/components/parameters/app"}]));
    }

    #[test]
    fn a_path_parameter_with_another_style_is_an_error_naming_it() {
        let mut doc = json!({"paths": {"/a/{id}": {"get": {"operationId": "getA", "parameters": [
            {"name": "id", "in": "path", "style": "matrix", "required": true}
        ]}}}});
        let err = remove_unsupported_parameters(&mut doc).unwrap_err();
        assert!(
            err.contains("getA") && err.contains("\"id\"") && err.contains("matrix"),
            "{err}"
        );
    }
}
