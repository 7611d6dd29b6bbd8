//! Batch resolve.

use secrets_domain::service::{BatchKeys, MAX_BATCH_KEYS};

use super::*;

fn batch(keys: &[TagOrId]) -> BatchKeys {
    BatchKeys::new(keys.iter().cloned()).unwrap()
}

/// Each entry's status, and its value where it has one.
fn answers(entries: &[secrets_domain::service::BatchEntry]) -> Vec<(String, u16, Option<String>)> {
    entries
        .iter()
        .map(|(key, result)| match result {
            Ok(resolved) => (
                key.to_string(),
                200,
                Some(String::from_utf8(resolved.value.to_vec()).unwrap()),
            ),
            Err(error) => (key.to_string(), error.http_status(), None),
        })
        .collect()
}

#[tokio::test]
async fn each_secret_is_answered_on_its_own_in_the_order_asked() {
    let service = service();
    let (acme, other) = (tenant("acme"), tenant("other"));
    let db = create_secret(&service, &acme, "db", "db password").await;
    create_secret(&service, &acme, "api", "api key").await;
    let theirs = create_secret(&service, &other, "mine", "not yours").await;
    let keys = [
        by_tag("api"),
        TagOrId::Id(db.id.clone()),
        by_tag("missing"),
        by_tag("db"),
        TagOrId::Id(theirs.id.clone()),
        by_tag("mine"),
    ];
    let entries = service
        .resolve_many(&acting(&acme, Operation::Resolve), &batch(&keys))
        .await
        .unwrap();
    assert_eq!(
        answers(&entries),
        [
            ("api".to_owned(), 200, Some("api key".to_owned())),
            (db.id.to_string(), 200, Some("db password".to_owned())),
            ("missing".to_owned(), 404, None),
            ("db".to_owned(), 200, Some("db password".to_owned())),
            (theirs.id.to_string(), 404, None),
            ("mine".to_owned(), 404, None),
        ]
    );
    // One record per value handed out, each naming its place in the batch;
    // refusals are the function's to record.
    let records: Vec<_> = service
        .store()
        .audit_records()
        .into_iter()
        .filter(|r| r.operation == Operation::Resolve)
        .map(|r| {
            (
                r.batch_item,
                r.secret_id.map(|id| id.to_string()),
                r.outcome,
            )
        })
        .collect();
    assert_eq!(
        records,
        [
            (
                Some(0),
                Some(entries[0].1.as_ref().unwrap().summary.id.to_string()),
                Outcome::Allowed
            ),
            (Some(1), Some(db.id.to_string()), Outcome::Allowed),
            (Some(3), Some(db.id.to_string()), Outcome::Allowed),
        ]
    );
}

#[tokio::test]
async fn a_value_rolled_back_or_changed_meanwhile_spoils_only_its_own_entry() {
    let service = service();
    let acme = tenant("acme");
    let db = create_secret(&service, &acme, "db", "old").await;
    let first = service
        .store()
        .sealed_value(&acme, &db.id)
        .await
        .unwrap()
        .unwrap();
    update_secret(&service, &acme, &by_tag("db"), new_value("new"))
        .await
        .unwrap();
    create_secret(&service, &acme, "api", "api key").await;
    service
        .store()
        .put_back_value(&acme, &Tag::parse("db").unwrap(), first);
    let entries = service
        .resolve_many(
            &acting(&acme, Operation::Resolve),
            &batch(&[by_tag("db"), by_tag("api")]),
        )
        .await
        .unwrap();
    assert_eq!(
        answers(&entries),
        [
            ("db".to_owned(), 500, None),
            ("api".to_owned(), 200, Some("api key".to_owned())),
        ]
    );
}

#[tokio::test]
async fn an_entry_whose_record_cannot_be_stored_gets_no_value() {
    let service = service();
    let acme = tenant("acme");
    create_secret(&service, &acme, "db", "v").await;
    service.store().interference().refuse_audit_records();
    let entries = service
        .resolve_many(&acting(&acme, Operation::Resolve), &batch(&[by_tag("db")]))
        .await
        .unwrap();
    assert_eq!(answers(&entries), [("db".to_owned(), 503, None)]);
}

#[test]
fn a_batch_names_one_to_twenty_different_secrets() {
    let keys: Vec<TagOrId> = (0..=MAX_BATCH_KEYS)
        .map(|i| by_tag(&format!("t{i}")))
        .collect();
    assert_eq!(
        BatchKeys::new(keys[..MAX_BATCH_KEYS].to_vec())
            .unwrap()
            .keys()
            .len(),
        20
    );
    for refused in [vec![], keys.clone()] {
        let error = BatchKeys::new(refused).unwrap_err();
        assert_eq!(error.http_status(), 400);
        assert!(error.to_string().contains("1 to 20"), "{error}");
    }
    // Repeats are answered once: twenty-one names of twenty secrets pass.
    let mut repeated = keys[..MAX_BATCH_KEYS].to_vec();
    repeated.insert(3, by_tag("t0"));
    let batch = BatchKeys::new(repeated).unwrap();
    assert_eq!(batch.keys(), &keys[..MAX_BATCH_KEYS]);
}
