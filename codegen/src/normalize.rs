//! Rewrites an OpenAPI 3.1 document into the 3.0 model that the `openapiv3` parser accepts.
//!
//! The walk knows where schemas live in a document and only rewrites schema keywords there, so
//! user data (examples, defaults, enum values, `x-` extensions) and property names that happen to
//! be keywords (a property called `type`) pass through untouched.

use serde_json::{Map, Value};

/// Normalizes `doc` in place from OpenAPI 3.1 to 3.0.3. A 3.0 document is left as it is.
pub fn normalize(doc: &mut Value) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    let is_31 = root
        .get("openapi")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("3.1"));
    if !is_31 {
        return;
    }
    root.insert("openapi".into(), Value::String("3.0.3".into()));
    // 3.0 has no place for these top-level 3.1 members.
    root.remove("jsonSchemaDialect");
    root.remove("webhooks");
    if let Some(license) = root.get_mut("info").and_then(|i| i.get_mut("license")) {
        if let Some(license) = license.as_object_mut() {
            license.remove("identifier");
        }
    }

    if let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            walk_path_item(item);
        }
    }
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
        walk_components(components);
    }
}

const OPERATION_KEYS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn walk_components(components: &mut Map<String, Value>) {
    for_each_value(components.get_mut("schemas"), walk_schema);
    for_each_value(components.get_mut("parameters"), walk_parameter);
    for_each_value(components.get_mut("headers"), walk_parameter);
    for_each_value(components.get_mut("responses"), walk_response);
    for_each_value(components.get_mut("requestBodies"), walk_request_body);
    for_each_value(components.get_mut("pathItems"), walk_path_item);
    // 3.0 components cannot hold path items.
    components.remove("pathItems");
}

fn walk_path_item(item: &mut Value) {
    let Some(item) = item.as_object_mut() else {
        return;
    };
    for_each_element(item.get_mut("parameters"), walk_parameter);
    for key in OPERATION_KEYS {
        if let Some(op) = item.get_mut(key).and_then(Value::as_object_mut) {
            for_each_element(op.get_mut("parameters"), walk_parameter);
            if let Some(body) = op.get_mut("requestBody") {
                walk_request_body(body);
            }
            for_each_value(op.get_mut("responses"), walk_response);
            if let Some(callbacks) = op.get_mut("callbacks").and_then(Value::as_object_mut) {
                for callback in callbacks.values_mut() {
                    for_each_value(Some(callback), walk_path_item);
                }
            }
        }
    }
}

/// A parameter or a header: both carry a `schema` or a `content` map.
fn walk_parameter(param: &mut Value) {
    let Some(param) = param.as_object_mut() else {
        return;
    };
    if let Some(schema) = param.get_mut("schema") {
        walk_schema(schema);
    }
    for_each_value(param.get_mut("content"), walk_media_type);
}

fn walk_request_body(body: &mut Value) {
    if let Some(body) = body.as_object_mut() {
        for_each_value(body.get_mut("content"), walk_media_type);
    }
}

fn walk_response(response: &mut Value) {
    let Some(response) = response.as_object_mut() else {
        return;
    };
    for_each_value(response.get_mut("content"), walk_media_type);
    for_each_value(response.get_mut("headers"), walk_parameter);
}

fn walk_media_type(media: &mut Value) {
    let Some(media) = media.as_object_mut() else {
        return;
    };
    if let Some(schema) = media.get_mut("schema") {
        walk_schema(schema);
    }
    for_each_value(media.get_mut("encoding"), |encoding| {
        if let Some(encoding) = encoding.as_object_mut() {
            for_each_value(encoding.get_mut("headers"), walk_parameter);
        }
    });
}

/// Rewrites one schema and every schema nested in it.
pub fn walk_schema(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };

    // Nested schemas first, so each level is rewritten exactly once.
    for key in [
        "properties",
        "patternProperties",
        "$defs",
        "definitions",
        "dependentSchemas",
    ] {
        for_each_value(obj.get_mut(key), walk_schema);
    }
    for key in ["allOf", "anyOf", "oneOf", "prefixItems"] {
        for_each_element(obj.get_mut(key), walk_schema);
    }
    for key in [
        "items",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
    ] {
        if let Some(inner) = obj.get_mut(key) {
            walk_schema(inner);
        }
    }

    rewrite_type_array(obj);
    rewrite_null_alternatives(obj);
    if let Some(value) = obj.remove("const") {
        obj.insert("enum".into(), Value::Array(vec![value]));
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if obj.get(exclusive).is_some_and(Value::is_number) {
            let limit = obj.remove(exclusive).expect("checked above");
            obj.insert(bound.into(), limit);
            obj.insert(exclusive.into(), Value::Bool(true));
        }
    }
    if let Some(examples) = obj.remove("examples") {
        if !obj.contains_key("example") {
            if let Some(first) = examples.as_array().and_then(|a| a.first()) {
                obj.insert("example".into(), first.clone());
            }
        }
    }
    // Keywords 3.0 schemas do not know; dropping them loses no shape progenitor can express.
    for key in [
        "$schema",
        "$id",
        "$anchor",
        "$comment",
        "$dynamicAnchor",
        "contentMediaType",
    ] {
        obj.remove(key);
    }
    // In 3.1 `$ref` may have siblings; in 3.0 it may not. Keep the reference, wrap the rest.
    if obj.contains_key("$ref") && obj.len() > 1 {
        let reference = obj.remove("$ref").expect("checked above");
        let mut wrapper = Map::new();
        wrapper.insert("$ref".into(), reference);
        obj.insert("allOf".into(), Value::Array(vec![Value::Object(wrapper)]));
    }
}

/// `type: [string, "null"]` becomes `type: string, nullable: true`; several non-null types become
/// an `anyOf` with one branch per type.
fn rewrite_type_array(obj: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = obj.get("type") else {
        return;
    };
    let mut names: Vec<Value> = types.clone();
    let had_null = names.iter().any(|t| t == "null");
    names.retain(|t| t != "null");
    obj.remove("type");
    if had_null {
        obj.insert("nullable".into(), Value::Bool(true));
    }
    match names.len() {
        0 => {}
        1 => {
            obj.insert("type".into(), names.remove(0));
        }
        _ => {
            let branches = names
                .into_iter()
                .map(|t| {
                    let mut branch = Map::new();
                    branch.insert("type".into(), t);
                    Value::Object(branch)
                })
                .collect();
            obj.insert("anyOf".into(), Value::Array(branches));
        }
    }
}

/// `anyOf`/`oneOf` with a `{type: "null"}` branch becomes the other branches plus `nullable`.
fn rewrite_null_alternatives(obj: &mut Map<String, Value>) {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = obj.get_mut(key) else {
            continue;
        };
        let before = branches.len();
        branches.retain(|b| !is_null_schema(b));
        if branches.len() == before {
            continue;
        }
        obj.insert("nullable".into(), Value::Bool(true));
        let branches = match obj.get(key) {
            Some(Value::Array(b)) => b.clone(),
            _ => continue,
        };
        if branches.len() == 1 {
            obj.remove(key);
            obj.insert("allOf".into(), Value::Array(branches));
        } else if branches.is_empty() {
            obj.remove(key);
        }
    }
}

fn is_null_schema(schema: &Value) -> bool {
    let Some(obj) = schema.as_object() else {
        return false;
    };
    // A walked `{type: "null"}` has already become `{nullable: true}`.
    match obj.get("type") {
        Some(t) => t == "null" && obj.len() == 1,
        None => obj.len() == 1 && obj.get("nullable") == Some(&Value::Bool(true)),
    }
}

fn for_each_value(map: Option<&mut Value>, mut f: impl FnMut(&mut Value)) {
    if let Some(map) = map.and_then(Value::as_object_mut) {
        for (key, value) in map.iter_mut() {
            if !key.starts_with("x-") {
                f(value);
            }
        }
    }
}

fn for_each_element(list: Option<&mut Value>, f: impl FnMut(&mut Value)) {
    if let Some(list) = list.and_then(Value::as_array_mut) {
        list.iter_mut().for_each(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small 3.1 document that uses every construct the normalizer rewrites, with user data
    /// that looks like those constructs and must survive.
    fn sample() -> Value {
        serde_yaml_ng::from_str(
            r#"
openapi: 3.1.0
jsonSchemaDialect: https://spec.openapis.org/oas/3.1/dialect/base
info: { title: t, version: '1', license: { name: MIT, identifier: MIT } }
paths:
  /things:
    get:
      operationId: listThings
      parameters:
        - name: limit
          in: query
          schema: { type: integer, exclusiveMinimum: 0, exclusiveMaximum: 101 }
          examples:
            small: { value: 5 }
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { type: array, items: { $ref: '#/components/schemas/Thing' } }
              examples:
                one: { value: { type: [string, 'null'], const: 1 } }
components:
  schemas:
    Thing:
      type: object
      x-internal: { type: [string, 'null'] }
      properties:
        type: { type: [string, 'null'], examples: [a, b], default: [x, 'null'] }
        const: { const: fixed }
        mixed: { type: [string, integer] }
        mixed_null: { type: [string, integer, 'null'] }
        kind: { type: string, enum: [string, 'null'] }
        maybe_ref: { oneOf: [{ $ref: '#/components/schemas/Other' }, { type: 'null' }] }
        ref_with_doc: { $ref: '#/components/schemas/Other', description: kept }
        nested:
          type: array
          items: { type: [number, 'null'], exclusiveMinimum: 1.5 }
        both: { type: integer, minimum: 3, exclusiveMinimum: true }
      additionalProperties: { type: [boolean, 'null'] }
    Other: { type: object, example: { const: 1 } }
"#,
        )
        .unwrap()
    }

    fn normalized() -> Value {
        let mut doc = sample();
        normalize(&mut doc);
        doc
    }

    fn thing_property(doc: &Value, name: &str) -> Value {
        doc["components"]["schemas"]["Thing"]["properties"][name].clone()
    }

    #[test]
    fn the_version_becomes_3_0_3_and_3_1_only_members_are_dropped() {
        let doc = normalized();
        assert_eq!(doc["openapi"], "3.0.3");
        assert!(doc.get("jsonSchemaDialect").is_none());
        assert_eq!(doc["info"]["license"], json!({"name": "MIT"}));
    }

    #[test]
    fn a_type_array_with_null_becomes_nullable() {
        let doc = normalized();
        let prop = thing_property(&doc, "type");
        assert_eq!(prop["type"], "string");
        assert_eq!(prop["nullable"], true);
        let nested = &doc["components"]["schemas"]["Thing"]["properties"]["nested"]["items"];
        assert_eq!(nested["type"], "number");
        assert_eq!(nested["nullable"], true);
        let extra = &doc["components"]["schemas"]["Thing"]["additionalProperties"];
        assert_eq!(extra, &json!({"type": "boolean", "nullable": true}));
    }

    #[test]
    fn several_types_become_any_of() {
        let doc = normalized();
        assert_eq!(
            thing_property(&doc, "mixed"),
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]})
        );
        assert_eq!(
            thing_property(&doc, "mixed_null"),
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": true})
        );
    }

    #[test]
    fn const_becomes_a_one_value_enum() {
        let doc = normalized();
        assert_eq!(thing_property(&doc, "const"), json!({"enum": ["fixed"]}));
    }

    #[test]
    fn numeric_exclusive_bounds_become_the_boolean_form() {
        let doc = normalized();
        let limit = &doc["paths"]["/things"]["get"]["parameters"][0]["schema"];
        assert_eq!(
            limit,
            &json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true,
                    "maximum": 101, "exclusiveMaximum": true})
        );
        let nested = &doc["components"]["schemas"]["Thing"]["properties"]["nested"]["items"];
        assert_eq!(nested["minimum"], 1.5);
        assert_eq!(nested["exclusiveMinimum"], true);
        // Already in the 3.0 form: untouched.
        assert_eq!(
            thing_property(&doc, "both"),
            json!({"type": "integer", "minimum": 3, "exclusiveMinimum": true})
        );
    }

    #[test]
    fn schema_examples_become_example_and_media_examples_stay() {
        let doc = normalized();
        let prop = thing_property(&doc, "type");
        assert_eq!(prop["example"], "a");
        assert!(prop.get("examples").is_none());
        // Parameter and media-type `examples` are maps of Example objects in 3.0 too.
        let param = &doc["paths"]["/things"]["get"]["parameters"][0];
        assert_eq!(param["examples"], json!({"small": {"value": 5}}));
    }

    #[test]
    fn user_data_is_never_rewritten() {
        let doc = normalized();
        let prop = thing_property(&doc, "type");
        assert_eq!(prop["default"], json!(["x", "null"]));
        assert_eq!(
            thing_property(&doc, "kind")["enum"],
            json!(["string", "null"])
        );
        let media =
            &doc["paths"]["/things"]["get"]["responses"]["200"]["content"]["application/json"];
        assert_eq!(
            media["examples"]["one"]["value"],
            json!({"type": ["string", "null"], "const": 1})
        );
        let thing = &doc["components"]["schemas"]["Thing"];
        assert_eq!(thing["x-internal"], json!({"type": ["string", "null"]}));
        assert_eq!(
            doc["components"]["schemas"]["Other"]["example"],
            json!({"const": 1})
        );
    }

    #[test]
    fn property_names_that_are_keywords_stay() {
        let doc = normalized();
        let props = doc["components"]["schemas"]["Thing"]["properties"]
            .as_object()
            .unwrap();
        assert!(props.contains_key("type"));
        assert!(props.contains_key("const"));
    }

    #[test]
    fn a_null_branch_of_one_of_becomes_nullable() {
        let doc = normalized();
        assert_eq!(
            thing_property(&doc, "maybe_ref"),
            json!({"allOf": [{"$ref": "#/components/schemas/Other"}], "nullable": true})
        );
    }

    #[test]
    fn a_ref_with_siblings_is_wrapped_in_all_of() {
        let doc = normalized();
        assert_eq!(
            thing_property(&doc, "ref_with_doc"),
            json!({"allOf": [{"$ref": "#/components/schemas/Other"}], "description": "kept"})
        );
    }

    #[test]
    fn the_result_parses_as_openapi_3_0() {
        let doc = normalized();
        let parsed: Result<openapiv3::OpenAPI, _> = serde_json::from_value(doc);
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn a_3_0_document_is_left_alone() {
        let mut doc = json!({"openapi": "3.0.3", "components": {"schemas": {"A": {"const": 1}}}});
        let before = doc.clone();
        normalize(&mut doc);
        assert_eq!(doc, before);
    }
}
