//! Connection strings (`host=... dbname=...` and `postgresql://...` URIs), parsed the way libpq parses them.
//!
//! The point is that a string a user already gives `psql` means the same thing here, quirks included,
//! so the rules below follow libpq's `conninfo_parse` and `conninfo_uri_parse_options` step by step
//! rather than a URI library's idea of what a URI is.

use thiserror::Error;

/// libpq accepts exactly these two spellings, case-sensitively; anything else is keyword/value syntax.
const URI_PREFIXES: [&str; 2] = ["postgresql://", "postgres://"];

/// Why a connection string was refused. The wording follows libpq's where libpq has a message, so a
/// user can search for it; but no message repeats a percent-encoded component or the whole URI, as
/// libpq's do, because that may be the password and these errors end up in logs.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConninfoError {
    #[error("missing \"=\" after \"{0}\" in connection info string")]
    MissingEquals(String),
    #[error("unterminated quoted string in connection info string")]
    UnterminatedQuote,
    #[error("connection string contains a nul character")]
    NulCharacter,
    #[error("end of string reached when looking for matching \"]\" in IPv6 host address in URI")]
    UnterminatedIpv6,
    #[error("empty IPv6 host address in URI")]
    EmptyIpv6,
    #[error("unexpected character \"{found}\" at position {position} in URI (expected \":\" or \"/\")")]
    UnexpectedCharacter { found: char, position: usize },
    #[error("missing key/value separator \"=\" in URI query parameter: \"{0}\"")]
    MissingQuerySeparator(String),
    #[error("extra key/value separator \"=\" in URI query parameter: \"{0}\"")]
    ExtraQuerySeparator(String),
    #[error("invalid percent-encoded token in the {0} of the URI")]
    InvalidPercentEncoding(String),
    #[error("forbidden value %00 in percent-encoded value in the {0} of the URI")]
    PercentEncodedNul(String),
    #[error("percent-decoded {0} of the URI is not valid UTF-8")]
    NotUtf8(String),
}

/// The parameters of a connection string, in order, with later duplicates overriding earlier ones
/// (each key appears once in the result, at the position of its first appearance, holding the last value).
pub fn parse(dsn: &str) -> Result<Vec<(String, String)>, ConninfoError> {
    // A C caller cannot pass a NUL (libpq sees the string end there); silently dropping the rest
    // would be worse than saying so.
    if dsn.contains('\0') {
        return Err(ConninfoError::NulCharacter);
    }
    let mut params = Params::default();
    match URI_PREFIXES.iter().find_map(|prefix| dsn.strip_prefix(prefix)) {
        Some(rest) => parse_uri(dsn, dsn.len() - rest.len(), &mut params)?,
        None => parse_keywords(dsn, &mut params)?,
    }
    Ok(params.0)
}

/// Parameters in order of first appearance; a vector because there are a handful of them.
#[derive(Default)]
struct Params(Vec<(String, String)>);

impl Params {
    /// libpq's `conninfo_storeval`, which also quietly turns the long-gone `requiressl` into
    /// `sslmode`, in both syntaxes.
    fn store(&mut self, key: String, value: String) {
        let (key, value) = if key == "requiressl" {
            let mode = if value.starts_with('1') { "require" } else { "prefer" };
            ("sslmode".to_owned(), mode.to_owned())
        } else {
            (key, value)
        };
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }
}

/// C's `isspace` in the "C" locale, which is what libpq's scanner uses; Rust's ASCII whitespace
/// lacks the vertical tab.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Keyword/value syntax. Note libpq skips whitespace after `=`, so `a= b=c` sets `a` to `b=c`:
/// only the end of the string, or `''`, gives an empty value.
fn parse_keywords(dsn: &str, params: &mut Params) -> Result<(), ConninfoError> {
    let chars: Vec<char> = dsn.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut i = 0;
    while let Some(c) = at(i) {
        if is_space(c) {
            i += 1;
            continue;
        }
        let start = i;
        while at(i).is_some_and(|c| c != '=' && !is_space(c)) {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        while at(i).is_some_and(is_space) {
            i += 1;
        }
        if at(i) != Some('=') {
            return Err(ConninfoError::MissingEquals(key));
        }
        i += 1;
        while at(i).is_some_and(is_space) {
            i += 1;
        }
        let mut value = String::new();
        if at(i) == Some('\'') {
            i += 1;
            loop {
                match at(i) {
                    None => return Err(ConninfoError::UnterminatedQuote),
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    // A backslash at the very end escapes nothing and leaves the quote open.
                    Some('\\') => {
                        i += 1;
                        if let Some(escaped) = at(i) {
                            value.push(escaped);
                            i += 1;
                        }
                    }
                    Some(c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(c) = at(i) {
                i += 1;
                if is_space(c) {
                    break;
                }
                if c == '\\' {
                    if let Some(escaped) = at(i) {
                        value.push(escaped);
                        i += 1;
                    }
                } else {
                    value.push(c);
                }
            }
        }
        params.store(key, value);
    }
    Ok(())
}

/// URI syntax; `start` is where the text after the prefix begins. Everything is scanned on bytes at
/// ASCII delimiters, so every slice below falls on a character boundary.
fn parse_uri(uri: &str, start: usize, params: &mut Params) -> Result<(), ConninfoError> {
    let b = uri.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let scan = |mut i: usize, stop: &[u8]| {
        while at(i).is_some_and(|c| !stop.contains(&c)) {
            i += 1;
        }
        i
    };

    // The credentials end at an `@` seen before any `/`; a `?` does not stop the look-ahead.
    let mut p = start;
    let ahead = scan(start, b"@/");
    if at(ahead) == Some(b'@') {
        let user_end = scan(start, b":@");
        store_decoded(params, "user", &uri[start..user_end], "user name")?;
        if at(user_end) == Some(b':') {
            store_decoded(params, "password", &uri[user_end + 1..ahead], "password")?;
        }
        p = ahead + 1;
    }

    // Host and port lists are built raw and decoded whole, as libpq does: an encoded comma (`%2C`)
    // therefore still separates hosts. Each host adds a comma to both lists, so ports stay positional.
    let mut hosts = String::new();
    let mut ports = String::new();
    let mut terminator = loop {
        let host_end = if at(p) == Some(b'[') {
            let open = p + 1;
            let close = scan(open, b"]");
            if at(close).is_none() {
                return Err(ConninfoError::UnterminatedIpv6);
            }
            if close == open {
                return Err(ConninfoError::EmptyIpv6);
            }
            hosts.push_str(&uri[open..close]);
            let after = close + 1;
            if at(after).is_some_and(|c| !b":/?,".contains(&c)) {
                let found = uri[after..].chars().next().unwrap_or_default();
                return Err(ConninfoError::UnexpectedCharacter { found, position: after + 1 });
            }
            after
        } else {
            let end = scan(p, b":/?,");
            hosts.push_str(&uri[p..end]);
            end
        };
        p = host_end;
        if at(p) == Some(b':') {
            let port_end = scan(p + 1, b"/?,");
            ports.push_str(&uri[p + 1..port_end]);
            p = port_end;
        }
        if at(p) != Some(b',') {
            break at(p);
        }
        p += 1;
        hosts.push(',');
        ports.push(',');
    };
    store_decoded(params, "host", &hosts, "host")?;
    store_decoded(params, "port", &ports, "port")?;

    // Only `/`, `?` or the end can follow the hosts here.
    if terminator == Some(b'/') {
        let dbname_end = scan(p + 1, b"?");
        store_decoded(params, "dbname", &uri[p + 1..dbname_end], "database name")?;
        p = dbname_end;
        terminator = at(p);
    }
    if terminator.is_some() {
        parse_query(&uri[p + 1..], params)?;
    }
    Ok(())
}

/// libpq leaves a URI component out altogether when it is empty, so that defaults (PGDATABASE and
/// the like) still apply to it.
fn store_decoded(params: &mut Params, key: &str, raw: &str, what: &str) -> Result<(), ConninfoError> {
    if !raw.is_empty() {
        params.store(key.to_owned(), percent_decode(raw, what)?);
    }
    Ok(())
}

/// `key=value&...`; unlike the other URI parts, an empty value is stored as given.
fn parse_query(query: &str, params: &mut Params) -> Result<(), ConninfoError> {
    let mut rest = query;
    while !rest.is_empty() {
        let (param, next) = rest.split_once('&').unwrap_or((rest, ""));
        rest = next;
        let Some((raw_key, raw_value)) = param.split_once('=') else {
            return Err(ConninfoError::MissingQuerySeparator(param.to_owned()));
        };
        if raw_value.contains('=') {
            return Err(ConninfoError::ExtraQuerySeparator(raw_key.to_owned()));
        }
        let key = percent_decode(raw_key, "query parameter name")?;
        let value = percent_decode(raw_value, &format!("value of query parameter \"{key}\""))?;
        // JDBC's spelling, which libpq accepts for compatibility.
        if key == "ssl" && value == "true" {
            params.store("sslmode".to_owned(), "require".to_owned());
        } else {
            params.store(key, value);
        }
    }
    Ok(())
}

/// `%XY` with two hex digits of either case; libpq refuses `%00`, since it would cut a C string short.
fn percent_decode(raw: &str, what: &str) -> Result<String, ConninfoError> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        let digit = |j: usize| b.get(j).and_then(|&d| char::from(d).to_digit(16));
        let (Some(hi), Some(lo)) = (digit(i + 1), digit(i + 2)) else {
            return Err(ConninfoError::InvalidPercentEncoding(what.to_owned()));
        };
        let byte = ((hi << 4) | lo) as u8;
        if byte == 0 {
            return Err(ConninfoError::PercentEncodedNul(what.to_owned()));
        }
        out.push(byte);
        i += 3;
    }
    String::from_utf8(out).map_err(|_| ConninfoError::NotUtf8(what.to_owned()))
}

#[cfg(test)]
#[path = "conninfo_tests.rs"]
mod tests;
