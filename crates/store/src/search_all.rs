//! Every match of a search, page by page: the one way Tend's own services read a set of
//! resources (a patient's observations, a ward's encounters), with no silent cap and with
//! the store's errors returned rather than read as "no data".

use search::SearchQuery;

use crate::{Access, Hit, Store, StoreError};

/// Every resource matching `q` that `access` reaches, in the search's order, fetched a full
/// page at a time (`_count` and `_offset` of `q` are replaced). Includes are not followed.
pub fn search_all(
    store: &dyn Store,
    access: &Access,
    mut q: SearchQuery,
) -> Result<Vec<Hit>, StoreError> {
    q.count = search::MAX_COUNT;
    q.offset = 0;
    q.include.clear();
    q.revinclude.clear();
    let mut out = Vec::new();
    loop {
        let page = store.search(access, &q)?;
        let n = page.matches.len();
        out.extend(page.matches);
        if !page.has_more || n == 0 {
            return Ok(out);
        }
        q.offset += n;
    }
}
