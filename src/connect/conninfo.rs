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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(dsn: &str) -> Vec<(String, String)> {
        parse(dsn).unwrap_or_else(|e| panic!("{dsn:?} should parse: {e}"))
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn check(dsn: &str, expected: &[(&str, &str)]) {
        assert_eq!(ok(dsn), pairs(expected), "parsing {dsn:?}");
    }

    // The URI examples of the libpq documentation, section 34.1.1.2.

    #[test]
    fn doc_uri_examples() {
        check("postgresql://", &[]);
        check("postgresql://localhost", &[("host", "localhost")]);
        check("postgresql://localhost:5433", &[("host", "localhost"), ("port", "5433")]);
        check("postgresql://localhost/mydb", &[("host", "localhost"), ("dbname", "mydb")]);
        check("postgresql://user@localhost", &[("user", "user"), ("host", "localhost")]);
        check("postgresql://user:secret@localhost", &[("user", "user"), ("password", "secret"), ("host", "localhost")]);
        check(
            "postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp",
            &[("user", "other"), ("host", "localhost"), ("dbname", "otherdb"), ("connect_timeout", "10"), ("application_name", "myapp")],
        );
        check(
            "postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp",
            &[
                ("host", "host1,host2"),
                ("port", "123,456"),
                ("dbname", "somedb"),
                ("target_session_attrs", "any"),
                ("application_name", "myapp"),
            ],
        );
        check("postgresql:///mydb?host=localhost&port=5433", &[("dbname", "mydb"), ("host", "localhost"), ("port", "5433")]);
        check("postgresql://[2001:db8::1234]/database", &[("host", "2001:db8::1234"), ("dbname", "database")]);
        check("postgresql:///dbname?host=/var/lib/postgresql", &[("dbname", "dbname"), ("host", "/var/lib/postgresql")]);
        check("postgresql://%2Fvar%2Flib%2Fpostgresql/dbname", &[("host", "/var/lib/postgresql"), ("dbname", "dbname")]);
    }

    #[test]
    fn short_prefix_is_a_uri_too() {
        check("postgres://u@h:1/d", &[("user", "u"), ("host", "h"), ("port", "1"), ("dbname", "d")]);
    }

    #[test]
    fn prefix_is_case_sensitive() {
        // libpq compares with strncmp, so this is keyword syntax, and a keyword without "=".
        assert_eq!(parse("POSTGRESQL://h"), Err(ConninfoError::MissingEquals("POSTGRESQL://h".into())));
    }

    #[test]
    fn uri_ports_are_positional() {
        check("postgresql://a,b:5433", &[("host", "a,b"), ("port", ",5433")]);
        check("postgresql://a:5432,b", &[("host", "a,b"), ("port", "5432,")]);
        check("postgresql://[::1]:7,b:8/d", &[("host", "::1,b"), ("port", "7,8"), ("dbname", "d")]);
    }

    #[test]
    fn uri_hosts_without_ports_still_give_a_port_list() {
        // libpq stores "," here, which also keeps PGPORT from applying; a single host stores nothing.
        check("postgresql://a,b", &[("host", "a,b"), ("port", ",")]);
        check("postgresql://a", &[("host", "a")]);
    }

    #[test]
    fn uri_components_are_percent_decoded() {
        check(
            "postgresql://us%40er:p%3Ass%2fw%C3%B6rd@h%2Ds/d%20b?application_name=a%26b",
            &[("user", "us@er"), ("password", "p:ss/wörd"), ("host", "h-s"), ("dbname", "d b"), ("application_name", "a&b")],
        );
    }

    #[test]
    fn uri_encoded_comma_separates_hosts_as_in_libpq() {
        check("postgresql://a%2Cb", &[("host", "a,b")]);
    }

    #[test]
    fn uri_empty_components_are_left_out() {
        check("postgresql://@/", &[]);
        check("postgresql://:@h/", &[("host", "h")]);
        check("postgresql://:pw@h", &[("password", "pw"), ("host", "h")]);
        check("postgresql://h?", &[("host", "h")]);
    }

    #[test]
    fn uri_query_keeps_empty_values_and_tolerates_a_trailing_ampersand() {
        check("postgresql://h?options=&sslmode=disable&", &[("host", "h"), ("options", ""), ("sslmode", "disable")]);
    }

    #[test]
    fn uri_query_overrides_earlier_parts_in_place() {
        check("postgresql://u@h/d?host=/tmp&user=v&user=w", &[("user", "w"), ("host", "/tmp"), ("dbname", "d")]);
    }

    #[test]
    fn uri_dbname_may_contain_slashes() {
        check("postgresql://h/a/b", &[("host", "h"), ("dbname", "a/b")]);
    }

    #[test]
    fn uri_at_sign_before_any_slash_ends_the_user_even_after_a_question_mark() {
        check("postgresql://h?x=y@z", &[("user", "h?x=y"), ("host", "z")]);
    }

    #[test]
    fn uri_legacy_ssl_and_requiressl() {
        check("postgresql://h?ssl=true", &[("host", "h"), ("sslmode", "require")]);
        check("postgresql://h?ssl=false", &[("host", "h"), ("ssl", "false")]);
        check("postgresql://h?sslmode=disable&requiressl=1", &[("host", "h"), ("sslmode", "require")]);
        check("requiressl=0", &[("sslmode", "prefer")]);
    }

    #[test]
    fn uri_keys_are_not_validated() {
        check("postgresql://h?no_such_thing=1", &[("host", "h"), ("no_such_thing", "1")]);
    }

    #[test]
    fn uri_errors() {
        use ConninfoError::*;
        let cases: &[(&str, ConninfoError)] = &[
            ("postgresql://[::1", UnterminatedIpv6),
            ("postgresql://[]/d", EmptyIpv6),
            ("postgresql://[::1]x/d", UnexpectedCharacter { found: 'x', position: 19 }),
            ("postgresql://[::1]é", UnexpectedCharacter { found: 'é', position: 19 }),
            ("postgresql://h?a=1&b", MissingQuerySeparator("b".into())),
            ("postgresql://h?a=1&&b=2", MissingQuerySeparator("".into())),
            ("postgresql://h?a=1=2", ExtraQuerySeparator("a".into())),
            ("postgresql://h/d%zz", InvalidPercentEncoding("database name".into())),
            ("postgresql://h/d%4", InvalidPercentEncoding("database name".into())),
            ("postgresql://u:p%@h", InvalidPercentEncoding("password".into())),
            ("postgresql://%g0@h", InvalidPercentEncoding("user name".into())),
            ("postgresql://h:5%", InvalidPercentEncoding("port".into())),
            ("postgresql://h%", InvalidPercentEncoding("host".into())),
            ("postgresql://h?a%=1", InvalidPercentEncoding("query parameter name".into())),
            ("postgresql://h?a=%x1", InvalidPercentEncoding("value of query parameter \"a\"".into())),
            ("postgresql://h/d%00", PercentEncodedNul("database name".into())),
            ("postgresql://h/d%ff", NotUtf8("database name".into())),
        ];
        for (dsn, expected) in cases {
            assert_eq!(parse(dsn).as_ref(), Err(expected), "parsing {dsn:?}");
        }
    }

    #[test]
    fn errors_do_not_repeat_the_password() {
        let message = parse("postgresql://u:hunter2%@h").unwrap_err().to_string();
        assert!(!message.contains("hunter2"), "{message}");
        assert_eq!(message, "invalid percent-encoded token in the password of the URI");
    }

    #[test]
    fn keyword_basic() {
        check("host=localhost port=5432 dbname=mydb", &[("host", "localhost"), ("port", "5432"), ("dbname", "mydb")]);
    }

    #[test]
    fn keyword_empty_input() {
        check("", &[]);
        check(" \t\n\x0b\x0c\r ", &[]);
    }

    #[test]
    fn keyword_spaces_around_equals() {
        check("a = b", &[("a", "b")]);
        check("  a\t=\nb  c =d ", &[("a", "b"), ("c", "d")]);
    }

    #[test]
    fn keyword_whitespace_after_equals_is_skipped_even_before_another_keyword() {
        // libpq's rule, not a typo: the value of `a` is the next word.
        check("a= b=c", &[("a", "b=c")]);
    }

    #[test]
    fn keyword_empty_values() {
        check("a='' b=", &[("a", ""), ("b", "")]);
        check("a=''", &[("a", "")]);
    }

    #[test]
    fn keyword_quoted_values() {
        check(r"password='it\'s'", &[("password", "it's")]);
        check(r"a='x y\\z' b=c", &[("a", r"x y\z"), ("b", "c")]);
        check(r"a='\q'", &[("a", "q")]);
        check("a='x=y' b='é'", &[("a", "x=y"), ("b", "é")]);
    }

    #[test]
    fn keyword_quote_only_opens_a_value() {
        check("a=b'c", &[("a", "b'c")]);
        // After a closing quote the next keyword may start at once.
        check("a='x'b=c", &[("a", "x"), ("b", "c")]);
    }

    #[test]
    fn keyword_backslash_in_bare_values() {
        check(r"a=x\ y b=c\\d e=\'", &[("a", "x y"), ("b", r"c\d"), ("e", "'")]);
        check(r"a=x\", &[("a", "x")]);
        check(r"a=\é", &[("a", "é")]);
    }

    #[test]
    fn keyword_duplicates_keep_first_position_and_last_value() {
        check("host=a port=1 host=b", &[("host", "b"), ("port", "1")]);
    }

    #[test]
    fn keyword_keys_are_not_validated() {
        check("Host=a =b", &[("Host", "a"), ("", "b")]);
    }

    #[test]
    fn keyword_errors() {
        use ConninfoError::*;
        let cases: &[(&str, ConninfoError)] = &[
            ("foo", MissingEquals("foo".into())),
            ("host=a foo", MissingEquals("foo".into())),
            ("foo bar=1", MissingEquals("foo".into())),
            ("a='x''y'", MissingEquals("'y'".into())),
            ("a='abc", UnterminatedQuote),
            ("a='", UnterminatedQuote),
            (r"a='abc\'", UnterminatedQuote),
            (r"a='abc\", UnterminatedQuote),
            ("a=b\0c", NulCharacter),
        ];
        for (dsn, expected) in cases {
            assert_eq!(parse(dsn).as_ref(), Err(expected), "parsing {dsn:?}");
        }
    }

    #[test]
    fn missing_equals_message_matches_libpq() {
        assert_eq!(parse("foo").unwrap_err().to_string(), "missing \"=\" after \"foo\" in connection info string");
    }

    /// How a writer of keyword/value strings is told to quote: `'...'` with `\` before `'` and `\`.
    fn quote(value: &str) -> String {
        format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
    }

    fn encode(value: &str) -> String {
        value.bytes().map(|b| format!("%{b:02X}")).collect()
    }

    proptest! {
        #[test]
        fn keyword_quoting_round_trips(values in proptest::collection::vec("\\PC*", 1..5)) {
            let keys: Vec<String> = (0..values.len()).map(|i| format!("k{i}")).collect();
            let dsn: Vec<String> = keys.iter().zip(&values).map(|(k, v)| format!("{k} = {}", quote(v))).collect();
            let expected: Vec<(String, String)> = keys.into_iter().zip(values).collect();
            prop_assert_eq!(parse(&dsn.join(" ")).unwrap(), expected);
        }

        #[test]
        fn uri_encoding_round_trips(user in "[^\0]+", password in "[^\0]+", host in "[^\0,]+", dbname in "[^\0]+", app in "[^\0]*") {
            let uri = format!(
                "postgresql://{}:{}@{}/{}?application_name={}",
                encode(&user), encode(&password), encode(&host), encode(&dbname), encode(&app)
            );
            let expected = vec![
                ("user".to_owned(), user),
                ("password".to_owned(), password),
                ("host".to_owned(), host),
                ("dbname".to_owned(), dbname),
                ("application_name".to_owned(), app),
            ];
            prop_assert_eq!(parse(&uri).unwrap(), expected);
        }

        #[test]
        fn never_panics(dsn in "\\PC*") {
            let _ = parse(&dsn);
            let _ = parse(&format!("postgresql://{dsn}"));
        }
    }
}
