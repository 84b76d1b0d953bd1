//! The request limits of DESIGN.md §5, and the checks run on a request's text before anything
//! else (no authentication, no store access for a request over a limit).

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};

#[derive(Debug, Clone)]
pub struct Limits {
    pub depth: usize,
    pub complexity: usize,
    pub aliases: usize,
    /// Directives on one field (`@include`, `@skip`: two make sense; hundreds are an attack).
    pub directives: usize,
    pub batch: usize,
    pub body_bytes: usize,
    pub timeout: std::time::Duration,
    pub introspection: bool,
}

impl Limits {
    pub fn production() -> Self {
        Self {
            depth: 12,
            // Lists count by the page asked for (`first` × the fields of a row): a full page of
            // 250 order summaries with every field and its pageInfo is about 2,500.
            complexity: 5_000,
            aliases: 30,
            directives: 4,
            batch: 10,
            body_bytes: 64 * 1024,
            timeout: std::time::Duration::from_secs(10),
            introspection: false,
        }
    }

    pub fn dev() -> Self {
        Self {
            introspection: true,
            ..Self::production()
        }
    }
}

/// Counts the aliases of a selection set (fragments are counted once, where defined).
fn aliases_in(set: &SelectionSet, depth: usize) -> usize {
    if depth > 64 {
        return 0;
    }
    set.items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some())
                    + aliases_in(&f.node.selection_set.node, depth + 1)
            }
            Selection::InlineFragment(i) => aliases_in(&i.node.selection_set.node, depth + 1),
            Selection::FragmentSpread(_) => 0,
        })
        .sum::<usize>()
}

/// The aliases of a whole document: its operations and its fragments.
pub fn count_aliases(doc: &ExecutableDocument) -> usize {
    let ops: usize = match &doc.operations {
        DocumentOperations::Single(op) => aliases_in(&op.node.selection_set.node, 0),
        DocumentOperations::Multiple(map) => map
            .values()
            .map(|op| aliases_in(&op.node.selection_set.node, 0))
            .sum(),
    };
    ops + doc
        .fragments
        .values()
        .map(|f| aliases_in(&f.node.selection_set.node, 0))
        .sum::<usize>()
}
