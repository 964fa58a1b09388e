//! Per-user items kept in memory: the sample data behind `/api/items`.
//!
//! Every operation takes the owner (the token's `sub`), and items are stored
//! per owner, so one user can never read or delete another user's item. The
//! store is lost on restart, because the resource server has no database.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;

/// Maximum number of items one user may keep, so that no user can exhaust memory.
pub const MAX_ITEMS_PER_USER: usize = 1_000;

/// Maximum number of items of all users together.
pub const MAX_ITEMS_TOTAL: usize = 100_000;

/// Maximum length of an item name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// One item, as returned to its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Item {
    /// Identifier, unique across all users.
    pub id: u64,
    /// Display name, 1 to [`MAX_NAME_CHARS`] characters.
    pub name: String,
    /// Creation time, in seconds since the Unix epoch.
    pub created_at: i64,
}

/// Reason an item could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// The owner already has [`MAX_ITEMS_PER_USER`] items.
    #[error("you already have {MAX_ITEMS_PER_USER} items; delete some first")]
    UserLimit,
    /// The store contains [`MAX_ITEMS_TOTAL`] items.
    #[error("the item store is full")]
    StoreFull,
}

#[derive(Debug, Default)]
struct Items {
    by_owner: HashMap<String, BTreeMap<u64, Item>>,
    total: usize,
}

/// The in-memory item store, shared by all workers.
#[derive(Debug, Default)]
pub struct ItemStore {
    next_id: AtomicU64,
    items: Mutex<Items>,
}

/// Item counts, for the admin statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ItemCounts {
    /// Items of all users.
    pub items: usize,
    /// Users with at least one item.
    pub owners: usize,
}

impl ItemStore {
    /// Creates an empty store.
    pub fn new() -> Self {
        ItemStore::default()
    }

    /// Lists the owner's items, oldest first.
    pub fn list(&self, owner: &str) -> Vec<Item> {
        self.lock()
            .by_owner
            .get(owner)
            .map(|items| items.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Stores a new item for `owner`. `name` must already be validated.
    pub fn create(&self, owner: &str, name: String, created_at: i64) -> Result<Item, CreateError> {
        let mut items = self.lock();
        if items.total >= MAX_ITEMS_TOTAL {
            return Err(CreateError::StoreFull);
        }
        let owned = items.by_owner.get(owner).map_or(0, BTreeMap::len);
        if owned >= MAX_ITEMS_PER_USER {
            return Err(CreateError::UserLimit);
        }

        let item = Item {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            name,
            created_at,
        };
        items
            .by_owner
            .entry(owner.to_owned())
            .or_default()
            .insert(item.id, item.clone());
        items.total += 1;
        Ok(item)
    }

    /// Returns the owner's item `id`, or `None` if it does not exist or
    /// belongs to someone else.
    pub fn get(&self, owner: &str, id: u64) -> Option<Item> {
        self.lock().by_owner.get(owner)?.get(&id).cloned()
    }

    /// Deletes the owner's item `id`. Returns `false` if it does not exist or
    /// belongs to someone else.
    pub fn delete(&self, owner: &str, id: u64) -> bool {
        let mut items = self.lock();
        let Some(owned) = items.by_owner.get_mut(owner) else {
            return false;
        };
        if owned.remove(&id).is_none() {
            return false;
        }
        if owned.is_empty() {
            items.by_owner.remove(owner);
        }
        items.total -= 1;
        true
    }

    /// Counts items and owners.
    pub fn counts(&self) -> ItemCounts {
        let items = self.lock();
        ItemCounts {
            items: items.total,
            owners: items.by_owner.len(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Items> {
        // No code path panics while holding the lock, and the maps stay
        // consistent after every statement, so a poisoned lock is still usable.
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Checks an item name and returns it trimmed, or a message for the client.
pub fn validate_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("must be at most {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn items_are_private_to_their_owner() {
        let store = ItemStore::new();
        let item = store.create("alice", "notes".into(), 1).unwrap();

        assert_eq!(store.get("alice", item.id), Some(item.clone()));
        assert_eq!(store.get("bob", item.id), None);
        assert!(store.list("bob").is_empty());
        assert!(!store.delete("bob", item.id));
        assert!(store.delete("alice", item.id));
        assert_eq!(store.get("alice", item.id), None);
        assert_eq!(
            store.counts(),
            ItemCounts {
                items: 0,
                owners: 0
            }
        );
    }

    #[test]
    fn list_is_oldest_first() {
        let store = ItemStore::new();
        let first = store.create("alice", "a".into(), 1).unwrap();
        let second = store.create("alice", "b".into(), 2).unwrap();

        assert_eq!(store.list("alice"), vec![first, second]);
    }

    #[test]
    fn per_user_limit_is_enforced() {
        let store = ItemStore::new();
        for _ in 0..MAX_ITEMS_PER_USER {
            store.create("alice", "x".into(), 1).unwrap();
        }

        assert_eq!(
            store.create("alice", "x".into(), 1),
            Err(CreateError::UserLimit)
        );
        assert!(store.create("bob", "x".into(), 1).is_ok());
    }

    #[test]
    fn names_are_validated() {
        let cases = [
            ("", false, "empty"),
            ("   ", false, "blank"),
            ("a\u{0}b", false, "control character"),
            (&"x".repeat(MAX_NAME_CHARS + 1), false, "too long"),
            (
                &"é".repeat(MAX_NAME_CHARS),
                true,
                "long in bytes, not in characters",
            ),
            ("  groceries ", true, "surrounding spaces"),
        ];

        for (name, valid, case) in cases {
            assert_eq!(validate_name(name).is_ok(), valid, "{case}");
        }
        assert_eq!(validate_name("  groceries ").unwrap(), "groceries");
    }
}
