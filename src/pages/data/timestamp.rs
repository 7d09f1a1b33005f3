//! Timestamps as the server sends them in binary, formatted as the pages print them.

use tokio_postgres::types::Type;

/// A `timestamptz` as the server sends it in binary: microseconds since 2000-01-01 00:00:00 UTC,
/// the largest and smallest values standing for `infinity` and `-infinity`. Formatted here, not by
/// `to_char` on the server: a full rebuild formats one per version and build, and the server's
/// `to_char` was a tenth of its query's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ`, exactly what [`utc!`] (`to_char(t AT TIME ZONE 'UTC',
    /// 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`) makes of the same value: seconds truncated, years BC
    /// without a sign (1 BC is `0001`), years past 9999 with all their digits; `None` for the
    /// infinities, for which `to_char` gives null.
    pub fn utc_text(self) -> Option<String> {
        if self.0 == i64::MAX || self.0 == i64::MIN {
            return None;
        }
        let seconds = self.0.div_euclid(1_000_000);
        let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        // 2000-01-01 is day 10,957 of the Unix epoch.
        let (year, month, day) = civil_from_days(days + 10_957);
        let year = if year <= 0 { 1 - year } else { year };
        let (hour, minute, second) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
        if year > 9999 {
            return Some(format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"));
        }
        // Digit by digit: `format!` was a tenth of a full rebuild's rendering (one per version and
        // build). Every value is in range here: year 0..=9999, the others two digits.
        let mut text = *b"0000-00-00T00:00:00Z";
        let digits = |at: &mut [u8], mut value: i64| {
            for slot in at.iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        digits(&mut text[0..4], year);
        digits(&mut text[5..7], month);
        digits(&mut text[8..10], day);
        digits(&mut text[11..13], hour);
        digits(&mut text[14..16], minute);
        digits(&mut text[17..19], second);
        // ASCII digits and separators only.
        Some(text.iter().map(|&b| char::from(b)).collect())
    }
}

impl<'a> tokio_postgres::types::FromSql<'a> for Timestamp {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Timestamp(i64::from_be_bytes(raw.try_into()?)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (year 0 is 1 BC), as the
/// server's calendar has it. Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
