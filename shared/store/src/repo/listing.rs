//! Listings over write-sharded partitions: one query per shard, merged by sort key, with a signed
//! cursor that carries each shard's position.

use crate::cursor::{CursorState, Cursors, ShardPosition, SignedPosition};
use crate::error::StoreResult;
use crate::item::Item;
use crate::port::{Continuation, ItemStore, Query, SkRange};
use crate::schema::Index;

use app::ports::{Page, PageRequest, RepoError, RepoResult};

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
            .map(|s| SignedPosition::row_cursor(cursors.clone(), s))
            .collect(),
        end_cursor,
    })
}
