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
    /// Lexical tokens of one document, counted before it is parsed: parse time and memory grow
    /// with them, and the body limit alone still lets through ~30,000 one-letter tokens.
    pub tokens: usize,
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
            // A 250-line createOrder written inline is ~4,500 tokens; variables cost none.
            tokens: 10_000,
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

/// The GraphQL tokens of `text` (punctuators, names, numbers, strings; white space, commas and
/// comments are not tokens), counting no further than `max + 1`. A lexer just exact enough for
/// a bound: a number with a fraction or exponent is one token, as in the spec.
pub fn count_tokens(text: &str, max: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut count = 0;
    while i < bytes.len() && count <= max {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 3;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'.' if bytes[i..].starts_with(b"...") => i += 3,
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'.' | b'+' | b'-'))
                {
                    i += 1;
                }
            }
            _ => i += 1,
        }
        count += 1;
    }
    count
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

#[cfg(test)]
mod tests {
    use super::count_tokens;

    #[test]
    fn tokens_are_counted_as_graphql_lexes_them() {
        let q = r#"query Q($id: ID!) { order(id: $id) { ...F total(x: -1.5e3) } } # a comment, with "quotes"
            fragment F on Order { note(text: "a \"b\", c") doc(s: """ block "" \""" """) }"#;
        // query Q ( $ id : ID ! ) { order ( id : $ id ) { ... F total ( x : -1.5e3 ) } }
        //   = 28; fragment F on Order { note ( text : "…" ) doc ( s : """…""" ) } = 18
        assert_eq!(count_tokens(q, usize::MAX), 46);
        assert_eq!(count_tokens("", 10), 0);
        assert_eq!(count_tokens(",,, \n\t", 10), 0);
    }

    #[test]
    fn counting_stops_past_the_bound() {
        let q = "a ".repeat(1_000_000);
        assert_eq!(count_tokens(&q, 100), 101);
        // An unterminated string ends the text; it does not run past it.
        assert_eq!(count_tokens(r#"{ a(s: "open"#, 10), 6);
        assert_eq!(count_tokens(r#"{ a(s: """open"#, 10), 6);
    }
}
