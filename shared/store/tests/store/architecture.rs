//! The SAM template's table against the storage schema.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// template.yaml's table has exactly the indexes and projections `store::schema` describes (the
/// embedded store and the test tables follow the schema; production follows the template).
#[test]
fn the_sam_template_matches_the_schema() {
    use store::schema::Index;
    let template = std::fs::read_to_string(workspace().join("template.yaml")).unwrap();
    for ix in Index::ALL {
        let start = template
            .find(&format!("IndexName: {}", ix.name()))
            .unwrap_or_else(|| panic!("template.yaml lacks index {}", ix.name()));
        let block: String = template[start..]
            .lines()
            .skip(1)
            .take_while(|l| !l.contains("IndexName:"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            block.contains(&format!("AttributeName: {}, KeyType: HASH", ix.pk_attr())),
            "{}",
            ix.name()
        );
        assert!(
            block.contains(&format!("AttributeName: {}, KeyType: RANGE", ix.sk_attr())),
            "{}",
            ix.name()
        );
        let projected: Vec<&str> = block
            .split("NonKeyAttributes:")
            .nth(1)
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .take_while(|l| l.starts_with("- ") || l.is_empty())
            .filter_map(|l| l.strip_prefix("- "))
            .collect();
        assert_eq!(projected, ix.projection(), "projection of {}", ix.name());
    }
    assert!(template.contains("AttributeName: ttl"), "TTL attribute");
}
