//! Build-time code generation for `deno-deploy`: turns an OpenAPI document into Rust source.
//!
//! It reads YAML or JSON, normalizes OpenAPI 3.1 to the 3.0 model progenitor understands, takes
//! out the parameters progenitor refuses (recording each), and generates a builder-style client
//! whose response types tolerate answers from a newer server. It runs from `build.rs`; nothing
//! here is part of the published library's API.

pub mod forward;
pub mod normalize;
pub mod pagination;
pub mod secrets;
pub mod unsupported;

use std::fmt;

pub use pagination::{ListOperation, PageShape};
pub use unsupported::RemovedParameter;

/// What the caller wants generated, beyond the spec itself.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Extra derives for every generated type (for example `schemars::JsonSchema`).
    pub derives: Vec<String>,
    /// Schemas replaced by hand-written types: (schema name, Rust path of the replacement).
    pub replacements: Vec<(String, String)>,
    /// A type stored in the generated `Client` and handed to its hooks.
    pub inner_type: Option<String>,
}

/// The generated client and what was left out of it.
#[derive(Debug)]
pub struct Generated {
    /// Formatted Rust source of the client and its types.
    pub code: String,
    /// Parameters removed because progenitor cannot express them.
    pub removed: Vec<RemovedParameter>,
    /// Number of operations in the generated client.
    pub operations: usize,
    /// The list operations, each to be given `.stream()` and `.pages()`.
    pub lists: Vec<ListOperation>,
}

/// A generation failure, naming the part of the spec that caused it.
#[derive(Debug)]
pub struct GenerateError {
    /// Which step failed: `parse`, `normalize`, `model`, `generate` or `format`.
    pub stage: &'static str,
    /// What failed and where, in words.
    pub message: String,
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpenAPI {} step failed: {}", self.stage, self.message)
    }
}

impl std::error::Error for GenerateError {}

fn fail(stage: &'static str, message: impl Into<String>) -> GenerateError {
    GenerateError {
        stage,
        message: message.into(),
    }
}

/// Parses `source` (YAML, which includes JSON) into a JSON value tree.
///
/// # Errors
/// A syntax error, with the line and column the YAML parser reports.
pub fn parse_document(source: &str) -> Result<serde_json::Value, GenerateError> {
    serde_yaml_ng::from_str(source).map_err(|e| fail("parse", e.to_string()))
}

/// Normalizes `doc` and removes unsupported parameters, returning the 3.0 model and the record
/// of what was removed.
///
/// # Errors
/// A document that does not fit the OpenAPI 3.0 model after normalization, with the JSON path
/// of the offending member.
pub fn prepare(
    mut doc: serde_json::Value,
) -> Result<(openapiv3::OpenAPI, Vec<RemovedParameter>), GenerateError> {
    normalize::normalize(&mut doc);
    let removed =
        unsupported::remove_unsupported_parameters(&mut doc).map_err(|e| fail("normalize", e))?;
    let spec = from_value_with_path(doc)?;
    Ok((spec, removed))
}

fn from_value_with_path(doc: serde_json::Value) -> Result<openapiv3::OpenAPI, GenerateError> {
    // serde_json reports no path for a value tree, so locate the failure by trying each
    // top-level member and each path on its own.
    serde_json::from_value::<openapiv3::OpenAPI>(doc.clone()).map_err(|whole| {
        let mut place = String::from("the document");
        if let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                if serde_json::from_value::<openapiv3::PathItem>(item.clone()).is_err() {
                    place = format!("paths.{path}");
                    break;
                }
            }
        }
        if let Some(schemas) = doc
            .pointer("/components/schemas")
            .and_then(|s| s.as_object())
        {
            for (name, schema) in schemas {
                if serde_json::from_value::<openapiv3::Schema>(schema.clone()).is_err() {
                    place = format!("components.schemas.{name}");
                    break;
                }
            }
        }
        fail(
            "model",
            format!("{place} does not fit OpenAPI 3.0: {whole}"),
        )
    })
}

/// Generates the client for `source` with `settings`.
///
/// # Errors
/// Any step's failure; a generator refusal names each operation that cannot be generated.
pub fn generate(source: &str, settings: &Settings) -> Result<Generated, GenerateError> {
    let mut doc = parse_document(source)?;
    normalize::normalize(&mut doc);
    opaque_ids(&mut doc);
    let (spec, removed) = prepare(doc)?;
    let operations = count_operations(&spec);
    let lists = pagination::list_operations(&spec);
    let tokens = generator(settings)?
        .generate_tokens(&spec)
        .map_err(|e| fail("generate", explain_refusal(&spec, settings, e)))?;
    let mut file = syn::parse2::<syn::File>(tokens).map_err(|e| fail("format", e.to_string()))?;
    forward::tolerate_newer_answers(&mut file);
    secrets::redact_values(&mut file);
    Ok(Generated {
        code: prettyplease::unparse(&file),
        removed,
        operations,
        lists,
    })
}

/// Identifiers are opaque: a `format: uuid` string becomes a plain `String` in the generated
/// types, so an id in another shape from a newer server still parses. Requests are still checked
/// against the format before they are sent (the validator reads the unmodified spec).
fn opaque_ids(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if map.get("format").and_then(|f| f.as_str()) == Some("uuid")
                && map.get("type").and_then(|t| t.as_str()) == Some("string")
            {
                map.remove("format");
            }
            map.values_mut().for_each(opaque_ids);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(opaque_ids),
        _ => {}
    }
}

fn generator(settings: &Settings) -> Result<progenitor::Generator, GenerateError> {
    let mut gen = progenitor::GenerationSettings::new();
    gen.with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged);
    for derive in &settings.derives {
        gen.with_derive(derive);
    }
    for (schema, path) in &settings.replacements {
        gen.with_replacement(schema, path, std::iter::empty());
    }
    if let Some(inner) = &settings.inner_type {
        let tokens = inner
            .parse::<proc_macro2::TokenStream>()
            .map_err(|e| fail("generate", format!("inner type {inner:?}: {e}")))?;
        gen.with_inner_type(tokens);
    }
    Ok(progenitor::Generator::new(&gen))
}

fn count_operations(spec: &openapiv3::OpenAPI) -> usize {
    spec.paths
        .iter()
        .filter_map(|(_, item)| item.as_item())
        .map(|item| item.iter().count())
        .sum()
}

/// progenitor stops at its first refusal without saying where; find each operation that fails
/// on its own so the message points at the spec.
fn explain_refusal(
    spec: &openapiv3::OpenAPI,
    settings: &Settings,
    whole: progenitor::Error,
) -> String {
    let mut culprits = Vec::new();
    for (path, item) in spec.paths.iter() {
        let Some(item) = item.as_item() else { continue };
        for (method, op) in item.iter() {
            let mut single = spec.clone();
            let mut only = openapiv3::PathItem {
                parameters: item.parameters.clone(),
                ..Default::default()
            };
            match method {
                "get" => only.get = Some(op.clone()),
                "put" => only.put = Some(op.clone()),
                "post" => only.post = Some(op.clone()),
                "delete" => only.delete = Some(op.clone()),
                "options" => only.options = Some(op.clone()),
                "head" => only.head = Some(op.clone()),
                "patch" => only.patch = Some(op.clone()),
                _ => only.trace = Some(op.clone()),
            }
            single.paths.paths.clear();
            single
                .paths
                .paths
                .insert(path.clone(), openapiv3::ReferenceOr::Item(only));
            let Ok(mut gen) = generator(settings) else {
                continue;
            };
            if let Err(e) = gen.generate_tokens(&single) {
                let id = op.operation_id.as_deref().unwrap_or("(no operationId)");
                culprits.push(format!("{} {path} ({id}): {e}", method.to_uppercase()));
            }
        }
    }
    if culprits.is_empty() {
        format!("{whole} (no single operation fails alone; the cause is in shared components)")
    } else {
        culprits.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = include_str!("../../openapi/deno-deploy-v2-api-openapi.yml");

    #[test]
    fn the_vendored_spec_generates_every_operation() {
        let generated = generate(SPEC, &Settings::default()).unwrap();
        assert_eq!(generated.operations, 12);
        for op in [
            "list_apps",
            "deploy_app",
            "stream_revision_progress",
            "get_app_logs",
        ] {
            assert!(
                generated.code.contains(&format!("pub fn {op}(")),
                "{op} missing"
            );
        }
        assert_eq!(generated.removed.len(), 1);
        assert_eq!(generated.removed[0].name, "labels");
        assert_eq!(generated.removed[0].style, "deepObject");
    }

    #[test]
    fn every_generated_string_enum_ends_with_a_catch_all() {
        let generated = generate(SPEC, &Settings::default()).unwrap();
        let file: syn::File = syn::parse_str(&generated.code).unwrap();
        let syn::Item::Mod(types) = file
            .items
            .iter()
            .find(|i| matches!(i, syn::Item::Mod(m) if m.ident == "types"))
            .unwrap()
        else {
            unreachable!()
        };
        let mut open = Vec::new();
        for item in &types.content.as_ref().unwrap().1 {
            let syn::Item::Enum(e) = item else { continue };
            let untagged = e.attrs.iter().any(|a| a.path().is_ident("serde"));
            if untagged {
                continue;
            }
            let last = e.variants.last().unwrap();
            assert_eq!(last.ident, "Unknown", "{} has no catch-all", e.ident);
            open.push(e.ident.to_string());
        }
        // Every enum of a response, and the request-only ones too (queries, assets).
        for name in [
            "RevisionStatus",
            "RevisionListItemStatus",
            "StageStatusStatus",
            "DeployingStageStatusStatus",
            "DeploymentTimelineStatus",
            "RuntimeLogEntryLevel",
            "RuntimeType",
            "EnvVarContextsString",
            "ListRevisionsStatus",
            "AssetKind",
        ] {
            assert!(
                open.iter().any(|o| o == name),
                "{name} missing from {open:?}"
            );
        }
    }

    #[test]
    fn ids_are_plain_strings_in_the_generated_types() {
        let generated = generate(SPEC, &Settings::default()).unwrap();
        assert!(!generated.code.contains("uuid::Uuid"));
    }

    #[test]
    fn a_refusal_names_the_operation_and_the_reason() {
        // A header parameter with a style progenitor does not know survives removal only if it
        // is `simple`; force a refusal with an unsupported request body media type instead.
        let spec = r#"
openapi: 3.0.3
info: { title: t, version: '1' }
paths:
  /ok: { get: { operationId: fine, responses: { '204': { description: ok } } } }
  /bad:
    post:
      operationId: broken
      requestBody:
        required: true
        content: { application/x-weird: { schema: { type: object } } }
      responses: { '204': { description: ok } }
"#;
        let err = generate(spec, &Settings::default()).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.stage, "generate");
        assert!(text.contains("POST /bad (broken)"), "{text}");
        assert!(!text.contains("fine"), "{text}");
    }

    #[test]
    fn a_model_error_names_the_schema() {
        let spec = r#"
openapi: 3.1.0
info: { title: t, version: '1' }
paths: {}
components:
  schemas:
    Good: { type: string }
    Bad: { type: object, required: 7 }
"#;
        let err = generate(spec, &Settings::default()).unwrap_err();
        assert_eq!(err.stage, "model");
        assert!(
            err.message.contains("components.schemas.Bad"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_yaml_error_gives_its_line() {
        let err = parse_document("openapi: 3.1.0\ninfo: [unclosed\n").unwrap_err();
        assert_eq!(err.stage, "parse");
        assert!(err.message.contains("line"), "{}", err.message);
    }
}
