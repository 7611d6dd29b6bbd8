//! Property tests: the validators against their specifications, the page
//! arithmetic, and the envelope (round trip; any single flipped bit fails).

use proptest::prelude::*;
use zeroize::Zeroizing;

use secrets_domain::crypto::padding::{PAD_BUCKETS, padded_len};
use secrets_domain::crypto::{EncryptionContext, open, seal};
use secrets_domain::input::CreateSecret;
use secrets_domain::model::{
    MAX_NAME_CHARS, MAX_SECRET_BYTES, MAX_TAG_LEN, SecretId, SecretName, SecretValue, Tag, TenantId,
};
use secrets_domain::page::{MAX_PAGE, MAX_PAGE_SIZE, PageRequest};
use secrets_domain::ports::{DataKeys, SecretStore};
use secrets_testkit::{LocalDataKeys, MemoryStore, conformance};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The tag rule as the README states it.
fn is_documented_tag(raw: &str) -> bool {
    (1..=MAX_TAG_LEN).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !SecretId::has_id_shape(raw)
}

/// Not Unicode format characters (`Cf`), yet rendered as nothing: the
/// README names them with the rest.
const RENDERED_AS_NOTHING: [char; 5] = ['\u{34f}', '\u{115f}', '\u{1160}', '\u{3164}', '\u{ffa0}'];

/// The name rule as the README states it, for strings without format
/// characters (the properties below give those their own).
fn is_documented_name(raw: &str) -> bool {
    (1..=MAX_NAME_CHARS).contains(&raw.chars().count())
        && !raw.trim().is_empty()
        && raw.trim() == raw
        && !raw
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
        && !raw.chars().any(|c| RENDERED_AS_NOTHING.contains(&c))
}

proptest! {
    #[test]
    fn tags_from_the_alphabet_are_accepted(raw in "[A-Za-z0-9_-]{1,100}") {
        prop_assert_eq!(Tag::parse(&raw).is_ok(), !SecretId::has_id_shape(&raw));
    }

    #[test]
    fn any_string_is_a_tag_exactly_when_the_rule_says(raw in "\\PC{0,110}|[a-z0-9_-]{0,120}|.{0,3}") {
        prop_assert_eq!(Tag::parse(&raw).is_ok(), is_documented_tag(&raw));
    }

    #[test]
    fn any_string_is_a_name_exactly_when_the_rule_says(raw in "\\PC{0,260}|\\s{0,3}|[\\x00-\\x1f\\x7f-\\x9f a]{0,5}") {
        prop_assert_eq!(SecretName::parse(raw.clone()).is_ok(), is_documented_name(&raw));
    }

    /// Unicode's own `Cf` table (the regex engine's), against ours.
    #[test]
    fn a_format_character_anywhere_refuses_a_name_and_a_tenant(raw in "[a-z]{0,4}\\p{Cf}[a-z]{0,4}") {
        prop_assert!(SecretName::parse(raw.clone()).is_err());
        prop_assert!(TenantId::parse(&raw).is_none());
    }

    #[test]
    fn any_string_is_a_value_exactly_when_it_is_1_to_64_kib(len in 0usize..70_000, wide in any::<bool>()) {
        let raw = if wide { "\u{e9}".repeat(len / 2) } else { "v".repeat(len) };
        let expected = (1..=MAX_SECRET_BYTES).contains(&raw.len());
        prop_assert_eq!(SecretValue::parse(Zeroizing::new(raw)).is_ok(), expected);
    }

    #[test]
    fn page_parameters_accept_exactly_the_documented_ranges(page in any::<i64>(), size in any::<i64>()) {
        let result = PageRequest::from_query(&[&page.to_string()], &[&size.to_string()]);
        let valid = (0..=i64::from(MAX_PAGE)).contains(&page) && (1..=i64::from(MAX_PAGE_SIZE)).contains(&size);
        prop_assert_eq!(result.is_ok(), valid);
    }

    #[test]
    fn page_parameters_never_accept_what_is_not_a_decimal_integer(raw in "\\PC{0,12}") {
        let accepted = PageRequest::from_query(&[&raw], &[]).is_ok();
        let decimal = !raw.is_empty() && raw.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit())
            && raw.trim_start_matches('-').len() + 1 >= raw.len();
        prop_assert!(!accepted || decimal, "{raw:?} accepted");
    }

    #[test]
    fn any_bytes_parse_or_are_a_400(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Err(error) = CreateSecret::from_json(&body) {
            prop_assert_eq!(error.http_status(), 400);
        }
    }

    #[test]
    fn errors_never_quote_the_body(prefix in "\\PC{0,20}", suffix in "\\PC{0,20}") {
        const MARKER: &str = "Zq7-marker-Zq7";
        let bodies = [
            format!("{prefix}{MARKER}{suffix}"),
            format!(r#""{MARKER}{suffix}""#),
            format!(r#"["{MARKER}", {prefix}]"#),
            format!(r#"{{"tag":"{MARKER}{suffix}","name":{prefix}"#),
            format!(r#"{{"tag":"t{prefix}","name":"n","secret":"{MARKER}{suffix}""#),
            format!(r#"{{"tag":"t","name":"{MARKER}\u0000","secret":"{suffix}"}}"#),
            format!(r#"{{"{MARKER}":1,"tag":"{MARKER}","tag":"x"}}"#),
            format!(r#"{{"tag":"t","name":"n","secret":"{MARKER}\ud800"}}"#),
        ];
        for body in bodies {
            if let Err(error) = CreateSecret::from_json(body.as_bytes()) {
                prop_assert_eq!(error.http_status(), 400);
                prop_assert!(!error.to_string().contains(MARKER), "{} quoted in {}", body, error);
            }
        }
    }

    #[test]
    fn the_pages_of_any_total_cover_every_row_once(total in 0u64..20_000, size in 1u32..=MAX_PAGE_SIZE) {
        let first = PageRequest::new(0, size).unwrap();
        let pages = first.total_pages(total);
        let mut covered = 0u64;
        for page in 0..pages {
            let request = PageRequest::new(u32::try_from(page).unwrap(), size).unwrap();
            prop_assert_eq!(request.skip(), covered);
            prop_assert!(!request.is_past_end(total));
            covered += u64::from(size).min(total - request.skip());
        }
        prop_assert_eq!(covered, total);
        let past = PageRequest::new(u32::try_from(pages).unwrap(), size).unwrap();
        prop_assert!(past.is_past_end(total));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn walking_a_store_returns_every_secret_once_in_tag_order(
        tags in proptest::collection::btree_set("[a-z0-9_-]{1,12}", 0..60),
        size in 1u32..25,
    ) {
        runtime().block_on(async {
            let store = MemoryStore::default();
            let tenant = conformance::random_tenant();
            for tag in &tags {
                store.insert(&tenant, conformance::new_secret(tag), None).await.unwrap();
            }
            let mut walked = Vec::new();
            let pages = PageRequest::new(0, size).unwrap().total_pages(tags.len() as u64);
            for page in 0..pages {
                let result = store.list(&tenant, PageRequest::new(page as u32, size).unwrap()).await.unwrap();
                walked.extend(result.secrets.into_iter().map(|s| s.tag.to_string()));
            }
            let expected: Vec<String> = tags.iter().cloned().collect();
            assert_eq!(walked, expected);
        });
    }

    #[test]
    fn sealed_values_round_trip_padded_to_their_bucket(value in "\\PC{1,2000}|\\x00{1,40}", version in 1u64..1000) {
        runtime().block_on(async {
            let (keys, tenant, id) = (LocalDataKeys::default(), TenantId::parse("t").unwrap(), SecretId::generate().unwrap());
            let context = EncryptionContext::new(&tenant, &id);
            let secret = SecretValue::parse(Zeroizing::new(value.clone())).unwrap();
            let sealed = seal(&keys, context, version, &secret).await.unwrap();
            assert_eq!(open(&keys, context, &sealed).await.unwrap().as_slice(), value.as_bytes());
            let bucket = padded_len(value.len()).unwrap();
            assert!(PAD_BUCKETS.contains(&bucket) && bucket > value.len());
            assert_eq!(sealed.ciphertext.len(), bucket + 16);
        });
    }

    #[test]
    fn any_single_flipped_bit_fails_to_decrypt(value in "\\PC{1,200}", bit in any::<usize>(), part in 0usize..3) {
        runtime().block_on(async {
            let (keys, tenant, id) = (LocalDataKeys::default(), TenantId::parse("t").unwrap(), SecretId::generate().unwrap());
            let context = EncryptionContext::new(&tenant, &id);
            let secret = SecretValue::parse(Zeroizing::new(value)).unwrap();
            let mut sealed = seal(&keys, context, 1, &secret).await.unwrap();
            let target: &mut [u8] = match part {
                0 => &mut sealed.ciphertext,
                1 => &mut sealed.nonce,
                _ => &mut sealed.wrapped_key,
            };
            let bit = bit % (target.len() * 8);
            target[bit / 8] ^= 1 << (bit % 8);
            assert!(open(&keys, context, &sealed).await.is_err(), "part {part}, bit {bit}");
            assert!(keys.generated() == 1);
        });
    }
}

#[tokio::test]
async fn a_value_moved_to_another_secret_or_tenant_fails() {
    let keys = LocalDataKeys::default();
    let (tenant, other_tenant) = (TenantId::parse("a").unwrap(), TenantId::parse("b").unwrap());
    let (id, other_id) = (SecretId::generate().unwrap(), SecretId::generate().unwrap());
    let value = SecretValue::parse(Zeroizing::new("moved".into())).unwrap();
    let sealed = seal(&keys, EncryptionContext::new(&tenant, &id), 1, &value)
        .await
        .unwrap();
    for context in [
        EncryptionContext::new(&tenant, &other_id),
        EncryptionContext::new(&other_tenant, &id),
        EncryptionContext::new(&other_tenant, &other_id),
    ] {
        assert!(keys.unwrap_key(&sealed, context).await.is_err());
        assert!(open(&keys, context, &sealed).await.is_err());
    }
}
