//! Page numbers and the arithmetic between pages, totals and skipped rows.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::SecretSummary;

pub const DEFAULT_PAGE_SIZE: u32 = 250;
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The contract types page numbers and totals as int32.
pub const MAX_PAGE: u32 = i32::MAX as u32;

/// A valid request for one page of a tenant's secrets, ordered by tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    size: u32,
}

impl PageRequest {
    pub fn new(page: u32, size: u32) -> Result<Self> {
        if page > MAX_PAGE {
            return Err(Error::bad_request(format!(
                "page must be an integer from 0 to {MAX_PAGE}"
            )));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(Error::bad_request(format!(
                "pageSize must be an integer from 1 to {MAX_PAGE_SIZE}"
            )));
        }
        Ok(Self { page, size })
    }

    /// Parses the `page` and `pageSize` query parameters. Each may be absent
    /// (defaults 0 and 250) but, when given, must be given once, as a plain
    /// decimal integer in range: `1.0`, `1e3`, ` 1` and `0x1` are refused.
    pub fn from_query(page: &[&str], page_size: &[&str]) -> Result<Self> {
        let page = single_integer("page", page, 0, MAX_PAGE)?.unwrap_or(0);
        let size =
            single_integer("pageSize", page_size, 1, MAX_PAGE_SIZE)?.unwrap_or(DEFAULT_PAGE_SIZE);
        Self::new(page, size)
    }

    pub fn page(&self) -> u32 {
        self.page
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    /// Rows before this page, in tag order.
    pub fn skip(&self) -> u64 {
        u64::from(self.page) * u64::from(self.size)
    }

    /// Whether this page starts at or past the end of `total` rows.
    pub fn is_past_end(&self, total: u64) -> bool {
        self.skip() >= total
    }

    pub fn total_pages(&self, total: u64) -> u64 {
        total.div_ceil(u64::from(self.size))
    }
}

fn single_integer(name: &str, values: &[&str], min: u32, max: u32) -> Result<Option<u32>> {
    let out_of_range =
        || Error::bad_request(format!("{name} must be an integer from {min} to {max}"));
    match values {
        [] => Ok(None),
        [raw] => {
            let digits = raw.strip_prefix('-').unwrap_or(raw);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(out_of_range());
            }
            match raw.parse::<i64>() {
                Ok(value) if (i64::from(min)..=i64::from(max)).contains(&value) => {
                    Ok(Some(value as u32))
                }
                _ => Err(out_of_range()),
            }
        }
        _ => Err(Error::bad_request(format!(
            "{name} must be given at most once"
        ))),
    }
}

/// One page of the list response, in the contract's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub page: u32,
    pub secrets: Vec<SecretSummary>,
    pub total: u32,
    pub total_pages: u32,
}

impl Page {
    pub fn new(request: PageRequest, secrets: Vec<SecretSummary>, total: u64) -> Self {
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX).min(MAX_PAGE);
        Self {
            page: request.page(),
            secrets,
            total: clamp(total),
            total_pages: clamp(request.total_pages(total)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(page: &[&str], size: &[&str]) -> Result<PageRequest> {
        PageRequest::from_query(page, size)
    }

    #[test]
    fn defaults_are_page_0_of_250() {
        let request = parse(&[], &[]).unwrap();
        assert_eq!((request.page(), request.size()), (0, 250));
    }

    #[test]
    fn accepts_the_documented_ranges() {
        assert_eq!(parse(&["0"], &["1"]).unwrap().size(), 1);
        assert_eq!(parse(&["2147483647"], &["1000"]).unwrap().page(), MAX_PAGE);
        assert_eq!(parse(&["007"], &["10"]).unwrap().page(), 7);
    }

    #[test]
    fn refuses_everything_else_naming_the_parameter() {
        let cases: [(&[&str], &[&str], &str); 14] = [
            (&["-1"], &[], "page "),
            (&["2147483648"], &[], "page "),
            (&["99999999999999999999999"], &[], "page "),
            (&["1.5"], &[], "page "),
            (&["1e3"], &[], "page "),
            (&["one"], &[], "page "),
            (&[""], &[], "page "),
            (&[" 1"], &[], "page "),
            (&["+1"], &[], "page "),
            (&["1", "2"], &[], "page "),
            (&[], &["0"], "pageSize "),
            (&[], &["1001"], "pageSize "),
            (&[], &["-5"], "pageSize "),
            (&[], &["10", "10"], "pageSize "),
        ];
        for (page, size, prefix) in cases {
            let error = parse(page, size).unwrap_err();
            assert_eq!(error.http_status(), 400, "{page:?} {size:?}");
            assert!(error.to_string().starts_with(prefix), "{error}");
        }
    }

    #[test]
    fn page_arithmetic_covers_every_row_once() {
        let request = PageRequest::new(3, 10).unwrap();
        assert_eq!(request.skip(), 30);
        assert_eq!(request.total_pages(0), 0);
        assert_eq!(request.total_pages(30), 3);
        assert_eq!(request.total_pages(31), 4);
        assert!(request.is_past_end(30));
        assert!(!request.is_past_end(31));
        let last = PageRequest::new(MAX_PAGE, MAX_PAGE_SIZE).unwrap();
        assert_eq!(last.skip(), u64::from(MAX_PAGE) * 1000);
    }

    #[test]
    fn list_responses_use_the_contract_field_names() {
        let page = Page::new(PageRequest::new(1, 2).unwrap(), vec![], 5);
        assert_eq!(
            serde_json::to_value(&page).unwrap(),
            serde_json::json!({"page": 1, "secrets": [], "total": 5, "totalPages": 3})
        );
    }
}
