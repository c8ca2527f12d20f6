//! Compares two versions of an OpenAPI document and sorts every difference into changes that
//! break existing callers and changes that do not.
//!
//! Both documents are read as plain JSON trees (OpenAPI 3.0 or 3.1, YAML or JSON); `$ref`s are
//! followed within each document. Nothing here generates code or talks to a network.

#![deny(missing_docs)]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

/// One difference between the two documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where it is: the operation (`GET /apps/{app}`), the part of it (`response 200`,
    /// `request`, `query parameter limit`) and the schema path (`App.slug`).
    pub location: String,
    /// What changed, in words (`removed`, `maxLength lowered from 128 to 64`).
    pub detail: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.detail)
    }
}

/// Every difference found, split by whether it breaks callers written against the old document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Changes after which a caller written against the old document can fail to build, be
    /// refused by the server, or fail to read a response.
    pub breaking: Vec<Change>,
    /// Changes old callers do not notice: new operations, optional fields, widened inputs.
    pub additions: Vec<Change>,
}

impl Report {
    /// Whether any change breaks callers.
    pub fn breaks_callers(&self) -> bool {
        !self.breaking.is_empty()
    }

    /// Whether the two documents describe the same API.
    pub fn is_empty(&self) -> bool {
        self.breaking.is_empty() && self.additions.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "No changes.");
        }
        for (title, changes) in [
            ("Breaking changes", &self.breaking),
            ("Non-breaking changes", &self.additions),
        ] {
            if changes.is_empty() {
                continue;
            }
            writeln!(f, "{title} ({}):", changes.len())?;
            for change in changes {
                writeln!(f, "  {change}")?;
            }
        }
        writeln!(
            f,
            "{} breaking, {} non-breaking",
            self.breaking.len(),
            self.additions.len()
        )
    }
}

/// A document that could not be read or is not an OpenAPI document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// Reads and parses the OpenAPI document at `path`.
///
/// # Errors
/// The file cannot be read, is not YAML or JSON, or has no `openapi` version.
pub fn load(path: &Path) -> Result<Value, LoadError> {
    let source =
        std::fs::read_to_string(path).map_err(|e| LoadError(format!("{}: {e}", path.display())))?;
    parse(&source).map_err(|e| LoadError(format!("{}: {e}", path.display())))
}

/// Parses an OpenAPI document from YAML or JSON text.
///
/// # Errors
/// The text is not YAML or JSON, or has no `openapi` version.
pub fn parse(source: &str) -> Result<Value, LoadError> {
    let doc: Value = serde_yaml_ng::from_str(source).map_err(|e| LoadError(e.to_string()))?;
    if doc.get("openapi").and_then(Value::as_str).is_none() {
        return Err(LoadError(
            "not an OpenAPI document (no `openapi` version at the top)".into(),
        ));
    }
    Ok(doc)
}

/// Compares `old` with `new` and reports every difference.
pub fn compare(old: &Value, new: &Value) -> Report {
    let mut differ = Differ {
        old,
        new,
        report: Report::default(),
        seen: HashSet::new(),
    };
    differ.operations();
    differ.components();
    differ.report
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Which way a schema's values travel: what the caller sends, or what it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

/// How a rule moved between the two documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shift {
    /// Fewer values are allowed than before.
    Narrowed,
    /// More values are allowed than before.
    Widened,
    /// Neither a subset nor a superset.
    Changed,
}

/// One operation of a document, with the path-level parameters it inherits.
struct Operation<'a> {
    id: Option<&'a str>,
    body: &'a Value,
    path_parameters: Option<&'a Value>,
}

struct Differ<'a> {
    old: &'a Value,
    new: &'a Value,
    report: Report,
    seen: HashSet<(bool, String, String)>,
}

impl<'a> Differ<'a> {
    fn breaking(&mut self, location: &str, detail: impl Into<String>) {
        self.push(true, location, detail.into());
    }

    fn addition(&mut self, location: &str, detail: impl Into<String>) {
        self.push(false, location, detail.into());
    }

    fn push(&mut self, breaking: bool, location: &str, detail: String) {
        // The same schema reached twice from one place reports once.
        if !self
            .seen
            .insert((breaking, location.to_owned(), detail.clone()))
        {
            return;
        }
        let change = Change {
            location: location.to_owned(),
            detail,
        };
        if breaking {
            self.report.breaking.push(change);
        } else {
            self.report.additions.push(change);
        }
    }

    /// A rule that moved: narrowing breaks what callers send, widening breaks what they read
    /// (old clients validate responses against the old rules), and any other change breaks both.
    fn judge(&mut self, direction: Direction, shift: Shift, location: &str, detail: String) {
        let breaks = matches!(
            (direction, shift),
            (_, Shift::Changed)
                | (Direction::Request, Shift::Narrowed)
                | (Direction::Response, Shift::Widened)
        );
        self.push(breaks, location, detail);
    }

    fn operations(&mut self) {
        let old_ops = operations(self.old);
        let new_ops = operations(self.new);

        for (key, old_op) in &old_ops {
            let (method, path) = key;
            let location = format!("{} {path}", method.to_uppercase());
            if let Some(new_op) = new_ops.get(key) {
                if let (Some(old_id), Some(new_id)) = (old_op.id, new_op.id) {
                    if old_id != new_id {
                        self.breaking(
                            &location,
                            format!("operation renamed from {old_id} to {new_id}"),
                        );
                    }
                }
                self.operation(&location, old_op, new_op);
                continue;
            }
            let moved = old_op.id.and_then(|id| {
                new_ops
                    .iter()
                    .find(|(k, op)| op.id == Some(id) && !old_ops.contains_key(*k))
            });
            match moved {
                Some(((new_method, new_path), new_op)) => {
                    self.breaking(
                        &location,
                        format!(
                            "operation {} moved to {} {new_path}",
                            old_op.id.unwrap_or_default(),
                            new_method.to_uppercase()
                        ),
                    );
                    self.operation(&location, old_op, new_op);
                }
                None => self.breaking(
                    &location,
                    format!(
                        "operation {} removed",
                        old_op.id.unwrap_or("(no operationId)")
                    ),
                ),
            }
        }

        for (key, new_op) in &new_ops {
            let moved_here = new_op.id.is_some()
                && old_ops
                    .iter()
                    .any(|(k, op)| op.id == new_op.id && !new_ops.contains_key(k));
            if !old_ops.contains_key(key) && !moved_here {
                let (method, path) = key;
                self.addition(
                    &format!("{} {path}", method.to_uppercase()),
                    format!("new operation {}", new_op.id.unwrap_or("(no operationId)")),
                );
            }
        }
    }

    fn operation(&mut self, location: &str, old: &Operation<'a>, new: &Operation<'a>) {
        self.parameters(location, old, new);
        self.request_body(location, old.body, new.body);
        self.responses(location, old.body, new.body);
    }

    fn parameters(&mut self, location: &str, old: &Operation<'a>, new: &Operation<'a>) {
        let old_params = parameters(self.old, old);
        let new_params = parameters(self.new, new);

        for ((place, name), old_param) in &old_params {
            let here = format!("{location} {place} parameter {name}");
            let Some(new_param) = new_params.get(&(place.clone(), name.clone())) else {
                self.breaking(&here, "removed");
                continue;
            };
            match (is_required(old_param), is_required(new_param)) {
                (false, true) => self.breaking(&here, "now required"),
                (true, false) => self.addition(&here, "no longer required"),
                _ => {}
            }
            if let (Some(old_schema), Some(new_schema)) =
                (old_param.get("schema"), new_param.get("schema"))
            {
                self.schema(
                    &here,
                    String::new(),
                    old_schema,
                    new_schema,
                    Direction::Request,
                    &mut HashSet::new(),
                );
            }
        }
        for ((place, name), new_param) in &new_params {
            if old_params.contains_key(&(place.clone(), name.clone())) {
                continue;
            }
            let here = format!("{location} {place} parameter {name}");
            if is_required(new_param) {
                self.breaking(&here, "new required parameter");
            } else {
                self.addition(&here, "new optional parameter");
            }
        }
    }

    fn request_body(&mut self, location: &str, old_op: &Value, new_op: &Value) {
        let old = old_op.get("requestBody").map(|b| resolve(self.old, b).0);
        let new = new_op.get("requestBody").map(|b| resolve(self.new, b).0);
        let here = format!("{location} request");
        let (old, new) = match (old, new) {
            (None, None) => return,
            (None, Some(new)) => {
                if is_required(new) {
                    self.breaking(&here, "new required request body");
                } else {
                    self.addition(&here, "new optional request body");
                }
                return;
            }
            (Some(_), None) => {
                self.breaking(&here, "request body removed");
                return;
            }
            (Some(old), Some(new)) => (old, new),
        };
        match (is_required(old), is_required(new)) {
            (false, true) => self.breaking(&here, "request body now required"),
            (true, false) => self.addition(&here, "request body no longer required"),
            _ => {}
        }
        self.content(&here, old, new, Direction::Request);
    }

    fn responses(&mut self, location: &str, old_op: &Value, new_op: &Value) {
        let empty = Map::new();
        let old = old_op
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let new = new_op
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);

        for (status, old_response) in old {
            let here = format!("{location} response {status}");
            let Some(new_response) = new.get(status) else {
                // A success callers rely on is gone; a documented error going away is not.
                if status.starts_with('2') || status == "default" {
                    self.breaking(&here, "removed");
                } else {
                    self.addition(&here, "no longer documented");
                }
                continue;
            };
            let old_response = resolve(self.old, old_response).0;
            let new_response = resolve(self.new, new_response).0;
            self.content(&here, old_response, new_response, Direction::Response);
        }
        for status in new.keys() {
            if !old.contains_key(status) {
                self.addition(&format!("{location} response {status}"), "new response");
            }
        }
    }

    /// Compares the media types of a request body or a response.
    fn content(&mut self, location: &str, old: &Value, new: &Value, direction: Direction) {
        let empty = Map::new();
        let old = old
            .get("content")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let new = new
            .get("content")
            .and_then(Value::as_object)
            .unwrap_or(&empty);

        for (media_type, old_media) in old {
            // The usual JSON body goes unnamed; the others are named.
            let here = if media_type == "application/json" {
                location.to_owned()
            } else {
                format!("{location} {media_type}")
            };
            let Some(new_media) = new.get(media_type) else {
                let detail = match direction {
                    Direction::Request => "media type no longer accepted",
                    Direction::Response => "media type no longer returned",
                };
                self.breaking(&here, detail);
                continue;
            };
            if let (Some(old_schema), Some(new_schema)) =
                (old_media.get("schema"), new_media.get("schema"))
            {
                self.schema(
                    &here,
                    String::new(),
                    old_schema,
                    new_schema,
                    direction,
                    &mut HashSet::new(),
                );
            }
        }
        for media_type in new.keys() {
            if !old.contains_key(media_type) {
                self.addition(location, format!("new media type {media_type}"));
            }
        }
    }

    /// Compares two schemas found at the same place; `path` is the schema path so far (empty at
    /// the top, where a `$ref` names it after its component).
    fn schema(
        &mut self,
        location: &str,
        mut path: String,
        old: &Value,
        new: &Value,
        direction: Direction,
        visited: &mut HashSet<(String, String)>,
    ) {
        let (old, old_ref) = resolve(self.old, old);
        let (new, new_ref) = resolve(self.new, new);
        if let (Some(old_ref), Some(new_ref)) = (&old_ref, &new_ref) {
            // A recursive schema is compared once per place it is reached from.
            if !visited.insert((old_ref.clone(), new_ref.clone())) {
                return;
            }
        }
        // A schema named by a `$ref` at the top (or as the items of a top-level array) is
        // located by its name: `App.slug`, `[]App.slug`.
        if path.chars().all(|c| c == '[' || c == ']') {
            if let Some(name) = old_ref.as_deref().and_then(|r| r.rsplit('/').next()) {
                path.push_str(name);
            }
        }
        let old = flatten(self.old, old);
        let new = flatten(self.new, new);
        let here = if path.is_empty() {
            location.to_owned()
        } else {
            format!("{location} {path}")
        };

        self.types(&here, &old, &new, direction);
        self.format(&here, &old, &new, direction);
        self.enums(&here, &old, &new, direction);
        self.bounds(&here, &old, &new, direction);
        self.pattern(&here, &old, &new, direction);
        self.extra_properties(&here, &old, &new, direction);
        self.properties(location, &path, &old, &new, direction, visited);

        let child = |suffix: &str| {
            if path.is_empty() {
                suffix.trim_start_matches('.').to_owned()
            } else {
                format!("{path}{suffix}")
            }
        };
        if let (Some(o), Some(n)) = (old.get("items"), new.get("items")) {
            self.schema(location, child("[]"), o, n, direction, visited);
        }
        if let (Some(o), Some(n)) = (
            old.get("additionalProperties").filter(|v| v.is_object()),
            new.get("additionalProperties").filter(|v| v.is_object()),
        ) {
            self.schema(location, child(".*"), o, n, direction, visited);
        }
        for keyword in ["oneOf", "anyOf"] {
            let old_variants = old.get(keyword).and_then(Value::as_array);
            let new_variants = new.get(keyword).and_then(Value::as_array);
            let (Some(old_variants), Some(new_variants)) = (old_variants, new_variants) else {
                continue;
            };
            for (i, (o, n)) in old_variants.iter().zip(new_variants).enumerate() {
                let suffix = format!(" ({keyword} {})", i + 1);
                self.schema(
                    location,
                    format!("{path}{suffix}"),
                    o,
                    n,
                    direction,
                    visited,
                );
            }
            let (was, is) = (old_variants.len(), new_variants.len());
            if was != is {
                let shift = if is < was {
                    Shift::Narrowed
                } else {
                    Shift::Widened
                };
                self.judge(
                    direction,
                    shift,
                    &here,
                    format!("{keyword} variants went from {was} to {is}"),
                );
            }
        }
    }

    fn types(
        &mut self,
        here: &str,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        d: Direction,
    ) {
        let (Some(was), Some(is)) = (type_set(old), type_set(new)) else {
            return;
        };
        if was == is {
            return;
        }
        let shift = if was.is_subset(&is) {
            Shift::Widened
        } else if is.is_subset(&was) {
            Shift::Narrowed
        } else {
            Shift::Changed
        };
        let verb = match shift {
            Shift::Widened => "widened",
            Shift::Narrowed => "narrowed",
            Shift::Changed => "changed",
        };
        self.judge(
            d,
            shift,
            here,
            format!("type {verb} from {} to {}", join(&was), join(&is)),
        );
    }

    fn format(
        &mut self,
        here: &str,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        d: Direction,
    ) {
        let was = old.get("format").and_then(Value::as_str);
        let is = new.get("format").and_then(Value::as_str);
        if was == is {
            return;
        }
        let shift = match (was, is) {
            (None, Some(_)) => Shift::Narrowed,
            (Some(_), None) => Shift::Widened,
            _ => Shift::Changed,
        };
        self.judge(
            d,
            shift,
            here,
            format!(
                "format changed from {} to {}",
                was.unwrap_or("(none)"),
                is.unwrap_or("(none)")
            ),
        );
    }

    fn enums(
        &mut self,
        here: &str,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        d: Direction,
    ) {
        let was = old.get("enum").and_then(Value::as_array);
        let is = new.get("enum").and_then(Value::as_array);
        match (was, is) {
            (None, None) => {}
            (None, Some(_)) => self.judge(d, Shift::Narrowed, here, "now an enum".into()),
            // The generated enum type becomes a plain value: callers naming variants break.
            (Some(_), None) => self.breaking(here, "no longer an enum"),
            (Some(was), Some(is)) => {
                // A removed value breaks both ways: callers send it, and match on its variant.
                for value in was.iter().filter(|v| !is.contains(v)) {
                    self.breaking(here, format!("enum value {value} removed"));
                }
                for value in is.iter().filter(|v| !was.contains(v)) {
                    self.addition(here, format!("enum value {value} added"));
                }
            }
        }
    }

    fn bounds(
        &mut self,
        here: &str,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        d: Direction,
    ) {
        const UPPER: [&str; 5] = [
            "maxLength",
            "maximum",
            "exclusiveMaximum",
            "maxItems",
            "maxProperties",
        ];
        const LOWER: [&str; 5] = [
            "minLength",
            "minimum",
            "exclusiveMinimum",
            "minItems",
            "minProperties",
        ];
        for (keywords, upper) in [(UPPER, true), (LOWER, false)] {
            for keyword in keywords {
                let was = old.get(keyword).and_then(Value::as_f64);
                let is = new.get(keyword).and_then(Value::as_f64);
                let (shift, detail) = match (was, is) {
                    (None, None) => continue,
                    (Some(a), Some(b)) if a == b => continue,
                    (None, Some(_)) => {
                        (Shift::Narrowed, format!("{keyword} {} added", new[keyword]))
                    }
                    (Some(_), None) => (
                        Shift::Widened,
                        format!("{keyword} {} removed", old[keyword]),
                    ),
                    (Some(a), Some(b)) => {
                        let verb = if b < a { "lowered" } else { "raised" };
                        let shift = if (b < a) == upper {
                            Shift::Narrowed
                        } else {
                            Shift::Widened
                        };
                        (
                            shift,
                            format!("{keyword} {verb} from {} to {}", old[keyword], new[keyword]),
                        )
                    }
                };
                self.judge(d, shift, here, detail);
            }
        }
    }

    fn pattern(
        &mut self,
        here: &str,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        d: Direction,
    ) {
        let was = old.get("pattern").and_then(Value::as_str);
        let is = new.get("pattern").and_then(Value::as_str);
        let (shift, detail) = match (was, is) {
            (a, b) if a == b => return,
            (None, Some(b)) => (Shift::Narrowed, format!("pattern {b:?} added")),
            (Some(a), None) => (Shift::Widened, format!("pattern {a:?} removed")),
            (Some(a), Some(b)) => (
                Shift::Changed,
                format!("pattern changed from {a:?} to {b:?}"),
            ),
            (None, None) => return,
        };
        self.judge(d, shift, here, detail);
    }

    /// `additionalProperties: false` added or taken away. Clients ignore fields they do not
    /// know, so only requests can break.
    fn extra_properties(
        &mut self,
        here: &str,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        d: Direction,
    ) {
        let closed =
            |s: &Map<String, Value>| s.get("additionalProperties") == Some(&Value::Bool(false));
        match (closed(old), closed(new)) {
            (false, true) if d == Direction::Request => {
                self.breaking(here, "additional properties no longer allowed")
            }
            (false, true) => self.addition(here, "additional properties no longer allowed"),
            (true, false) => self.addition(here, "additional properties now allowed"),
            _ => {}
        }
    }

    fn properties(
        &mut self,
        location: &str,
        path: &str,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        direction: Direction,
        visited: &mut HashSet<(String, String)>,
    ) {
        let empty = Map::new();
        let old_props = old
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let new_props = new
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let old_required = required(old);
        let new_required = required(new);
        let at = |name: &str| {
            if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        };

        for (name, old_prop) in old_props {
            let here = format!("{location} {}", at(name));
            let Some(new_prop) = new_props.get(name) else {
                self.breaking(&here, "removed");
                continue;
            };
            match (old_required.contains(name), new_required.contains(name)) {
                (false, true) => {
                    self.judge(direction, Shift::Narrowed, &here, "now required".into())
                }
                (true, false) => self.judge(
                    direction,
                    Shift::Widened,
                    &here,
                    "no longer required".into(),
                ),
                _ => {}
            }
            self.schema(location, at(name), old_prop, new_prop, direction, visited);
        }
        for name in new_props.keys() {
            if old_props.contains_key(name) {
                continue;
            }
            let here = format!("{location} {}", at(name));
            match (direction, new_required.contains(name)) {
                (Direction::Request, true) => self.breaking(&here, "new required field"),
                (Direction::Response, true) => self.addition(&here, "new field, always present"),
                (_, false) => self.addition(&here, "new optional field"),
            }
        }
    }

    /// Removed and added component schemas, and the schemas no operation reaches (stream
    /// payloads, say), compared as what callers read.
    fn components(&mut self) {
        let empty = Map::new();
        let schemas = |doc: &'a Value| {
            doc.pointer("/components/schemas")
                .and_then(Value::as_object)
                .unwrap_or(&empty)
        };
        let (old_schemas, new_schemas) = (schemas(self.old), schemas(self.new));
        let reached = reached_from_paths(self.old);

        for (name, old_schema) in old_schemas {
            let here = format!("schema {name}");
            let Some(new_schema) = new_schemas.get(name) else {
                self.breaking(&here, "removed");
                continue;
            };
            if !reached.contains(name) {
                self.schema(
                    "schema",
                    name.clone(),
                    old_schema,
                    new_schema,
                    Direction::Response,
                    &mut HashSet::new(),
                );
            }
        }
        for name in new_schemas.keys() {
            if !old_schemas.contains_key(name) {
                self.addition(&format!("schema {name}"), "new schema");
            }
        }
    }
}

/// Every operation of `doc`, by (lower-case method, path).
fn operations(doc: &Value) -> BTreeMap<(String, String), Operation<'_>> {
    let mut found = BTreeMap::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return found;
    };
    for (path, item) in paths {
        let item = resolve(doc, item).0;
        for method in METHODS {
            if let Some(body) = item.get(method) {
                found.insert(
                    (method.to_owned(), path.clone()),
                    Operation {
                        id: body.get("operationId").and_then(Value::as_str),
                        body,
                        path_parameters: item.get("parameters"),
                    },
                );
            }
        }
    }
    found
}

/// The parameters of an operation by (location, name), path-level ones overridden by the
/// operation's own.
fn parameters<'a>(doc: &'a Value, op: &Operation<'a>) -> BTreeMap<(String, String), &'a Value> {
    let mut found = BTreeMap::new();
    for list in [op.path_parameters, op.body.get("parameters")]
        .into_iter()
        .flatten()
    {
        for param in list.as_array().into_iter().flatten() {
            let param = resolve(doc, param).0;
            let place = param.get("in").and_then(Value::as_str).unwrap_or("?");
            let name = param.get("name").and_then(Value::as_str).unwrap_or("?");
            found.insert((place.to_owned(), name.to_owned()), param);
        }
    }
    found
}

/// Follows `$ref`s (local ones, `#/...`) to the value they name, returning it and the last
/// reference followed. An unresolvable reference is returned as it is.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> (&'a Value, Option<String>) {
    let mut last = None;
    for _ in 0..32 {
        let Some(target) = value.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(found) = target.strip_prefix('#').and_then(|p| doc.pointer(p)) else {
            break;
        };
        last = Some(target.to_owned());
        value = found;
    }
    (value, last)
}

/// The schema as one object, with the members of an `allOf` merged into it.
fn flatten(doc: &Value, schema: &Value) -> Map<String, Value> {
    flatten_parts(doc, schema, &mut Vec::new())
}

/// [`flatten`], with the `$ref`s being merged on the way down: a part that refers back to one
/// of them (a schema that is `allOf` itself) adds nothing new and is skipped.
fn flatten_parts(doc: &Value, schema: &Value, merging: &mut Vec<String>) -> Map<String, Value> {
    let mut merged = schema.as_object().cloned().unwrap_or_default();
    let Some(parts) = merged.remove("allOf") else {
        return merged;
    };
    for part in parts.as_array().into_iter().flatten() {
        let (target, reference) = resolve(doc, part);
        if let Some(reference) = &reference {
            if merging.contains(reference) {
                continue;
            }
            merging.push(reference.clone());
        }
        let part = flatten_parts(doc, target, merging);
        if reference.is_some() {
            merging.pop();
        }
        for (key, value) in part {
            match (key.as_str(), merged.get_mut(&key)) {
                ("properties", Some(Value::Object(props))) => {
                    if let Value::Object(more) = value {
                        props.extend(more);
                    }
                }
                ("required", Some(Value::Array(names))) => {
                    if let Value::Array(more) = value {
                        names.extend(more);
                    }
                }
                (_, Some(_)) => {}
                (_, None) => {
                    merged.insert(key, value);
                }
            }
        }
    }
    merged
}

/// The JSON types a schema allows, from `type` (a name or a list) and 3.0's `nullable`.
fn type_set(schema: &Map<String, Value>) -> Option<BTreeSet<String>> {
    let mut types: BTreeSet<String> = match schema.get("type")? {
        Value::String(t) => [t.clone()].into(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => return None,
    };
    if schema.get("nullable") == Some(&Value::Bool(true)) {
        types.insert("null".into());
    }
    // Every integer is a number.
    if types.contains("number") {
        types.remove("integer");
    }
    Some(types)
}

fn join(types: &BTreeSet<String>) -> String {
    types.iter().cloned().collect::<Vec<_>>().join("|")
}

fn required(schema: &Map<String, Value>) -> BTreeSet<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn is_required(value: &Value) -> bool {
    value.get("required") == Some(&Value::Bool(true))
}

/// Names of the component schemas reached, directly or through other schemas, from `paths`.
fn reached_from_paths(doc: &Value) -> BTreeSet<String> {
    let mut followed = BTreeSet::new();
    let mut queue = Vec::new();
    if let Some(paths) = doc.get("paths") {
        collect_refs(paths, &mut queue);
    }
    while let Some(target) = queue.pop() {
        if !followed.insert(target.clone()) {
            continue;
        }
        if let Some(found) = target.strip_prefix('#').and_then(|p| doc.pointer(p)) {
            collect_refs(found, &mut queue);
        }
    }
    followed
        .iter()
        .filter_map(|t| t.strip_prefix("#/components/schemas/"))
        .map(str::to_owned)
        .collect()
}

fn collect_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => into.push(target.clone()),
                    _ => collect_refs(value, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, into)),
        _ => {}
    }
}
