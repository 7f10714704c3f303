//! What the object keeps in its SQLite storage, which outlives eviction
//! like the sockets' attachments but has no 2 KiB limit:
//!
//! - `counters`: counts for the room's metrics (restores);
//! - `links`: each link's (trunk's) persisted engine state, which grows
//!   with the participants behind it. The link's socket attachment only
//!   says "in storage" ([`STORED_MARK`]);
//! - `room`: one row holding what the engine keeps beyond its connections
//!   (`Action::PersistRoom`: the recent chat for late joiners, the
//!   identities a host removed).

use worker::{SqlCursor, SqlStorage, SqlStorageValue, State};

const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS links (conn INTEGER PRIMARY KEY, state BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS room (slot INTEGER PRIMARY KEY CHECK (slot = 0), state BLOB NOT NULL)",
];

/// Times the room was rebuilt from hibernated sockets.
pub(crate) const RESTORES: &str = "restores";

/// The attachment of a socket whose state is in the `links` table.
pub(crate) const STORED_MARK: &str = "stored";

/// The object's SQLite storage.
pub(crate) struct Storage {
    sql: SqlStorage,
}

impl Storage {
    /// Opens the storage, creating its tables on first use.
    pub(crate) fn open(state: &State) -> Result<Self, String> {
        let sql = state.storage().sql();
        for table in SCHEMA {
            sql.exec(table, None).map_err(|e| e.to_string())?;
        }
        Ok(Self { sql })
    }

    fn query(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<SqlCursor, String> {
        self.sql.exec(query, bindings).map_err(|e| e.to_string())
    }

    /// Adds one to counter `name` and returns its new value.
    pub(crate) fn increment(&self, name: &str) -> Result<u64, String> {
        let cursor = self.query(
            "INSERT INTO counters (name, value) VALUES (?, 1) \
             ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            vec![name.to_owned().into()],
        )?;
        match first_value(cursor)? {
            Some(SqlStorageValue::Integer(n)) => Ok(u64::try_from(n).unwrap_or(0)),
            _ => Err(format!("counter {name} is not an integer")),
        }
    }

    /// The value of counter `name` (0 when never counted).
    pub(crate) fn get(&self, name: &str) -> Result<u64, String> {
        let cursor = self.query(
            "SELECT value FROM counters WHERE name = ?",
            vec![name.to_owned().into()],
        )?;
        match first_value(cursor)? {
            None => Ok(0),
            Some(SqlStorageValue::Integer(n)) => Ok(u64::try_from(n).unwrap_or(0)),
            Some(_) => Err(format!("counter {name} is not an integer")),
        }
    }

    /// Keeps `state` (a link's stored engine state) for connection `conn`.
    pub(crate) fn save_link(&self, conn: u64, state: Vec<u8>) -> Result<(), String> {
        self.query(
            "INSERT OR REPLACE INTO links (conn, state) VALUES (?, ?)",
            vec![conn_value(conn)?, SqlStorageValue::Blob(state)],
        )
        .map(drop)
    }

    /// The state kept for connection `conn`, if any.
    pub(crate) fn link(&self, conn: u64) -> Result<Option<Vec<u8>>, String> {
        self.blob(
            "SELECT state FROM links WHERE conn = ?",
            vec![conn_value(conn)?],
        )
    }

    /// The blob in the first column of the first row `query` returns, if
    /// there is a row.
    fn blob(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<Option<Vec<u8>>, String> {
        match first_value(self.query(query, bindings)?)? {
            None => Ok(None),
            Some(SqlStorageValue::Blob(blob)) => Ok(Some(blob)),
            Some(_) => Err(format!("{query}: not a blob")),
        }
    }

    /// Drops what is kept for connection `conn` (nothing if none).
    pub(crate) fn forget_link(&self, conn: u64) -> Result<(), String> {
        self.query("DELETE FROM links WHERE conn = ?", vec![conn_value(conn)?])
            .map(drop)
    }
}

impl Storage {
    /// Keeps the engine's room state (empty: drops it).
    pub(crate) fn save_room(&self, state: &[u8]) -> Result<(), String> {
        if state.is_empty() {
            return self.query("DELETE FROM room", vec![]).map(drop);
        }
        self.query(
            "INSERT OR REPLACE INTO room (slot, state) VALUES (0, ?)",
            vec![SqlStorageValue::Blob(state.to_vec())],
        )
        .map(drop)
    }

    /// The room state kept last (empty if none).
    pub(crate) fn room(&self) -> Result<Vec<u8>, String> {
        Ok(self
            .blob("SELECT state FROM room", vec![])?
            .unwrap_or_default())
    }
}

fn conn_value(conn: u64) -> Result<SqlStorageValue, String> {
    i64::try_from(conn)
        .map(SqlStorageValue::Integer)
        .map_err(|_| format!("connection id {conn} does not fit storage"))
}

/// The first column of the first row, if there is a row.
fn first_value(cursor: SqlCursor) -> Result<Option<SqlStorageValue>, String> {
    match cursor.raw().next() {
        None => Ok(None),
        Some(row) => Ok(row.map_err(|e| e.to_string())?.into_iter().next()),
    }
}
