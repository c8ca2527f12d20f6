//! Finds the spec's list operations, so each one pages with `.stream()` without a hand edit.
//!
//! A list operation takes a `cursor` query parameter and answers either a JSON array of a named
//! schema (the next cursor travels in the `Link` header) or an object holding such an array and a
//! `cursor` string. Lists of any other shape are left to hand-written code.

use heck::{ToPascalCase, ToSnakeCase};
use openapiv3::{OpenAPI, Parameter, ReferenceOr, Schema, SchemaKind, StatusCode, Type};

/// One list operation and the shape of its pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOperation {
    /// The generated builder's name (`ListApps`).
    pub builder: String,
    /// The operation id as request hooks see it (`list_apps`).
    pub operation: String,
    /// The generated type of one listed item (`AppListItem`).
    pub item: String,
    /// Where the items and the next cursor are.
    pub page: PageShape,
}

/// Where a page keeps its items and its next cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageShape {
    /// The body is the array of items; the next cursor is in the `Link` header.
    Array,
    /// The body is an object: the items are in `items`, the next cursor in its `cursor` field.
    Object {
        /// The generated type of the body (`RuntimeLogsResponse`).
        body: String,
        /// The Rust name of the field that holds the items (`logs`).
        items: String,
    },
}

// Not yet: lists of unnamed item schemas, or pages with several arrays; until then such a list
// needs a `paginated!` line by hand in the library's pagination module.

/// Every list operation of `spec`, in the order of its paths.
pub fn list_operations(spec: &OpenAPI) -> Vec<ListOperation> {
    let mut found = Vec::new();
    for (_, item) in spec.paths.iter() {
        let Some(item) = item.as_item() else { continue };
        for (_, op) in item.iter() {
            let Some(id) = op.operation_id.as_deref() else {
                continue;
            };
            let params = op.parameters.iter().chain(&item.parameters);
            if !params.into_iter().any(|p| is_cursor_query(spec, p)) {
                continue;
            }
            let Some((item, page)) = success_schema(spec, op).and_then(|s| page_shape(spec, s))
            else {
                continue;
            };
            found.push(ListOperation {
                builder: id.to_pascal_case(),
                operation: id.to_snake_case(),
                item,
                page,
            });
        }
    }
    found
}

/// Rust source implementing `Paginated` for each of `operations`, through the `paginated!` macro
/// of the library's pagination module.
pub fn paginated_source(operations: &[ListOperation]) -> String {
    let mut source = String::from("// Generated from the spec's list operations by build.rs.\n");
    for op in operations {
        let line = match &op.page {
            PageShape::Array => format!(
                "paginated!({}, types::{}, {:?});\n",
                op.builder, op.item, op.operation
            ),
            PageShape::Object { body, items } => format!(
                "paginated!({}, types::{}, {:?}, types::{body}, {items});\n",
                op.builder, op.item, op.operation
            ),
        };
        source.push_str(&line);
    }
    source
}

fn is_cursor_query(spec: &OpenAPI, param: &ReferenceOr<Parameter>) -> bool {
    let param = match param {
        ReferenceOr::Item(param) => Some(param),
        ReferenceOr::Reference { reference } => reference
            .strip_prefix("#/components/parameters/")
            .and_then(|name| spec.components.as_ref()?.parameters.get(name)?.as_item()),
    };
    matches!(param, Some(Parameter::Query { parameter_data, .. }) if parameter_data.name == "cursor")
}

/// The JSON schema of the operation's 200 answer (or its first 2xx answer).
fn success_schema<'a>(
    spec: &'a OpenAPI,
    op: &'a openapiv3::Operation,
) -> Option<&'a ReferenceOr<Schema>> {
    let responses = &op.responses.responses;
    let response = responses.get(&StatusCode::Code(200)).or_else(|| {
        responses
            .iter()
            .find(|(code, _)| matches!(code, StatusCode::Code(c) if (200..300).contains(c)))
            .map(|(_, r)| r)
    })?;
    let response = match response {
        ReferenceOr::Item(response) => response,
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/responses/")?;
            spec.components.as_ref()?.responses.get(name)?.as_item()?
        }
    };
    response.content.get("application/json")?.schema.as_ref()
}

fn page_shape(spec: &OpenAPI, schema: &ReferenceOr<Schema>) -> Option<(String, PageShape)> {
    match schema {
        ReferenceOr::Item(schema) => Some((array_item(schema)?, PageShape::Array)),
        ReferenceOr::Reference { reference } => {
            let name = schema_name(reference)?;
            let body = spec.components.as_ref()?.schemas.get(name)?.as_item()?;
            let SchemaKind::Type(Type::Object(object)) = &body.schema_kind else {
                return None;
            };
            let has_cursor = object.properties.get("cursor").is_some_and(|c| {
                matches!(
                    c.as_item().map(|c| &c.schema_kind),
                    Some(SchemaKind::Type(Type::String(_)))
                )
            });
            // Exactly one array of named items, or the page's items are ambiguous.
            let mut arrays = object.properties.iter().filter_map(|(field, property)| {
                let item = array_item(property.as_item()?)?;
                Some((field, item))
            });
            let (field, item) = arrays.next()?;
            if !has_cursor || arrays.next().is_some() {
                return None;
            }
            let page = PageShape::Object {
                body: name.to_pascal_case(),
                items: field.to_snake_case(),
            };
            Some((item, page))
        }
    }
}

/// The type name of an array's items, when they are a named schema.
fn array_item(schema: &Schema) -> Option<String> {
    let SchemaKind::Type(Type::Array(array)) = &schema.schema_kind else {
        return None;
    };
    match array.items.as_ref()? {
        ReferenceOr::Reference { reference } => Some(schema_name(reference)?.to_pascal_case()),
        ReferenceOr::Item(_) => None,
    }
}

fn schema_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("#/components/schemas/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> OpenAPI {
        crate::prepare(crate::parse_document(yaml).unwrap())
            .unwrap()
            .0
    }

    #[test]
    fn the_vendored_spec_has_three_lists_of_two_shapes() {
        let spec = spec(include_str!("../../openapi/deno-deploy-v2-api-openapi.yml"));
        let found = list_operations(&spec);
        let names: Vec<_> = found.iter().map(|op| op.operation.as_str()).collect();
        assert_eq!(names, ["list_apps", "get_app_logs", "list_revisions"]);
        assert_eq!(found[0].builder, "ListApps");
        assert_eq!(found[0].item, "AppListItem");
        assert_eq!(found[0].page, PageShape::Array);
        assert_eq!(found[1].item, "RuntimeLogEntry");
        assert_eq!(
            found[1].page,
            PageShape::Object {
                body: "RuntimeLogsResponse".into(),
                items: "logs".into()
            }
        );
        let source = paginated_source(&found);
        assert!(
            source.contains("paginated!(ListApps, types::AppListItem, \"list_apps\");"),
            "{source}"
        );
        assert!(
            source.contains(
                "paginated!(GetAppLogs, types::RuntimeLogEntry, \"get_app_logs\", \
                 types::RuntimeLogsResponse, logs);"
            ),
            "{source}"
        );
    }

    #[test]
    fn the_bumped_fixture_spec_generates_and_adds_the_layer_list() {
        let source = include_str!("../../tests/fixtures/bumped-spec.yml");
        let generated = crate::generate(source, &crate::Settings::default()).unwrap();
        assert_eq!(generated.operations, 13);
        let layers = generated
            .lists
            .iter()
            .find(|l| l.operation == "list_layers");
        assert_eq!(
            layers,
            Some(&ListOperation {
                builder: "ListLayers".into(),
                operation: "list_layers".into(),
                item: "Layer".into(),
                page: PageShape::Array,
            })
        );
        assert!(generated.code.contains("Archived"));
    }

    #[test]
    fn a_broken_schema_in_a_bumped_spec_is_named_in_the_error() {
        let source = include_str!("../../tests/fixtures/bumped-spec.yml").replace(
            "      required: [id, slug]\n      properties:\n        id:\n          type: string\n          description: Unique identifier for the layer",
            "      required: 7\n      properties:\n        id:\n          type: string\n          description: Unique identifier for the layer",
        );
        let err = crate::generate(&source, &crate::Settings::default()).unwrap_err();
        assert_eq!(err.stage, "model");
        assert!(
            err.message
                .starts_with("components.schemas.Layer does not fit"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_list_without_a_cursor_or_of_unnamed_items_is_left_out() {
        let spec = spec(
            r#"
openapi: 3.0.3
info: { title: t, version: '1' }
paths:
  /plain:
    get:
      operationId: listPlain
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { type: array, items: { $ref: '#/components/schemas/Thing' } }
  /inline:
    get:
      operationId: listInline
      parameters: [{ name: cursor, in: query, schema: { type: string } }]
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { type: array, items: { type: object } }
  /things:
    get:
      operationId: listThings
      parameters: [{ name: cursor, in: query, schema: { type: string } }]
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { type: array, items: { $ref: '#/components/schemas/Thing' } }
components:
  schemas:
    Thing: { type: object, properties: { id: { type: string } } }
"#,
        );
        let found = list_operations(&spec);
        assert_eq!(
            found,
            [ListOperation {
                builder: "ListThings".into(),
                operation: "list_things".into(),
                item: "Thing".into(),
                page: PageShape::Array,
            }]
        );
    }
}
