//! What the page templates print through filters: figures as people read them (sizes,
//! durations, times and counts) and filenames as hrefs. Each is a small value that writes itself
//! into the page (no string built per file on a page of thousands); the functions at the end hand them to
//! the templates as filters (askama looks for them in a module named `filters`).

use std::fmt::{self, Display, Write as _};

use askama::filters::Safe;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters of a filename kept as they are in an href: RFC 3986 "unreserved". Everything else
/// (`+`, `%`, `#`, `?`, spaces, non-ASCII ...) is percent-encoded, which static servers and pip
/// decode back to the filename.
const HREF_KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A filename as an href path segment: only unreserved characters and `%XX`, so it needs no
/// HTML escaping.
#[derive(Debug, Clone, Copy)]
pub struct Href<'a>(pub &'a str);

impl Display for Href<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_href(out, self.0)
    }
}

impl askama::FastWritable for Href<'_> {
    fn write_into(&self, dest: &mut dyn fmt::Write, _: &dyn askama::Values) -> askama::Result<()> {
        Ok(write_href(dest, self.0)?)
    }
}

fn write_href(out: &mut (impl fmt::Write + ?Sized), filename: &str) -> fmt::Result {
    // Runs of unreserved characters come out whole: one write each, not one per character.
    for part in utf8_percent_encode(filename, HREF_KEEP) {
        out.write_str(part)?;
    }
    Ok(())
}

/// The figures whose text needs no HTML escaping (digits, `.`, `,`, `-`, `?`, spaces and units)
/// write themselves straight into the page.
macro_rules! fast_writable_by_display {
    ($($figure:ty),*) => {$(
        impl askama::FastWritable for $figure {
            fn write_into(&self, dest: &mut dyn fmt::Write, _: &dyn askama::Values) -> askama::Result<()> {
                Ok(write!(dest, "{self}")?)
            }
        }
    )*};
}

fast_writable_by_display!(FileSize, Duration, Thousands);

/// Bytes, human readable: `999 B`, `1.2 KiB`, `3.4 MiB`, `1.0 GiB`. Integer arithmetic: float
/// formatting with a precision is slow, and this runs for every file of every page.
#[derive(Debug, Clone, Copy)]
pub struct FileSize(pub i64);

impl Display for FileSize {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        match u64::try_from(self.0) {
            Ok(bytes) if bytes >= 1024 => {
                let mut unit = 1;
                while unit + 1 < UNITS.len() && bytes >= 1024u64.pow(unit as u32 + 1) {
                    unit += 1;
                }
                let scale = u128::from(1024u64.pow(unit as u32));
                // Tenths of the unit, rounded half up.
                let tenths = (u128::from(bytes) * 10 + scale / 2) / scale;
                write!(out, "{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
            }
            _ => write!(out, "{} B", self.0),
        }
    }
}

/// Seconds, human readable: `0.4 s`, `12 s`, `3 min 5 s`, `2 h 1 min`; `?` for no duration.
#[derive(Debug, Clone, Copy)]
pub struct Duration(pub f64);

impl Display for Duration {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0;
        if !seconds.is_finite() || seconds < 0.0 {
            return out.write_char('?');
        }
        let tenths = (seconds * 10.0).round() as u64;
        if tenths < 100 {
            return write!(out, "{}.{} s", tenths / 10, tenths % 10);
        }
        let whole = seconds.round() as u64;
        match (whole / 3600, whole % 3600 / 60, whole % 60) {
            (0, 0, s) => write!(out, "{s} s"),
            (0, m, s) => write!(out, "{m} min {s} s"),
            (h, m, _) => write!(out, "{h} h {m} min"),
        }
    }
}

/// `2024-01-02T03:04:05Z` → `2024-01-02 03:04 UTC`; anything else as it is.
#[derive(Debug, Clone, Copy)]
pub struct Minute<'a>(pub &'a str);

impl Display for Minute<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let iso = self.0;
        match (iso.get(..10), iso.get(11..16)) {
            (Some(date), Some(time)) if iso.len() == 20 && iso.ends_with('Z') => write!(out, "{date} {time} UTC"),
            _ => out.write_str(iso),
        }
    }
}

/// The first ten characters of a time: its day, `2024-01-02`, when it is `YYYY-MM-DD...`.
#[derive(Debug, Clone, Copy)]
pub struct Day<'a>(pub &'a str);

impl Display for Day<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut = self.0.char_indices().nth(10).map_or(self.0.len(), |(i, _)| i);
        out.write_str(&self.0[..cut])
    }
}

/// `1234567` → `1,234,567`.
#[derive(Debug, Clone, Copy)]
pub struct Thousands(pub i64);

impl Display for Thousands {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.unsigned_abs().to_string();
        if self.0 < 0 {
            out.write_char('-')?;
        }
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.write_char(',')?;
            }
            out.write_char(digit)?;
        }
        Ok(())
    }
}

// The filters: `{{ f.filesize|filesize }}`. A template hands a filter its value behind however
// many references its expression has: the traits below see through them.

/// A whole number, behind any number of references.
pub trait Whole {
    fn whole(&self) -> i64;
}

impl Whole for i64 {
    fn whole(&self) -> i64 {
        *self
    }
}

impl<T: Whole + ?Sized> Whole for &T {
    fn whole(&self) -> i64 {
        (**self).whole()
    }
}

/// A number of seconds, behind any number of references.
pub trait Seconds {
    fn seconds(&self) -> f64;
}

impl Seconds for f64 {
    fn seconds(&self) -> f64 {
        *self
    }
}

impl<T: Seconds + ?Sized> Seconds for &T {
    fn seconds(&self) -> f64 {
        (**self).seconds()
    }
}

#[askama::filter_fn]
pub fn filesize(bytes: impl Whole, _: &dyn askama::Values) -> askama::Result<Safe<FileSize>> {
    Ok(Safe(FileSize(bytes.whole())))
}

#[askama::filter_fn]
pub fn thousands(number: impl Whole, _: &dyn askama::Values) -> askama::Result<Safe<Thousands>> {
    Ok(Safe(Thousands(number.whole())))
}

#[askama::filter_fn]
pub fn duration(seconds: impl Seconds, _: &dyn askama::Values) -> askama::Result<Safe<Duration>> {
    Ok(Safe(Duration(seconds.seconds())))
}

#[askama::filter_fn]
pub fn datetime<'a>(iso: &'a str, _: &dyn askama::Values) -> askama::Result<Minute<'a>> {
    Ok(Minute(iso))
}

#[askama::filter_fn]
pub fn day<'a>(iso: &'a str, _: &dyn askama::Values) -> askama::Result<Day<'a>> {
    Ok(Day(iso))
}

/// A filename as an href path segment (needs no escaping: see [`Href`]).
#[askama::filter_fn]
pub fn href<'a>(filename: &'a str, _: &dyn askama::Values) -> askama::Result<Safe<Href<'a>>> {
    Ok(Safe(Href(filename)))
}
