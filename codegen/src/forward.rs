//! Makes generated types accept answers from a server newer than the spec.
//!
//! Every string enum gains a last variant that keeps a value the spec does not list, and
//! constrained strings (pattern, length) take what the server sends as it is. Building values by
//! hand stays strict: `FromStr` and `TryFrom` still refuse what the spec does not allow.

use std::collections::BTreeMap;

use syn::{parse_quote, Fields, Item, ItemEnum, ItemImpl, Meta, Type};

// Not yet: an answer without a field the spec requires, or with a field of another type, a
// `date-time` that is not RFC 3339 or a `oneOf` of a new shape; until then it fails to parse.

/// The name of the variant that holds an unlisted value, unless the spec already uses it.
const CATCH_ALL: &str = "Unknown";

/// Rewrites the generated `file` in place; returns the enums given a catch-all variant, each with
/// the name of that variant.
pub fn tolerate_newer_answers(file: &mut syn::File) -> BTreeMap<String, String> {
    let mut enums = BTreeMap::new();
    let mut newtypes = Vec::new();
    collect(&mut file.items, &mut enums, &mut newtypes);
    patch_impls(&mut file.items, &enums, &newtypes);
    enums
}

/// Adds the catch-all variant to each string enum and notes each constrained string newtype.
fn collect(items: &mut [Item], enums: &mut BTreeMap<String, String>, newtypes: &mut Vec<String>) {
    for item in items {
        match item {
            Item::Mod(module) => {
                if let Some((_, inner)) = module.content.as_mut() {
                    collect(inner, enums, newtypes);
                }
            }
            Item::Enum(e) if is_string_enum(e) => {
                let name = catch_all_name(e);
                let ident = syn::Ident::new(&name, proc_macro2::Span::call_site());
                e.variants.push(parse_quote! {
                    /// A value the spec does not list (from a newer server), exactly as received.
                    #[serde(untagged)]
                    #ident(::std::string::String)
                });
                remove_copy(&mut e.attrs);
                enums.insert(e.ident.to_string(), name);
            }
            Item::Struct(s) if is_string_newtype(s) => newtypes.push(s.ident.to_string()),
            _ => {}
        }
    }
}

/// A plain string enum: unit variants only, (de)serialized by derive, no enum-level serde mode.
fn is_string_enum(e: &ItemEnum) -> bool {
    let unit =
        !e.variants.is_empty() && e.variants.iter().all(|v| matches!(v.fields, Fields::Unit));
    let derives_deserialize = e.attrs.iter().any(|a| {
        a.path().is_ident("derive")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string().contains("Deserialize"))
    });
    let serde_mode = e.attrs.iter().any(|a| a.path().is_ident("serde"));
    unit && derives_deserialize && !serde_mode
}

fn catch_all_name(e: &ItemEnum) -> String {
    let mut name = CATCH_ALL.to_owned();
    while e.variants.iter().any(|v| v.ident == name) {
        name.push_str("Value");
    }
    name
}

/// A variant holding a `String` cannot be `Copy`.
fn remove_copy(attrs: &mut [syn::Attribute]) {
    remove_derive(attrs, "Copy");
}

/// Takes `derive` out of every `#[derive(...)]` list of an item.
pub(crate) fn remove_derive(attrs: &mut [syn::Attribute], derive: &str) {
    for attr in attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
        let Meta::List(list) = &mut attr.meta else {
            continue;
        };
        let kept: Vec<String> = list
            .tokens
            .to_string()
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty() && *d != derive)
            .map(str::to_owned)
            .collect();
        list.tokens = kept
            .join(", ")
            .parse()
            .expect("derive paths re-parse as tokens");
    }
}

/// `pub struct X(String)` with a hand-written `Deserialize` that checks a pattern or a length.
pub(crate) fn is_string_newtype(s: &syn::ItemStruct) -> bool {
    let Fields::Unnamed(fields) = &s.fields else {
        return false;
    };
    fields.unnamed.len() == 1 && last_segment(&fields.unnamed[0].ty).as_deref() == Some("String")
}

pub(crate) fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// `Display` prints the kept value; `Deserialize` of a constrained string keeps what it got.
fn patch_impls(items: &mut [Item], enums: &BTreeMap<String, String>, newtypes: &[String]) {
    for item in items {
        match item {
            Item::Mod(module) => {
                if let Some((_, inner)) = module.content.as_mut() {
                    patch_impls(inner, enums, newtypes);
                }
            }
            Item::Impl(imp) => {
                let (Some(target), Some(trait_name)) = (last_segment(&imp.self_ty), trait_of(imp))
                else {
                    continue;
                };
                match (trait_name.as_str(), enums.get(&target)) {
                    ("Display", Some(variant)) => patch_display(imp, variant),
                    ("Deserialize", None) if newtypes.contains(&target) => {
                        patch_deserialize(imp);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

fn trait_of(imp: &ItemImpl) -> Option<String> {
    let (_, path, _) = imp.trait_.as_ref()?;
    path.segments.last().map(|s| s.ident.to_string())
}

fn patch_display(imp: &mut ItemImpl, variant: &str) {
    let ident = syn::Ident::new(variant, proc_macro2::Span::call_site());
    for item in &mut imp.items {
        let syn::ImplItem::Fn(f) = item else { continue };
        for stmt in &mut f.block.stmts {
            if let syn::Stmt::Expr(syn::Expr::Match(m), _) = stmt {
                m.arms
                    .push(parse_quote! { Self::#ident(ref value) => f.write_str(value), });
            }
        }
    }
}

fn patch_deserialize(imp: &mut ItemImpl) {
    for item in &mut imp.items {
        let syn::ImplItem::Fn(f) = item else { continue };
        if f.sig.ident == "deserialize" {
            f.block = parse_quote! {{
                ::std::result::Result::Ok(Self(
                    <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?,
                ))
            }};
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(source: &str) -> (String, BTreeMap<String, String>) {
        let mut file: syn::File = syn::parse_str(source).unwrap();
        let enums = tolerate_newer_answers(&mut file);
        (prettyplease::unparse(&file), enums)
    }

    #[test]
    fn a_string_enum_gains_a_catch_all_and_loses_copy() {
        let (code, enums) = rewrite(
            r#"
            pub mod types {
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Copy, Debug)]
                pub enum Status {
                    #[serde(rename = "queued")]
                    Queued,
                }
                impl ::std::fmt::Display for Status {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        match *self {
                            Self::Queued => f.write_str("queued"),
                        }
                    }
                }
            }
            "#,
        );
        assert_eq!(enums.get("Status").map(String::as_str), Some("Unknown"));
        assert!(code.contains("#[serde(untagged)]"), "{code}");
        assert!(code.contains("Unknown(::std::string::String)"), "{code}");
        assert!(
            code.contains("Self::Unknown(ref value) => f.write_str(value)"),
            "{code}"
        );
        assert!(!code.contains("Copy"), "{code}");
    }

    #[test]
    fn a_spec_value_named_unknown_keeps_its_variant() {
        let (_, enums) = rewrite(
            r#"
            #[derive(::serde::Deserialize)]
            pub enum Level { Unknown, Info }
            "#,
        );
        assert_eq!(enums.get("Level").map(String::as_str), Some("UnknownValue"));
    }

    #[test]
    fn untagged_and_data_enums_are_left_alone() {
        let (code, enums) = rewrite(
            r#"
            #[derive(::serde::Deserialize)]
            #[serde(untagged)]
            pub enum Contexts { String(Kind), Array(Vec<String>) }
            #[derive(::serde::Deserialize)]
            pub enum Shape { Circle(f64) }
            "#,
        );
        assert!(enums.is_empty(), "{enums:?}");
        assert!(!code.contains("Unknown"), "{code}");
    }

    #[test]
    fn a_constrained_string_deserializes_without_its_check() {
        let (code, _) = rewrite(
            r#"
            pub struct Slug(::std::string::String);
            impl<'de> ::serde::Deserialize<'de> for Slug {
                fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
                where
                    D: ::serde::Deserializer<'de>,
                {
                    ::std::string::String::deserialize(deserializer)?.parse().map_err(|e| todo!())
                }
            }
            "#,
        );
        assert!(!code.contains(".parse()"), "{code}");
        assert!(
            code.contains("<::std::string::String as ::serde::Deserialize>::deserialize"),
            "{code}"
        );
    }
}
