//! Listings over write-sharded partitions: one query per shard, merged by sort key, with a signed
//! cursor that carries each shard's position.

use crate::cursor::{CursorState, Cursors, RowCursor, ShardPosition};
use crate::error::StoreResult;
use crate::item::Item;
use crate::port::{Continuation, ItemStore, Query, SkRange};
use crate::schema::Index;

use super::{RepoError, RepoResult};

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

/// One listing: the partitions (one per shard) and how to read them.
pub(crate) struct Listing<'a> {
    pub index: Option<Index>,
    pub partitions: Vec<String>,
    pub range: SkRange,
    pub forward: bool,
    /// Binds the cursor to this listing (kind and filters).
    pub id: String,
    pub tenant: &'a str,
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

pub(crate) type RawPage = Page<Item>;

fn sort_key(index: Option<Index>, item: &Item) -> StoreResult<String> {
    Ok(Continuation::after(index, item)?.sort_key().to_owned())
}

/// Reads one page: one query per shard that is not exhausted, merged by sort key.
pub(crate) async fn read_page(
    store: &dyn ItemStore,
    cursors: &Cursors,
    listing: &Listing<'_>,
    page: &PageRequest,
) -> RepoResult<RawPage> {
    page.check()?;
    let shards = listing.partitions.len();
    let mut state = match &page.after {
        Some(c) => cursors
            .decode(c, listing.tenant, &listing.id)
            .map_err(|_| RepoError::InvalidCursor)?,
        None => CursorState {
            tenant: listing.tenant.to_owned(),
            listing: listing.id.clone(),
            last_sort_key: None,
            shards: Vec::new(),
        },
    };
    if state.shards.len() > shards {
        // Shard counts only grow: a cursor with more shards than exist was not made here.
        return Err(RepoError::InvalidCursor);
    }
    // Shards added since the cursor was issued start from the beginning; their items that sort
    // before the cursor are orders created after the listing began, and are passed over.
    let known = state.shards.len();
    state.shards.resize(shards, ShardPosition::Start);

    let mut candidates: Vec<(String, usize, Item)> = Vec::new();
    let mut exhausted_after_page = vec![false; shards];
    for (shard, pk) in listing.partitions.iter().enumerate() {
        let start = match &state.shards[shard] {
            ShardPosition::Done => continue,
            ShardPosition::Start => None,
            ShardPosition::After(c) => Some(c.clone()),
        };
        let q = Query {
            index: listing.index,
            pk: pk.clone(),
            sk: listing.range.clone(),
            forward: listing.forward,
            limit: page.first,
            start,
        };
        let result = store.query(&q).await?;
        exhausted_after_page[shard] = result.next.is_none();
        for item in result.items {
            candidates.push((sort_key(listing.index, &item)?, shard, item));
        }
    }
    candidates.sort_by(|a, b| {
        if listing.forward {
            a.0.cmp(&b.0)
        } else {
            b.0.cmp(&a.0)
        }
    });

    let mut taken_per_shard = vec![0usize; shards];
    let mut available_per_shard = vec![0usize; shards];
    for (_, shard, _) in &candidates {
        available_per_shard[*shard] += 1;
    }
    let mut items = Vec::with_capacity(page.first as usize);
    let mut row_states = Vec::with_capacity(page.first as usize);
    let last = state.last_sort_key.clone();
    for (sk, shard, item) in candidates {
        if items.len() == page.first as usize {
            break;
        }
        let behind_cursor = shard >= known
            && last
                .as_ref()
                .is_some_and(|l| if listing.forward { sk <= *l } else { sk >= *l });
        state.shards[shard] = ShardPosition::After(Continuation::after(listing.index, &item)?);
        taken_per_shard[shard] += 1;
        if behind_cursor {
            continue;
        }
        state.last_sort_key = Some(sk);
        items.push(item);
        row_states.push(state.clone());
    }
    for shard in 0..shards {
        if exhausted_after_page[shard] && taken_per_shard[shard] == available_per_shard[shard] {
            state.shards[shard] = ShardPosition::Done;
        }
    }
    let has_next = state.shards.iter().any(|s| *s != ShardPosition::Done);
    let end_cursor = if has_next {
        Some(cursors.encode(&state).map_err(RepoError::from)?)
    } else {
        None
    };
    // The last row's position is the page's final state: it knows which shards are exhausted.
    if let Some(last) = row_states.last_mut() {
        *last = state;
    }
    Ok(RawPage {
        rows: items,
        cursors: row_states
            .into_iter()
            .map(|s| RowCursor::new(cursors.clone(), s))
            .collect(),
        end_cursor,
    })
}
