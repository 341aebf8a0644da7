//! Producer id allocation. On the single node, ids are reserved in blocks whose end is
//! written to `<data dir>/producer-id-block` before any id of the block is handed out, so an id
//! is never reused across restarts or crashes. On a cluster the controller hands out the blocks
//! (AllocateProducerIds, recorded in the metadata log), so no two brokers ever share an id; the
//! broker keeps one spare block ahead and asks for the next when it starts using it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const BLOCK: i64 = 1000;
const FILE: &str = "producer-id-block";

pub struct ProducerIds {
    /// Where the local reservation is kept; `None` when the controller allocates.
    path: Option<PathBuf>,
    /// (next id to hand out, end of the reserved block)
    state: Mutex<(i64, i64)>,
    /// Controller-allocated: the next block, fetched ahead of need.
    spare: Mutex<Option<(i64, i64)>>,
    /// Woken when the spare block is taken and another is needed.
    pub want_block: tokio::sync::Notify,
}

/// No controller block has arrived yet: the client retries (COORDINATOR_LOAD_IN_PROGRESS).
pub fn is_not_ready(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl ProducerIds {
    pub fn open(dir: &Path) -> io::Result<ProducerIds> {
        let path = dir.join(FILE);
        let reserved = match fs::read_to_string(&path) {
            Ok(s) => s.trim().parse::<i64>().unwrap_or(0),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        Ok(ProducerIds {
            path: Some(path),
            state: Mutex::new((reserved, reserved)),
            spare: Mutex::new(None),
            want_block: tokio::sync::Notify::new(),
        })
    }

    /// Ids come from blocks the controller allocates (see `add_block`).
    pub fn from_controller() -> ProducerIds {
        ProducerIds {
            path: None,
            state: Mutex::new((0, 0)),
            spare: Mutex::new(None),
            want_block: tokio::sync::Notify::new(),
        }
    }

    /// Whether a controller block should be fetched now (no spare block is held).
    pub fn needs_block(&self) -> bool {
        self.path.is_none()
            && self
                .spare
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_none()
    }

    /// A block `[start, start + len)` from the controller.
    pub fn add_block(&self, start: i64, len: i64) {
        if len <= 0 || start < 0 {
            return;
        }
        *self.spare.lock().unwrap_or_else(|p| p.into_inner()) = Some((start, start + len));
    }

    pub fn next(&self) -> io::Result<i64> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(path) = &self.path else {
            if s.0 >= s.1 {
                let block = self.spare.lock().unwrap_or_else(|p| p.into_inner()).take();
                let Some((start, end)) = block else {
                    self.want_block.notify_one();
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "no producer id block from the controller yet",
                    ));
                };
                *s = (start, end);
                self.want_block.notify_one();
            }
            let id = s.0;
            s.0 += 1;
            return Ok(id);
        };
        if s.0 >= s.1 {
            let end = s.1 + BLOCK;
            let tmp = path.with_extension("tmp");
            fs::write(&tmp, format!("{end}\n"))?;
            fs::File::open(&tmp)?.sync_all()?;
            fs::rename(&tmp, path)?;
            s.1 = end;
        }
        let id = s.0;
        s.0 += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_reused_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let a = ProducerIds::open(dir.path()).unwrap();
        let first: Vec<i64> = (0..3).map(|_| a.next().unwrap()).collect();
        assert_eq!(first, vec![0, 1, 2]);
        drop(a);
        let b = ProducerIds::open(dir.path()).unwrap();
        assert!(b.next().unwrap() >= 1000);
    }

    #[test]
    fn controller_blocks_are_used_in_order_and_never_invented() {
        let ids = ProducerIds::from_controller();
        assert!(ids.needs_block());
        assert!(is_not_ready(&ids.next().unwrap_err()));
        ids.add_block(5000, 2);
        assert!(!ids.needs_block());
        assert_eq!(ids.next().unwrap(), 5000);
        // The spare was taken: the next block is wanted while this one is used up.
        assert!(ids.needs_block());
        assert_eq!(ids.next().unwrap(), 5001);
        assert!(is_not_ready(&ids.next().unwrap_err()));
        ids.add_block(9000, 1000);
        assert_eq!(ids.next().unwrap(), 9000);
    }
}
