//! Opaque tokens the API hands out and takes back (rate ids), sealed so that a client can
//! neither forge one nor move it to another purpose.

/// Seals and opens tokens.
pub trait TokenSealer: Send + Sync {
    /// `body`, sealed for `purpose`.
    fn seal(&self, purpose: &str, body: &[u8]) -> Result<String, super::RepoError>;

    /// The body of a token sealed for exactly `purpose`, else `None`.
    fn open(&self, purpose: &str, token: &str) -> Option<Vec<u8>>;
}
