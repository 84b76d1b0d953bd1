//! Relay cursor connections (<https://relay.dev/graphql/connections.htm>) for every list: edges
//! with a non-null cursor each, `nodes` for clients that need no cursors, and the full `pageInfo`.
//!
//! Paging is forward (`first` / `after`): the listings are write-sharded indexes merged by sort
//! key, and a backward merge would need every shard read from its end. `hasPreviousPage` is true
//! exactly when the page was asked for `after` a cursor (a cursor is only ever issued for a row,
//! so rows precede it) — the spec lets forward paging answer it that cheaply.

use app::listing::{Page, RowCursor};
use async_graphql::SimpleObject;

use crate::errors::coded;
use crate::views::{AuditRecordV, OrderSummary, TenantV};

/// The cursor of one edge: a store position, signed when a client selects it.
#[derive(Debug, Clone)]
pub enum EdgeCursor {
    Row(RowCursor),
    /// Listings that are not store pages (the platform's tenant list) carry their cursor made.
    Made(String),
}

impl EdgeCursor {
    pub(crate) fn encode(&self) -> async_graphql::Result<String> {
        match self {
            EdgeCursor::Row(c) => c.encode().map_err(|e| {
                tracing::error!(error = %e, "a cursor could not be signed");
                coded("INTERNAL", "internal error")
            }),
            EdgeCursor::Made(c) => Ok(c.clone()),
        }
    }
}

#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// More rows may follow `endCursor`.
    pub has_next_page: bool,
    /// The page was read `after` a cursor, so rows precede it.
    pub has_previous_page: bool,
    /// The first edge's cursor (null without edges).
    pub start_cursor: Option<String>,
    /// The last edge's cursor; on a page without edges that still has a next page (every row
    /// read was filtered out), the cursor to read on from.
    pub end_cursor: Option<String>,
}

/// One connection type and its edge type per node type (GraphQL names them; async-graphql's
/// generic objects cannot nest one generic object in another).
macro_rules! connection {
    ($(#[$doc:meta])* $connection:ident, $edge:ident, $node:ty) => {
        #[derive(Debug, Clone)]
        pub struct $edge {
            pub node: $node,
            pub cursor: EdgeCursor,
        }

        #[async_graphql::Object]
        impl $edge {
            async fn node(&self) -> &$node {
                &self.node
            }

            /// Pass it as `after` to read on from this edge.
            async fn cursor(&self) -> async_graphql::Result<String> {
                self.cursor.encode()
            }
        }

        #[derive(Debug, Clone)]
        pub struct $connection {
            pub edges: Vec<$edge>,
            pub has_previous_page: bool,
            /// The cursor to read on from, present exactly when more rows may follow.
            pub next: Option<String>,
        }

        $(#[$doc])*
        #[async_graphql::Object]
        impl $connection {
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }

            /// The edges' nodes, for clients that need no cursors.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }

            async fn page_info(&self) -> async_graphql::Result<PageInfo> {
                let end_cursor = match self.edges.last() {
                    Some(e) => Some(e.cursor.encode()?),
                    None => self.next.clone(),
                };
                Ok(PageInfo {
                    has_next_page: self.next.is_some(),
                    has_previous_page: self.has_previous_page,
                    start_cursor: self.edges.first().map(|e| e.cursor.encode()).transpose()?,
                    end_cursor,
                })
            }
        }

        impl $connection {
            /// A store page's rows as nodes (`view` renders each), asked for `after` or not.
            pub fn of<R>(page: Page<R>, after: Option<&str>, view: impl Fn(&R) -> $node) -> Self {
                Self {
                    edges: page
                        .rows
                        .iter()
                        .zip(page.cursors)
                        .map(|(row, cursor)| $edge {
                            node: view(row),
                            cursor: EdgeCursor::Row(cursor),
                        })
                        .collect(),
                    has_previous_page: after.is_some(),
                    next: page.end_cursor,
                }
            }

            /// Edges made by the caller, and the cursor of the next page if there is one.
            pub fn made(edges: Vec<($node, String)>, after: Option<&str>, next: Option<String>) -> Self {
                Self {
                    edges: edges
                        .into_iter()
                        .map(|(node, cursor)| $edge {
                            node,
                            cursor: EdgeCursor::Made(cursor),
                        })
                        .collect(),
                    has_previous_page: after.is_some(),
                    next,
                }
            }
        }
    };
}

pub(crate) use connection;

connection!(
    /// A Relay connection of orders.
    OrderConnection,
    OrderEdge,
    OrderSummary
);
connection!(
    /// A Relay connection of audit records.
    AuditConnection,
    AuditEdge,
    AuditRecordV
);
connection!(
    /// A Relay connection of tenants (platform admins only).
    TenantConnection,
    TenantEdge,
    TenantV
);
