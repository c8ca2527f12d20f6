//! `Link` header parsing (RFC 8288), for the API's cursor pagination.
//!
//! It reads the links of one or more `Link` header fields, resolving their targets against the
//! request URL, and reads query parameters such as `cursor` from them. It does not follow
//! links, and keeps extended values (`title*`, RFC 8187) as they are written.

use percent_encoding::percent_decode_str;
use url::Url;

/// One link of a `Link` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The link target, resolved against the request URL.
    pub target: Url,
    /// The relation types of the first `rel` parameter, lowercased, one per space-separated
    /// value; empty when the link has no `rel`.
    pub rel: Vec<String>,
    /// The other parameters, in order (repeats kept), with lowercased names and unquoted
    /// values; a parameter without `=` has an empty value.
    pub params: Vec<(String, String)>,
}

impl Link {
    /// Whether one of the link's relation types is `rel`, compared case-insensitively.
    pub fn has_rel(&self, rel: &str) -> bool {
        self.rel.iter().any(|r| r.eq_ignore_ascii_case(rel))
    }

    /// The value of the first parameter named `name` (case-insensitively), other than `rel`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A malformed `Link` header field. Byte offsets count from the start of that field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// A link does not start with `<`.
    #[error("expected `<` to start a link at byte {at}, found {found:?}")]
    ExpectedTarget {
        /// Where the link was expected.
        at: usize,
        /// What was there instead.
        found: char,
    },
    /// A `<` has no closing `>`.
    #[error("the link target opened at byte {at} has no closing `>`")]
    UnterminatedTarget {
        /// Where the `<` is.
        at: usize,
    },
    /// A quoted parameter value has no closing quote.
    #[error("the quoted string opened at byte {at} has no closing quote")]
    UnterminatedQuote {
        /// Where the opening quote is.
        at: usize,
    },
    /// A `;` is followed by something that is not a parameter name.
    #[error("expected a link parameter name at byte {at}, found {found:?}")]
    ExpectedParameter {
        /// Where the name was expected.
        at: usize,
        /// What was there instead.
        found: char,
    },
    /// Something other than `;`, `,` or the end follows a link target or parameter.
    #[error("expected `;` or `,` at byte {at}, found {found:?}")]
    ExpectedSeparator {
        /// Where the separator was expected.
        at: usize,
        /// What was there instead.
        found: char,
    },
    /// A link target is not a URL reference that resolves against the request URL.
    #[error("the link target {target:?} is not a valid URL reference: {error}")]
    InvalidTarget {
        /// The target as written between `<` and `>`.
        target: String,
        /// Why it does not resolve.
        error: url::ParseError,
    },
}

/// Parses the links of one `Link` header field, resolving their targets against `base`, the
/// request URL.
///
/// # Errors
/// A malformed field; see [`LinkError`].
pub fn parse_link_header(value: &str, base: &Url) -> Result<Vec<Link>, LinkError> {
    let mut links = Vec::new();
    parse_field(value, base, &mut links)?;
    Ok(links)
}

/// Parses the links of several `Link` header fields, in order, as if they were one field
/// joined by commas.
///
/// # Errors
/// The first malformed field; see [`LinkError`].
pub fn parse_link_headers<'a>(
    values: impl IntoIterator<Item = &'a str>,
    base: &Url,
) -> Result<Vec<Link>, LinkError> {
    let mut links = Vec::new();
    for value in values {
        parse_field(value, base, &mut links)?;
    }
    Ok(links)
}

/// The target of the first link whose `rel` includes `next`, across all the `Link` header
/// fields of a response; `None` when there is none.
///
/// # Errors
/// A malformed field, even one without the next link; see [`LinkError`].
pub fn next_link<'a>(
    values: impl IntoIterator<Item = &'a str>,
    base: &Url,
) -> Result<Option<Url>, LinkError> {
    let links = parse_link_headers(values, base)?;
    Ok(links
        .into_iter()
        .find(|link| link.has_rel("next"))
        .map(|link| link.target))
}

/// The value of the first query parameter of `url` named `name`, percent-decoded (invalid
/// UTF-8 replaced). A `+` is kept as it is, since cursors may hold one; a parameter without
/// `=` has an empty value.
pub fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode_str(key).decode_utf8_lossy() == name)
            .then(|| percent_decode_str(value).decode_utf8_lossy().into_owned())
    })
}

/// A position in one header field. It only ever stops on an ASCII byte or the end, so every
/// position is a character boundary.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// The character at the cursor, for an error message.
    fn found(&self) -> char {
        self.text
            .get(self.at..)
            .and_then(|rest| rest.chars().next())
            .unwrap_or('\u{FFFD}')
    }

    /// Skips optional whitespace (spaces and tabs).
    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// Takes bytes while `keep` holds (it must hold for ASCII bytes only).
    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &str {
        let start = self.at;
        while self.peek().is_some_and(&keep) {
            self.at += 1;
        }
        self.text.get(start..self.at).unwrap_or_default()
    }

    /// Reads a quoted string, the cursor on its opening quote, undoing backslash escapes.
    fn quoted(&mut self) -> Result<String, LinkError> {
        let open = self.at;
        let unterminated = LinkError::UnterminatedQuote { at: open };
        let body = self.text.get(open + 1..).ok_or(unterminated.clone())?;
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.at = open + 1 + i + 1;
                    return Ok(value);
                }
                '\\' => value.push(chars.next().ok_or(unterminated.clone())?.1),
                c => value.push(c),
            }
        }
        Err(unterminated)
    }
}

fn parse_field(value: &str, base: &Url, links: &mut Vec<Link>) -> Result<(), LinkError> {
    let mut cursor = Cursor { text: value, at: 0 };
    loop {
        // Empty elements between commas are allowed and ignored.
        cursor.skip_ows();
        while cursor.peek() == Some(b',') {
            cursor.at += 1;
            cursor.skip_ows();
        }
        match cursor.peek() {
            None => return Ok(()),
            Some(b'<') => links.push(parse_link(&mut cursor, base)?),
            Some(_) => {
                return Err(LinkError::ExpectedTarget {
                    at: cursor.at,
                    found: cursor.found(),
                })
            }
        }
    }
}

/// Reads one link, the cursor on its `<`, up to the `,` after it or the end.
fn parse_link(cursor: &mut Cursor<'_>, base: &Url) -> Result<Link, LinkError> {
    let open = cursor.at;
    let inside = cursor.text.get(open + 1..).unwrap_or_default();
    let Some(len) = inside.find('>') else {
        return Err(LinkError::UnterminatedTarget { at: open });
    };
    let written = inside.get(..len).unwrap_or_default();
    cursor.at = open + 1 + len + 1;
    let target = base
        .join(written)
        .map_err(|error| LinkError::InvalidTarget {
            target: written.to_owned(),
            error,
        })?;

    let mut rel = None;
    let mut params = Vec::new();
    loop {
        cursor.skip_ows();
        match cursor.peek() {
            None | Some(b',') => break,
            Some(b';') => cursor.at += 1,
            Some(_) => {
                return Err(LinkError::ExpectedSeparator {
                    at: cursor.at,
                    found: cursor.found(),
                })
            }
        }
        cursor.skip_ows();
        let name = cursor.take_while(is_tchar).to_ascii_lowercase();
        if name.is_empty() {
            // `;;` and a trailing `;` are tolerated.
            if matches!(cursor.peek(), None | Some(b';' | b',')) {
                continue;
            }
            return Err(LinkError::ExpectedParameter {
                at: cursor.at,
                found: cursor.found(),
            });
        }
        cursor.skip_ows();
        let value = if cursor.peek() == Some(b'=') {
            cursor.at += 1;
            cursor.skip_ows();
            if cursor.peek() == Some(b'"') {
                cursor.quoted()?
            } else {
                cursor
                    .take_while(|b| !matches!(b, b';' | b',' | b' ' | b'\t') && b.is_ascii())
                    .to_owned()
            }
        } else {
            String::new()
        };
        if name == "rel" {
            // RFC 8288 §3.3: a `rel` after the first is ignored.
            if rel.is_none() {
                rel = Some(
                    value
                        .split_ascii_whitespace()
                        .map(str::to_ascii_lowercase)
                        .collect(),
                );
            }
        } else {
            params.push((name, value));
        }
    }
    Ok(Link {
        target,
        rel: rel.unwrap_or_default(),
        params,
    })
}

/// A `tchar` of RFC 9110: what a token, such as a parameter name, is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn base() -> Url {
        Url::parse("https://api.deno.com/v2/apps?limit=2").expect("a valid URL")
    }

    fn links(value: &str) -> Vec<Link> {
        parse_link_header(value, &base()).expect("a well-formed header")
    }

    fn targets(value: &str) -> Vec<String> {
        links(value)
            .into_iter()
            .map(|l| l.target.to_string())
            .collect()
    }

    fn error(value: &str) -> String {
        parse_link_header(value, &base())
            .expect_err("a malformed header")
            .to_string()
    }

    const FIRST: &str = "<https://api.deno.com/v2/apps?limit=2>; rel=\"first\"";
    const NEXT: &str = "<https://api.deno.com/v2/apps?limit=2&cursor=Y3Vy&tag=a,b>; \
                        title=\"page 2, sorted\"; rel=\"next last\"";

    #[test]
    fn the_next_links_cursor_is_read_from_two_header_fields() {
        let next = next_link([FIRST, NEXT], &base())
            .expect("well-formed fields")
            .expect("a next link");
        assert_eq!(
            next.as_str(),
            "https://api.deno.com/v2/apps?limit=2&cursor=Y3Vy&tag=a,b"
        );
        assert_eq!(query_param(&next, "cursor").as_deref(), Some("Y3Vy"));
        assert_eq!(query_param(&next, "tag").as_deref(), Some("a,b"));
    }

    #[test]
    fn the_same_links_joined_into_one_field_give_the_same_answer() {
        let joined = format!("{FIRST}, {NEXT}");
        let next = next_link([joined.as_str()], &base())
            .expect("a well-formed field")
            .expect("a next link");
        assert_eq!(query_param(&next, "cursor").as_deref(), Some("Y3Vy"));
        assert_eq!(
            links(&joined),
            parse_link_headers([FIRST, NEXT], &base()).expect("well-formed fields")
        );
        let all = links(&joined);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].rel, ["next", "last"]);
        assert_eq!(all[1].param("title"), Some("page 2, sorted"));
    }

    #[test]
    fn commas_inside_urls_and_quoted_strings_do_not_split_links() {
        let got =
            targets("<https://x.test/a,b?c=d,e>; title=\"x, <y>; z\", <https://x.test/2>;rel=next");
        assert_eq!(got, ["https://x.test/a,b?c=d,e", "https://x.test/2"]);
    }

    #[test]
    fn a_rel_with_several_values_is_split_and_lowercased() {
        let got = links("<a>; rel=\"  Next\tLAST  prev \"");
        assert_eq!(got[0].rel, ["next", "last", "prev"]);
        assert!(got[0].has_rel("NEXT"));
        assert!(!got[0].has_rel("nex"));
    }

    #[test]
    fn other_parameters_in_any_order_are_kept_in_order_with_lowercased_names() {
        let got = links(
            "<a>; TITLE=\"T\"; type=\"text/html\"; rel=next; title*=UTF-8'de'n%c3%a4chste; \
             hreflang=de; hreflang=en; crossorigin",
        );
        assert_eq!(got[0].rel, ["next"]);
        let params: Vec<(&str, &str)> = got[0]
            .params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            params,
            [
                ("title", "T"),
                ("type", "text/html"),
                ("title*", "UTF-8'de'n%c3%a4chste"),
                ("hreflang", "de"),
                ("hreflang", "en"),
                ("crossorigin", ""),
            ]
        );
        assert_eq!(got[0].param("HREFLANG"), Some("de"));
        assert_eq!(got[0].param("rel"), None);
    }

    #[test]
    fn quoted_strings_hold_commas_semicolons_and_backslash_escapes() {
        let got = links(r#"<a>; title="a, b; c \"d\" \\ e"; rel="next""#);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].param("title"), Some(r#"a, b; c "d" \ e"#));
        assert_eq!(got[0].rel, ["next"]);
        let got = links("<a>; title=\"Seite 2 \u{2014} \u{fc}ber\"");
        assert_eq!(got[0].param("title"), Some("Seite 2 \u{2014} \u{fc}ber"));
    }

    #[test]
    fn token_values_need_no_quotes() {
        let got = links("<a>; rel=next; type=application/json, <b>;rel=prev");
        assert_eq!(got[0].rel, ["next"]);
        assert_eq!(got[0].param("type"), Some("application/json"));
        assert_eq!(got[1].rel, ["prev"]);
    }

    #[test]
    fn whitespace_around_separators_is_tolerated() {
        let tight = links("<a>;rel=next;title=x,<b>;rel=prev");
        let loose = links(" \t<a> ; rel = next\t;\ttitle =  \"x\" ,  <b>  ;rel= \"prev\"  ");
        assert_eq!(tight, loose);
    }

    #[test]
    fn relative_references_resolve_against_the_request_url() {
        let got = targets("</v2/orgs?cursor=a>, <?cursor=b>, <apps2>, <//other.test/x>, <>");
        assert_eq!(
            got,
            [
                "https://api.deno.com/v2/orgs?cursor=a",
                "https://api.deno.com/v2/apps?cursor=b",
                "https://api.deno.com/v2/apps2",
                "https://other.test/x",
                "https://api.deno.com/v2/apps?limit=2",
            ]
        );
    }

    #[test]
    fn empty_elements_between_commas_are_ignored() {
        assert_eq!(
            targets(" , ,<a>; rel=next,, ,\t<b>,"),
            ["https://api.deno.com/v2/a", "https://api.deno.com/v2/b"]
        );
        assert_eq!(links(""), []);
        assert_eq!(links(" , , "), []);
        assert_eq!(links("<a>;; rel=next;")[0].rel, ["next"]);
    }

    #[test]
    fn the_first_rel_wins_when_it_is_repeated() {
        let got = links("<a>; rel=prev; rel=next");
        assert_eq!(got[0].rel, ["prev"]);
        assert!(got[0].params.is_empty());
        assert_eq!(next_link(["<a>; rel=prev; rel=next"], &base()), Ok(None));
    }

    #[test]
    fn a_link_without_rel_has_no_relation_types() {
        assert_eq!(links("<a>; title=x")[0].rel, Vec::<String>::new());
        assert_eq!(links("<a>; rel")[0].rel, Vec::<String>::new());
    }

    #[test]
    fn next_link_takes_the_first_link_with_a_next_rel_only() {
        let value = "<a>; rel=nextpage, <b>; rel=\"prev NEXT\", <c>; rel=next";
        let next = next_link([value], &base()).expect("a well-formed field");
        assert_eq!(
            next.map(String::from).as_deref(),
            Some("https://api.deno.com/v2/b")
        );
        assert_eq!(next_link([FIRST], &base()), Ok(None));
        assert_eq!(next_link(Vec::<&str>::new(), &base()), Ok(None));
    }

    #[test]
    fn a_malformed_field_anywhere_fails_next_link() {
        let got = next_link([NEXT, "rel=next"], &base());
        assert_eq!(got, Err(LinkError::ExpectedTarget { at: 0, found: 'r' }));
    }

    #[test]
    fn malformed_input_is_an_error_with_a_clear_message() {
        assert_eq!(
            error("https://x.test/; rel=next"),
            "expected `<` to start a link at byte 0, found 'h'"
        );
        assert_eq!(
            error("<a>; rel=next, b"),
            "expected `<` to start a link at byte 15, found 'b'"
        );
        assert_eq!(
            error("<https://x.test/a; rel=next"),
            "the link target opened at byte 0 has no closing `>`"
        );
        assert_eq!(
            error("<a>; title=\"x, <b>; rel=next"),
            "the quoted string opened at byte 11 has no closing quote"
        );
        assert_eq!(
            error("<a>; title=\"x\\"),
            "the quoted string opened at byte 11 has no closing quote"
        );
        assert_eq!(
            error("<a> rel=next"),
            "expected `;` or `,` at byte 4, found 'r'"
        );
        assert_eq!(
            error("<a>; title=\"x\"y"),
            "expected `;` or `,` at byte 14, found 'y'"
        );
        assert_eq!(
            error("<a>; =next"),
            "expected a link parameter name at byte 5, found '='"
        );
        assert_eq!(
            error("<a>; \u{e9}=x"),
            "expected a link parameter name at byte 5, found '\u{e9}'"
        );
        assert_eq!(
            error("<https://x.test:99999/>"),
            "the link target \"https://x.test:99999/\" is not a valid URL reference: \
             invalid port number"
        );
    }

    #[test]
    fn query_param_decodes_the_first_value_of_the_name() {
        let url = Url::parse("https://x.test/p?a=1&cursor=Y3V%2By+z%3D%3D&cursor=2&flag&e=&%63k=v")
            .expect("a valid URL");
        assert_eq!(query_param(&url, "cursor").as_deref(), Some("Y3V+y+z=="));
        assert_eq!(query_param(&url, "flag").as_deref(), Some(""));
        assert_eq!(query_param(&url, "e").as_deref(), Some(""));
        assert_eq!(query_param(&url, "ck").as_deref(), Some("v"));
        assert_eq!(query_param(&url, "missing"), None);
        let bare = Url::parse("https://x.test/p").expect("a valid URL");
        assert_eq!(query_param(&bare, "cursor"), None);
        let bad = Url::parse("https://x.test/p?cursor=%FF%41").expect("a valid URL");
        assert_eq!(query_param(&bad, "cursor").as_deref(), Some("\u{FFFD}A"));
    }

    /// Text rich in the characters the parser cares about.
    fn header_text() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            Just("<"),
            Just(">"),
            Just("\""),
            Just("\\"),
            Just(","),
            Just(";"),
            Just("="),
            Just(" "),
            Just("\t"),
            Just("rel"),
            Just("next"),
            Just("a"),
            Just("\u{e9}"),
            Just("https://x.test/"),
            Just("//"),
            Just("["),
            Just("%"),
        ];
        prop::collection::vec(token, 0..32).prop_map(|tokens| tokens.concat())
    }

    /// One well-formed link, written out, with commas and quotes in its URL and values.
    fn link_text() -> impl Strategy<Value = String> {
        let target = prop_oneof![
            Just("https://api.deno.com/v2/apps?cursor=a,b&limit=2"),
            Just("/v2/apps?cursor=Y3Vy"),
            Just("?page=2,3"),
            Just("other;x,y"),
        ];
        let param = prop_oneof![
            Just("rel=next"),
            Just("rel=\"prev next\""),
            Just("REL = \"Last\""),
            Just("title=\"a, b; \\\"c\\\"\""),
            Just("type=text/html"),
            Just("title*=UTF-8'en'%E2%82%AC"),
            Just("crossorigin"),
        ];
        (target, prop::collection::vec(param, 0..4)).prop_map(|(target, params)| {
            let mut text = format!("<{target}>");
            for param in params {
                text.push_str(" ; ");
                text.push_str(param);
            }
            text
        })
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>(), rich in header_text()) {
            let _ = parse_link_header(&text, &base());
            let _ = parse_link_header(&rich, &base());
            let _ = next_link([text.as_str(), rich.as_str()], &base());
        }

        #[test]
        fn how_the_links_are_split_into_fields_never_changes_the_result(
            items in prop::collection::vec(link_text(), 0..6),
            cuts in prop::collection::vec(any::<bool>(), 6),
        ) {
            let whole = parse_link_header(&items.join(", "), &base());
            let separate = parse_link_headers(items.iter().map(String::as_str), &base());
            prop_assert_eq!(&separate, &whole);
            // Group neighbouring links into fields wherever `cuts` says so.
            let mut fields: Vec<String> = vec![String::new()];
            for (item, cut) in items.iter().zip(&cuts) {
                if *cut {
                    fields.push(String::new());
                }
                if let Some(field) = fields.last_mut() {
                    field.push_str(item);
                    field.push(',');
                }
            }
            let grouped = parse_link_headers(fields.iter().map(String::as_str), &base());
            prop_assert_eq!(&grouped, &whole);
            prop_assert_eq!(whole.map(|links| links.len()), Ok(items.len()));
        }
    }
}
