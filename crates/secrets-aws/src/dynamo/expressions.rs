//! Condition and update expressions with their placeholders. Every attribute
//! is named through a `#name` placeholder, so that no attribute name can
//! collide with one of DynamoDB's reserved words, and every value through a
//! `:name` one; a placeholder is declared only where it is used, since
//! DynamoDB refuses unused ones.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use secrets_domain::model::FIRST_VERSION;

use super::attributes::{PK, VALUE_VERSION, VERSION};
use super::codec::number;

#[derive(Debug, Default, Clone)]
pub(super) struct Placeholders {
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl Placeholders {
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, placeholder: String, value: AttributeValue) -> String {
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub(super) fn merge(&mut self, other: Placeholders) {
        self.names.extend(other.names);
        self.values.extend(other.values);
    }
}

/// What an item must be like for a write to it to go ahead.
#[derive(Debug, Clone)]
pub(super) struct Condition {
    pub(super) text: String,
    pub(super) placeholders: Placeholders,
}

impl Condition {
    /// The item exists.
    pub(super) fn exists() -> Self {
        Self::on_key("attribute_exists")
    }

    /// The item does not exist.
    pub(super) fn absent() -> Self {
        Self::on_key("attribute_not_exists")
    }

    fn on_key(function: &str) -> Self {
        let mut placeholders = Placeholders::default();
        let text = format!("{function}({})", placeholders.name(PK));
        Self { text, placeholders }
    }

    /// The item does not exist, or its `attribute` (seconds) is `now` or
    /// earlier: it has expired, whether or not TTL has removed it yet.
    pub(super) fn absent_or_expired(attribute: &str, now_secs: u64) -> Self {
        let mut condition = Self::absent();
        let name = condition.placeholders.name(attribute);
        let now = condition
            .placeholders
            .value(format!(":{attribute}"), number(now_secs));
        condition.text = format!("{} OR {name} <= {now}", condition.text);
        condition
    }

    /// `attribute` is absent or below `limit`.
    pub(super) fn below(attribute: &str, limit: u64) -> Self {
        let mut placeholders = Placeholders::default();
        let name = placeholders.name(attribute);
        let limit = placeholders.value(format!(":{attribute}"), number(limit));
        Self {
            text: format!("attribute_not_exists({name}) OR {name} < {limit}"),
            placeholders,
        }
    }

    /// And `attribute` equals `value`.
    pub(super) fn and_equals(mut self, attribute: &str, value: AttributeValue) -> Self {
        let name = self.placeholders.name(attribute);
        let value = self.placeholders.value(format!(":{attribute}"), value);
        self.text = format!("{} AND {name} = {value}", self.text);
        self
    }

    /// And the item has `attribute`.
    pub(super) fn and_has(mut self, attribute: &str) -> Self {
        let name = self.placeholders.name(attribute);
        self.text = format!("{} AND attribute_exists({name})", self.text);
        self
    }

    /// And the number `attribute` is above `floor`.
    pub(super) fn and_above(mut self, attribute: &str, floor: u64) -> Self {
        let name = self.placeholders.name(attribute);
        let floor = self
            .placeholders
            .value(format!(":above_{attribute}"), number(floor));
        self.text = format!("{} AND {name} > {floor}", self.text);
        self
    }

    /// And the item lacks `attribute`.
    pub(super) fn and_lacks(mut self, attribute: &str) -> Self {
        let name = self.placeholders.name(attribute);
        self.text = format!("{} AND attribute_not_exists({name})", self.text);
        self
    }

    /// And the item is still at `version`; an item written before versions
    /// existed is at the first.
    pub(super) fn and_at_version(self, version: u64) -> Self {
        self.and_numbered(VERSION, version)
    }

    /// And the item names value version `value_version`; one written
    /// before value versions were bound names the first.
    pub(super) fn and_at_value_version(self, value_version: u64) -> Self {
        self.and_numbered(VALUE_VERSION, value_version)
    }

    /// And the number `attribute` is `n`, its absence counting as the first.
    fn and_numbered(mut self, attribute: &str, n: u64) -> Self {
        let name = self.placeholders.name(attribute);
        let value = self.placeholders.value(format!(":{attribute}"), number(n));
        let numbered = if n == FIRST_VERSION {
            format!("(attribute_not_exists({name}) OR {name} = {value})")
        } else {
            format!("{name} = {value}")
        };
        self.text = format!("{} AND {numbered}", self.text);
        self
    }
}

/// What an update does to an item: attributes set, numbers added,
/// attributes removed.
#[derive(Debug, Default, Clone)]
pub(super) struct Changes {
    sets: Vec<String>,
    adds: Vec<String>,
    removes: Vec<String>,
    placeholders: Placeholders,
}

impl Changes {
    pub(super) fn set(mut self, attribute: &str, value: AttributeValue) -> Self {
        let name = self.placeholders.name(attribute);
        let value = self.placeholders.value(format!(":set_{attribute}"), value);
        self.sets.push(format!("{name} = {value}"));
        self
    }

    pub(super) fn add(mut self, attribute: &str, amount: i64) -> Self {
        let name = self.placeholders.name(attribute);
        let value = self.placeholders.value(
            format!(":add_{attribute}"),
            AttributeValue::N(amount.to_string()),
        );
        self.adds.push(format!("{name} {value}"));
        self
    }

    pub(super) fn remove(mut self, attribute: &str) -> Self {
        let name = self.placeholders.name(attribute);
        self.removes.push(name);
        self
    }

    /// The update expression and its placeholders.
    pub(super) fn into_parts(self) -> (String, Placeholders) {
        let mut clauses = Vec::new();
        if !self.sets.is_empty() {
            clauses.push(format!("SET {}", self.sets.join(", ")));
        }
        if !self.adds.is_empty() {
            clauses.push(format!("ADD {}", self.adds.join(", ")));
        }
        if !self.removes.is_empty() {
            clauses.push(format!("REMOVE {}", self.removes.join(", ")));
        }
        (clauses.join(" "), self.placeholders)
    }
}

/// A projection of `attributes`, with its placeholders.
pub(super) fn projection(attributes: &[&str]) -> (String, Placeholders) {
    let mut placeholders = Placeholders::default();
    let names: Vec<String> = attributes
        .iter()
        .map(|attribute| placeholders.name(attribute))
        .collect();
    (names.join(", "), placeholders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_name_every_attribute_and_value_they_use() {
        let condition = Condition::exists()
            .and_equals("id", AttributeValue::S("se1".into()))
            .and_at_version(3);
        assert_eq!(
            condition.text,
            "attribute_exists(#pk) AND #id = :id AND #version = :version"
        );
        let mut names: Vec<_> = condition.placeholders.names.keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["#id", "#pk", "#version"]);
        assert_eq!(condition.placeholders.values.len(), 2);
        assert!(
            Condition::exists()
                .and_at_version(FIRST_VERSION)
                .text
                .ends_with("(attribute_not_exists(#version) OR #version = :version)")
        );
    }

    #[test]
    fn updates_set_and_add_through_their_own_placeholders() {
        let (expression, placeholders) = Changes::default()
            .set("version", number(2))
            .set("name", AttributeValue::S("n".into()))
            .add("count", -1)
            .into_parts();
        assert_eq!(
            expression,
            "SET #version = :set_version, #name = :set_name ADD #count :add_count"
        );
        assert_eq!(
            placeholders.values[":add_count"],
            AttributeValue::N("-1".into())
        );
        // Setting a version while conditioning on the old one: no clash.
        let condition = Condition::exists().and_at_version(1);
        let mut merged = placeholders;
        merged.merge(condition.placeholders);
        assert_eq!(merged.values.len(), 4);
    }
}
