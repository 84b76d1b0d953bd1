//! Pages of a listing: rows, each with the cursor after it, and the cursor of the next page.

use std::sync::Arc;

use super::error::{RepoError, RepoResult};

/// The largest page a listing returns.
pub const MAX_PAGE_SIZE: u32 = 250;

/// `first` items after the opaque cursor `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub first: u32,
    pub after: Option<String>,
}

impl PageRequest {
    pub fn first(first: u32) -> Self {
        Self { first, after: None }
    }

    /// Refuses a page size outside 1..=250 (callers check it before any store access).
    pub fn check(&self) -> RepoResult<()> {
        if self.first == 0 || self.first > MAX_PAGE_SIZE {
            return Err(RepoError::InvalidPage(format!(
                "first must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        Ok(())
    }
}

/// A position in a listing as the store knows it, turned into an opaque cursor on demand.
pub trait RowPosition: std::fmt::Debug + Send + Sync {
    /// The opaque cursor of this position.
    fn encode(&self) -> RepoResult<String>;
}

/// The position after one row of a page, made a cursor only when a client asks for it (most
/// clients read `nodes` or the end cursor; signing every row of a 250-row page would cost more
/// than the page's query on the embedded store).
#[derive(Debug, Clone)]
pub struct RowCursor {
    position: Arc<dyn RowPosition>,
    /// Prepended to the store's cursor (`{prefix}{cursor}`): listings that wrap a store listing
    /// (the tenant audit log's day) add their own part.
    prefix: String,
}

impl RowCursor {
    pub fn new(position: Arc<dyn RowPosition>) -> Self {
        Self {
            position,
            prefix: String::new(),
        }
    }

    /// The same position, with `prefix` before the store's part.
    #[must_use]
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.prefix.insert_str(0, prefix);
        self
    }

    /// The opaque cursor a client sends back as `after`.
    pub fn encode(&self) -> RepoResult<String> {
        Ok(format!("{}{}", self.prefix, self.position.encode()?))
    }
}

/// A page of rows, each with the cursor of the position after it (Relay's edge cursor), and
/// the cursor of the next page when there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// `cursors[i]` resumes after `rows[i]`.
    pub cursors: Vec<RowCursor>,
    /// Present exactly when more rows may follow.
    pub end_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn empty() -> Self {
        Self {
            rows: Vec::new(),
            cursors: Vec::new(),
            end_cursor: None,
        }
    }

    /// Each row with its cursor.
    pub fn iter(&self) -> impl Iterator<Item = (&T, &RowCursor)> {
        self.rows.iter().zip(&self.cursors)
    }

    /// Each row mapped, its cursor kept.
    pub fn try_map<U, E>(self, f: impl FnMut(&T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            rows: self.rows.iter().map(f).collect::<Result<_, _>>()?,
            cursors: self.cursors,
            end_cursor: self.end_cursor,
        })
    }

    /// Keeps the rows `keep` accepts, with their cursors.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let (rows, cursors) = std::mem::take(&mut self.rows)
            .into_iter()
            .zip(std::mem::take(&mut self.cursors))
            .filter(|(r, _)| keep(r))
            .unzip();
        self.rows = rows;
        self.cursors = cursors;
    }

    /// Appends another page's rows (its end cursor is the caller's to decide).
    pub fn extend(&mut self, other: Page<T>) {
        self.rows.extend(other.rows);
        self.cursors.extend(other.cursors);
    }
}
