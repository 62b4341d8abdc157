//! RFC 3339 timestamps, as carried by markets and attestations.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Parses an RFC 3339 timestamp (`2026-11-25T08:00:00Z`) into Unix seconds.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("not an RFC 3339 timestamp: {e}"))
}

/// Unix seconds as RFC 3339 in UTC (`2026-11-25T08:00:00Z`); the number itself when it is
/// outside the years the format can write.
pub fn format_rfc3339(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{seconds} s after 1970-01-01T00:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_and_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Ok(0));
        assert!(parse_rfc3339("2026-13-01T00:00:00Z").is_err());
        assert!(parse_rfc3339("yesterday").is_err());
        assert_eq!(format_rfc3339(1_795_593_600), "2026-11-25T08:00:00Z");
        assert_eq!(parse_rfc3339(&format_rfc3339(1_795_593_600)), Ok(1_795_593_600));
    }
}
