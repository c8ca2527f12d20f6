//! Keeps values that may be secret out of `Debug` output.
//!
//! A schema with both a `secret` flag and a `value` (an env var) holds its value in a string
//! newtype; that newtype's derived `Debug` is replaced by one that prints `<redacted>`, so a
//! request, a builder or an error that formats it with `{:?}` never shows the value.

use std::collections::BTreeSet;

use syn::{parse_quote, Fields, Item, Type};

use crate::forward::{is_string_newtype, last_segment, remove_derive};

/// Redacts the `Debug` output of every value type that sits beside a `secret` flag; returns the
/// names of the types redacted.
pub fn redact_values(file: &mut syn::File) -> BTreeSet<String> {
    let mut candidates = BTreeSet::new();
    value_types(&file.items, &mut candidates);
    let mut redacted = BTreeSet::new();
    redact(&mut file.items, &candidates, &mut redacted);
    redacted
}

/// The type of the `value` field of every struct that also has a `secret` field.
fn value_types(items: &[Item], found: &mut BTreeSet<String>) {
    for item in items {
        match item {
            Item::Mod(module) => {
                if let Some((_, inner)) = &module.content {
                    value_types(inner, found);
                }
            }
            Item::Struct(s) => {
                let Fields::Named(fields) = &s.fields else {
                    continue;
                };
                let named = |name: &str| {
                    fields
                        .named
                        .iter()
                        .find(|f| f.ident.as_ref().is_some_and(|i| i == name))
                };
                if let (Some(_), Some(value)) = (named("secret"), named("value")) {
                    if let Some(name) = without_option(&value.ty) {
                        found.insert(name);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `T` for `T` or `Option<T>`.
fn without_option(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return Some(last.ident.to_string());
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(inner) => last_segment(inner),
        _ => None,
    }
}

fn redact(items: &mut Vec<Item>, candidates: &BTreeSet<String>, redacted: &mut BTreeSet<String>) {
    let mut at = 0;
    while at < items.len() {
        match &mut items[at] {
            Item::Mod(module) => {
                if let Some((_, inner)) = module.content.as_mut() {
                    redact(inner, candidates, redacted);
                }
            }
            Item::Struct(s)
                if is_string_newtype(s) && candidates.contains(&s.ident.to_string()) =>
            {
                remove_derive(&mut s.attrs, "Debug");
                let ident = s.ident.clone();
                let text = format!("{ident}(<redacted>)");
                redacted.insert(ident.to_string());
                items.insert(
                    at + 1,
                    parse_quote! {
                        impl ::std::fmt::Debug for #ident {
                            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                                f.write_str(#text)
                            }
                        }
                    },
                );
                at += 1;
            }
            _ => {}
        }
        at += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_beside_a_secret_flag_is_redacted_and_others_are_not() {
        let mut file: syn::File = syn::parse_str(
            r#"
            pub mod types {
                pub struct EnvVar { pub key: Key, pub secret: bool, pub value: Option<Value> }
                #[derive(Clone, Debug, PartialEq)]
                pub struct Value(::std::string::String);
                #[derive(Clone, Debug, PartialEq)]
                pub struct Key(::std::string::String);
                pub struct Label { pub value: Other }
                #[derive(Clone, Debug)]
                pub struct Other(::std::string::String);
            }
            "#,
        )
        .unwrap();
        let redacted = redact_values(&mut file);
        assert_eq!(redacted.into_iter().collect::<Vec<_>>(), ["Value"]);
        let code = prettyplease::unparse(&file);
        assert!(
            code.contains("#[derive(Clone, PartialEq)]\n    pub struct Value"),
            "{code}"
        );
        assert!(
            code.contains("f.write_str(\"Value(<redacted>)\")"),
            "{code}"
        );
        assert!(
            code.contains("#[derive(Clone, Debug, PartialEq)]\n    pub struct Key"),
            "{code}"
        );
        assert!(
            code.contains("#[derive(Clone, Debug)]\n    pub struct Other"),
            "{code}"
        );
    }
}
