//! GraphQL documents, parsed once: a request's document is parsed one time and that parse serves
//! the limits, the log line and execution; and since clients send the same few documents again
//! and again, parses are kept in a bounded cache keyed by the query text. A hit is held to the
//! same limits as a miss (the alias count here; depth, complexity and directives in validation,
//! which runs on every request). A document that once ran without any error has passed every
//! validation rule; from then on it runs with the fast schema, which re-checks only what can
//! change between requests.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection};
use lru::LruCache;

use crate::BadRequest;
use graphql::limits::{Limits, count_aliases, count_tokens};

/// Documents longer than this are parsed every time (they are rare, and would crowd out the
/// ones that repeat).
const MAX_CACHED_TEXT: usize = 8 * 1024;

/// One parsed document and what the edge reads from it.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) doc: ExecutableDocument,
    /// The first root field of the first operation (for the log line).
    pub(crate) first_field: Option<String>,
    aliases: usize,
    tokens: usize,
    /// Ran once with full validation and no error at all.
    validated: AtomicBool,
}

impl Parsed {
    fn new(query: &str, limits: &Limits) -> Result<Self, BadRequest> {
        // Counted before parsing: the bound is what keeps a parse cheap.
        let tokens = count_tokens(query, limits.tokens);
        if tokens > limits.tokens {
            return Err(BadRequest::new(
                "TOO_MANY_TOKENS",
                format!("more than {} tokens in the document", limits.tokens),
            ));
        }
        let doc = async_graphql::parser::parse_query(query)
            .map_err(|e| BadRequest::new("GRAPHQL_PARSE_FAILED", e.to_string()))?;
        Ok(Self {
            tokens,
            aliases: count_aliases(&doc),
            first_field: first_field(&doc),
            doc,
            validated: AtomicBool::new(false),
        })
    }

    fn check(&self, limits: &Limits) -> Result<(), BadRequest> {
        if self.tokens > limits.tokens {
            return Err(BadRequest::new(
                "TOO_MANY_TOKENS",
                format!(
                    "{} tokens in the document; at most {}",
                    self.tokens, limits.tokens
                ),
            ));
        }
        if self.aliases > limits.aliases {
            return Err(BadRequest::new(
                "TOO_MANY_ALIASES",
                format!("{} aliases; at most {}", self.aliases, limits.aliases),
            ));
        }
        Ok(())
    }

    /// Whether this document already passed the full rule set.
    pub(crate) fn validated(&self) -> bool {
        self.validated.load(Ordering::Relaxed)
    }

    /// Records that this document ran under full validation without any error.
    pub(crate) fn mark_validated(&self) {
        self.validated.store(true, Ordering::Relaxed);
    }

    /// `req` carrying this parse, so that async-graphql does not parse the text again.
    pub(crate) fn attach(&self, mut req: async_graphql::Request) -> async_graphql::Request {
        req.set_parsed_query(self.doc.clone());
        req
    }
}

/// The first root field of a document's first operation.
fn first_field(doc: &ExecutableDocument) -> Option<String> {
    let op = match &doc.operations {
        DocumentOperations::Single(op) => op,
        DocumentOperations::Multiple(map) => map.values().next()?,
    };
    op.node
        .selection_set
        .node
        .items
        .iter()
        .find_map(|s| match &s.node {
            Selection::Field(f) => Some(f.node.name.node.to_string()),
            _ => None,
        })
}

/// The bounded cache of parsed documents.
pub(crate) struct Documents {
    cache: Mutex<LruCache<String, Arc<Parsed>>>,
}

impl Documents {
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        Self {
            cache: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The parse of `query`, from the cache or parsed now, within `limits`.
    pub(crate) fn parse(&self, query: &str, limits: &Limits) -> Result<Arc<Parsed>, BadRequest> {
        let hit = self
            .cache
            .lock()
            .ok()
            .and_then(|mut c| c.get(query).cloned());
        let parsed = match hit {
            Some(p) => p,
            None => {
                let p = Arc::new(Parsed::new(query, limits)?);
                if query.len() <= MAX_CACHED_TEXT
                    && let Ok(mut c) = self.cache.lock()
                {
                    c.put(query.to_owned(), p.clone());
                }
                p
            }
        };
        parsed.check(limits)?;
        Ok(parsed)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn documents() -> Documents {
        Documents::new(NonZeroUsize::new(2).unwrap())
    }

    #[test]
    fn a_document_is_parsed_once_and_held_to_the_limits_on_every_hit() {
        let docs = documents();
        let limits = Limits::production();
        let q = "query { a: viewer { tenant } b: viewer { tenant } }";
        let first = docs.parse(q, &limits).unwrap();
        let again = docs.parse(q, &limits).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second request reuses the parse"
        );
        assert_eq!(first.first_field.as_deref(), Some("viewer"));
        let tight = Limits {
            aliases: 1,
            ..Limits::production()
        };
        let err = docs.parse(q, &tight).err().unwrap();
        assert_eq!(err.code, "TOO_MANY_ALIASES");
    }

    #[test]
    fn the_cache_is_bounded_and_skips_long_documents() {
        let docs = documents();
        let limits = Limits::production();
        for q in ["{ a }", "{ b }", "{ c }"] {
            docs.parse(q, &limits).unwrap();
        }
        assert_eq!(docs.len(), 2);
        let long = format!("{{ {} }}", "x ".repeat(MAX_CACHED_TEXT));
        let a = docs.parse(&long, &limits).unwrap();
        let b = docs.parse(&long, &limits).unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn a_syntax_error_is_a_parse_failure() {
        let err = documents()
            .parse("{ viewer { ", &Limits::production())
            .err()
            .unwrap();
        assert_eq!(err.code, "GRAPHQL_PARSE_FAILED");
    }
}
