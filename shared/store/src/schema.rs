//! The table's physical schema: attribute names, indexes and their projections. The DynamoDB table
//! (template.yaml, `DynamoStore::create_table`) and the embedded store both follow this module.

/// Partition and sort key attribute names.
pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The TTL attribute (epoch seconds); an item past it counts as absent.
pub const TTL: &str = "ttl";
/// The optimistic-lock attribute.
pub const VERSION: &str = "version";

/// A global secondary index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Index {
    /// Orders by tenant (write-sharded), by creation time.
    Gsi1,
    /// Orders by tenant and status (write-sharded), by creation time.
    Gsi2,
    /// Orders by tenant (write-sharded), by last change.
    Gsi3,
}

impl Index {
    pub const ALL: [Index; 3] = [Index::Gsi1, Index::Gsi2, Index::Gsi3];

    pub fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1",
            Index::Gsi2 => "gsi2",
            Index::Gsi3 => "gsi3",
        }
    }

    pub fn pk_attr(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1pk",
            Index::Gsi2 => "gsi2pk",
            Index::Gsi3 => "gsi3pk",
        }
    }

    pub fn sk_attr(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1sk",
            Index::Gsi2 => "gsi2sk",
            Index::Gsi3 => "gsi3sk",
        }
    }
}

/// Non-key attributes every index projects (`INCLUDE`): the summary a listing shows, and only
/// fields that change with it. Nothing that changes on every command (the version, the update
/// time) is projected on the creation and status indexes, so a command that changes no listed
/// field writes neither of them (DESIGN.md §3).
pub const INDEX_PROJECTION: &[&str] = &[
    "order_id",
    "status",
    "created_at",
    "total",
    "currency",
    "customer_name",
    "external_ref",
    // Projected so that queries on an index can leave expired items out.
    "ttl",
];

impl Index {
    /// What this index projects: the summary, and on the change index (whose key moves with
    /// every command anyway) the update time.
    pub fn projection(self) -> Vec<&'static str> {
        let mut attrs = INDEX_PROJECTION.to_vec();
        if self == Index::Gsi3 {
            attrs.insert(3, "updated_at");
        }
        attrs
    }
}

/// Whether an index returns `attr` (key attributes of the table and of the index, and the
/// projection).
pub fn projected(index: Index, attr: &str) -> bool {
    attr == PK
        || attr == SK
        || attr == index.pk_attr()
        || attr == index.sk_attr()
        || index.projection().contains(&attr)
}
