//! Length-delimited messages on a WebTransport stream: each message is
//! prefixed with its length as a protobuf varint (what prost's
//! `encode_length_delimited` writes). Used for the control stream by both
//! the client and the relay.

use bytes::{Buf, Bytes, BytesMut};
use web_transport_quinn::RecvStream;

/// Longest varint length prefix.
const MAX_PREFIX: usize = 10;

/// Why a delimited stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    /// A message announced more bytes than allowed.
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Announced length.
        len: u64,
        /// Allowed length.
        max: usize,
    },
    /// The length prefix is not a valid varint.
    #[error("invalid length prefix")]
    BadPrefix,
    /// The stream ended inside a message.
    #[error("stream ended inside a message")]
    Truncated,
    /// The stream failed.
    #[error("read failed: {0}")]
    Read(String),
}

/// Prefixes `message` with its length.
pub fn encode(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(message.len() + MAX_PREFIX);
    prost::encoding::encode_varint(message.len() as u64, &mut out);
    out.extend_from_slice(message);
    out.freeze()
}

/// Splits one message off the front of `buf`, if a whole one is there.
pub fn try_split(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FramingError> {
    let prefix_end = match buf.iter().position(|b| b & 0x80 == 0) {
        Some(i) if i < MAX_PREFIX => i + 1,
        Some(_) => return Err(FramingError::BadPrefix),
        None if buf.len() >= MAX_PREFIX => return Err(FramingError::BadPrefix),
        None => return Ok(None),
    };
    let mut prefix = &buf[..prefix_end];
    let len = prost::encoding::decode_varint(&mut prefix).map_err(|_| FramingError::BadPrefix)?;
    if len > max as u64 {
        return Err(FramingError::TooLarge { len, max });
    }
    let len = len as usize;
    if buf.len() < prefix_end + len {
        buf.reserve(prefix_end + len - buf.len());
        return Ok(None);
    }
    buf.advance(prefix_end);
    Ok(Some(buf.split_to(len).freeze()))
}

/// Reads length-delimited messages from one stream.
pub struct DelimitedReader {
    stream: RecvStream,
    buf: BytesMut,
    max: usize,
}

impl DelimitedReader {
    /// Reads from `stream`, refusing messages longer than `max` bytes.
    pub fn new(stream: RecvStream, max: usize) -> Self {
        Self {
            stream,
            buf: BytesMut::new(),
            max,
        }
    }

    /// The next message; `Ok(None)` when the stream ended cleanly.
    pub async fn next(&mut self) -> Result<Option<Bytes>, FramingError> {
        loop {
            if let Some(message) = try_split(&mut self.buf, self.max)? {
                return Ok(Some(message));
            }
            let chunk = self
                .stream
                .read_chunk(64 * 1024, true)
                .await
                .map_err(|err| FramingError::Read(err.to_string()))?;
            match chunk {
                Some(chunk) => self.buf.extend_from_slice(&chunk.bytes),
                None if self.buf.is_empty() => return Ok(None),
                None => return Err(FramingError::Truncated),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_messages_split_back_whole_and_in_order() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&encode(b"hello"));
        buf.extend_from_slice(&encode(&[7u8; 300]));
        assert_eq!(try_split(&mut buf, 1000).unwrap().unwrap(), &b"hello"[..]);
        assert_eq!(try_split(&mut buf, 1000).unwrap().unwrap().len(), 300);
        assert!(try_split(&mut buf, 1000).unwrap().is_none());
    }

    #[test]
    fn partial_messages_wait_for_more_bytes() {
        let whole = encode(&[1u8; 200]);
        let mut buf = BytesMut::from(&whole[..1]);
        assert!(try_split(&mut buf, 1000).unwrap().is_none());
        buf.extend_from_slice(&whole[1..150]);
        assert!(try_split(&mut buf, 1000).unwrap().is_none());
        buf.extend_from_slice(&whole[150..]);
        assert_eq!(try_split(&mut buf, 1000).unwrap().unwrap().len(), 200);
    }

    #[test]
    fn oversize_and_garbage_prefixes_are_refused() {
        let mut buf = BytesMut::from(&encode(&[0u8; 2000])[..]);
        assert!(matches!(
            try_split(&mut buf, 1000),
            Err(FramingError::TooLarge { len: 2000, .. })
        ));
        let mut garbage = BytesMut::from(&[0xffu8; 12][..]);
        assert!(matches!(
            try_split(&mut garbage, 1000),
            Err(FramingError::BadPrefix)
        ));
    }
}
