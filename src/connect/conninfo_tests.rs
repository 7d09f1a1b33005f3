//! Tests of the connection-string parser.
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
        prop_assert_eq!(parse(&dsn.join(" ")).map_err(|e| e.to_string()), Ok(expected));
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
        prop_assert_eq!(parse(&uri).map_err(|e| e.to_string()), Ok(expected));
    }

    #[test]
    fn never_panics(dsn in "\\PC*") {
        let _ = parse(&dsn);
        let _ = parse(&format!("postgresql://{dsn}"));
    }
}
