//! The seam between the controller and wherever its records are made durable: a local file
//! today, a replicated log later. Kept to three calls so either can sit behind it.

use crate::metadata::MetadataRecord;

pub trait MetadataLog {
    /// Appends the records; returns the offset of the first (the log end if `records` is empty).
    fn append(&mut self, records: &[MetadataRecord]) -> Result<i64, String>;
    /// Up to `max` records from `offset` on, with their offsets.
    fn read_from(&self, offset: i64, max: usize) -> Result<Vec<(i64, MetadataRecord)>, String>;
    /// The offset the next appended record will get.
    fn end_offset(&self) -> i64;
}

/// A log in memory, offsets from 0; for tests and simulation.
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    records: Vec<MetadataRecord>,
}

impl MemoryLog {
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }
}

impl MetadataLog for MemoryLog {
    fn append(&mut self, records: &[MetadataRecord]) -> Result<i64, String> {
        let first = self.end_offset();
        self.records.extend_from_slice(records);
        Ok(first)
    }

    fn read_from(&self, offset: i64, max: usize) -> Result<Vec<(i64, MetadataRecord)>, String> {
        if offset < 0 || offset > self.end_offset() {
            return Err(format!(
                "offset {offset} is outside the log [0, {}]",
                self.end_offset()
            ));
        }
        Ok(self
            .records
            .iter()
            .enumerate()
            .skip(offset as usize)
            .take(max)
            .map(|(i, r)| (i as i64, r.clone()))
            .collect())
    }

    fn end_offset(&self) -> i64 {
        self.records.len() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_positions() {
        let mut log = MemoryLog::new();
        assert_eq!(log.append(&[MetadataRecord::NoOp]), Ok(0));
        assert_eq!(
            log.append(&[MetadataRecord::NoOp, MetadataRecord::NoOp]),
            Ok(1)
        );
        assert_eq!(log.append(&[]), Ok(3));
        assert_eq!(log.end_offset(), 3);
        let read = log.read_from(1, 10).unwrap();
        assert_eq!(read.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(log.read_from(0, 1).unwrap().len(), 1);
        assert!(log.read_from(3, 1).unwrap().is_empty());
        assert!(log.read_from(4, 1).is_err());
        assert!(log.read_from(-1, 1).is_err());
    }
}
