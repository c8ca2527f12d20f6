//! Temporary: replaced by the full RFC 8288 parser.
use url::Url;
/// Temporary.
pub fn next_link(values: Vec<&str>, base: &Url) -> Result<Option<Url>, String> {
    for v in values {
        for part in v.split(',') {
            if part.contains("rel=\"next") {
                let s = part.find('<').ok_or("no <")?;
                let e = part.find('>').ok_or("no >")?;
                return base
                    .join(&part[s + 1..e])
                    .map(Some)
                    .map_err(|e| e.to_string());
            }
        }
    }
    Ok(None)
}
/// Temporary.
pub fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
