//! Producer id allocation. Ids are reserved in blocks whose end is written to
//! `<data dir>/producer-id-block` before any id of the block is handed out, so an id is never
//! reused across restarts or crashes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const BLOCK: i64 = 1000;
const FILE: &str = "producer-id-block";

pub struct ProducerIds {
    path: PathBuf,
    /// (next id to hand out, end of the reserved block)
    state: Mutex<(i64, i64)>,
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
            path,
            state: Mutex::new((reserved, reserved)),
        })
    }

    pub fn next(&self) -> io::Result<i64> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.0 >= s.1 {
            let end = s.1 + BLOCK;
            let tmp = self.path.with_extension("tmp");
            fs::write(&tmp, format!("{end}\n"))?;
            fs::File::open(&tmp)?.sync_all()?;
            fs::rename(&tmp, &self.path)?;
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
}
