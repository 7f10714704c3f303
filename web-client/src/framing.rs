//! Control-stream framing on WebTransport: every message is prefixed with
//! its length as a protobuf varint, the rule the relay and the native
//! client use (`streamer/src/framing.rs`). Media datagrams and media
//! streams carry one bare message each.

/// Longest varint length prefix.
const MAX_PREFIX: usize = 10;

/// Why the control stream cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A message announced more bytes than allowed.
    #[error("the server announced a {len}-byte control message, over the {max}-byte limit")]
    TooLarge {
        /// Announced length.
        len: u64,
        /// Allowed length.
        max: usize,
    },
    /// The length prefix is not a valid varint.
    #[error("the control stream's length prefix is invalid")]
    BadPrefix,
}

/// Prefixes `message` with its length.
pub fn encode(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + MAX_PREFIX);
    prost::encoding::encode_varint(message.len() as u64, &mut out);
    out.extend_from_slice(message);
    out
}

/// Accumulates stream bytes and splits whole messages off the front.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
}

impl Deframer {
    /// Appends received bytes.
    pub fn extend(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole message, if there is one.
    pub fn next_message(&mut self, max: usize) -> Result<Option<Vec<u8>>, FramingError> {
        let prefix_end = match self.buf.iter().position(|b| b & 0x80 == 0) {
            Some(i) if i < MAX_PREFIX => i + 1,
            Some(_) => return Err(FramingError::BadPrefix),
            None if self.buf.len() >= MAX_PREFIX => return Err(FramingError::BadPrefix),
            None => return Ok(None),
        };
        let mut prefix = &self.buf[..prefix_end];
        let len =
            prost::encoding::decode_varint(&mut prefix).map_err(|_| FramingError::BadPrefix)?;
        if len > max as u64 {
            return Err(FramingError::TooLarge { len, max });
        }
        let end = prefix_end + len as usize;
        if self.buf.len() < end {
            return Ok(None);
        }
        let message = self.buf[prefix_end..end].to_vec();
        self.buf.drain(..end);
        Ok(Some(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_back_whole_across_chunks() {
        let mut stream = encode(b"hello");
        stream.extend(encode(&[9u8; 300]));
        let mut d = Deframer::default();
        d.extend(&stream[..3]);
        assert_eq!(d.next_message(1000).unwrap(), None);
        d.extend(&stream[3..]);
        assert_eq!(d.next_message(1000).unwrap().unwrap(), b"hello");
        assert_eq!(d.next_message(1000).unwrap().unwrap().len(), 300);
        assert_eq!(d.next_message(1000).unwrap(), None);
    }

    #[test]
    fn oversize_and_garbage_are_refused() {
        let mut d = Deframer::default();
        d.extend(&encode(&[0u8; 2000]));
        assert_eq!(
            d.next_message(1000),
            Err(FramingError::TooLarge {
                len: 2000,
                max: 1000
            })
        );
        let mut g = Deframer::default();
        g.extend(&[0xff; 12]);
        assert_eq!(g.next_message(1000), Err(FramingError::BadPrefix));
    }
}
