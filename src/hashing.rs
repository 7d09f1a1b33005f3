//! Hashing while copying: a writer that passes bytes on and digests them on the way, so that a
//! wheel (or an entry of one) is read once, a piece at a time, by `std::io::copy`.

use std::io::{self, Write};

use sha2::Digest;

/// Writes to `inner` and digests what `inner` took.
pub struct HashingWriter<W, D> {
    inner: W,
    digest: D,
}

impl<W: Write, D: Digest> HashingWriter<W, D> {
    pub fn new(inner: W) -> Self {
        HashingWriter { inner, digest: D::new() }
    }

    /// The digest of everything written.
    pub fn finalize(self) -> Vec<u8> {
        self.digest.finalize().to_vec()
    }
}

impl<W: Write, D: Digest> Write for HashingWriter<W, D> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.digest.update(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
