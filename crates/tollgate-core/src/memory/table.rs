//! An open-addressing hash table from a [`Key`](crate::Key)'s `u64` to a `u64` state.
//!
//! Sixteen bytes a slot and no other memory: linear probing, the keys (already uniform hashes)
//! placed by multiply-shift so that any capacity works, growth by a quarter at 7/8 full, and
//! backward-shift deletion instead of tombstones. Key `0` marks an empty slot.

/// One entry: a key and its state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    key: u64,
    state: u64,
}

const EMPTY: Slot = Slot { key: 0, state: 0 };

/// The fewest slots a table has.
const MIN_CAPACITY: usize = 8;

/// The table itself; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    slots: Box<[Slot]>,
    len: usize,
}

impl Table {
    pub(crate) fn new() -> Self {
        Self::with_capacity(MIN_CAPACITY)
    }

    fn with_capacity(capacity: usize) -> Self {
        Self {
            slots: vec![EMPTY; capacity.max(MIN_CAPACITY)].into_boxed_slice(),
            len: 0,
        }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Slots allocated.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Bytes of slots allocated.
    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of_val(&*self.slots)
    }

    fn home(&self, key: u64) -> usize {
        // The high bits of key × capacity: uniform for uniform keys, for any capacity.
        ((u128::from(key) * self.slots.len() as u128) >> 64) as usize
    }

    fn next(&self, index: usize) -> usize {
        if index + 1 == self.slots.len() {
            0
        } else {
            index + 1
        }
    }

    /// `Ok(index)` of `key`, or `Err(index)` of the empty slot where it would go.
    pub(crate) fn probe(&self, key: u64) -> Result<usize, usize> {
        let mut index = self.home(key);
        loop {
            match self.slots[index].key {
                found if found == key => return Ok(index),
                0 => return Err(index),
                _ => index = self.next(index),
            }
        }
    }

    /// The state stored for `key`, 0 if absent.
    #[cfg(test)]
    fn get(&self, key: u64) -> u64 {
        self.probe(key).map_or(0, |index| self.slots[index].state)
    }

    pub(crate) fn state_at(&self, index: usize) -> u64 {
        self.slots[index].state
    }

    pub(crate) fn set_state_at(&mut self, index: usize, state: u64) {
        self.slots[index].state = state;
    }

    /// Whether one more entry would pass 7/8 of the capacity.
    pub(crate) fn is_crowded(&self) -> bool {
        (self.len + 1) * 8 > self.slots.len() * 7
    }

    /// Stores a new entry in the empty slot `index` returned by [`probe`](Self::probe).
    pub(crate) fn insert_at(&mut self, index: usize, key: u64, state: u64) {
        debug_assert_eq!(self.slots[index], EMPTY);
        self.slots[index] = Slot { key, state };
        self.len += 1;
    }

    /// Removes the entry at `hole`, shifting back the entries that probed past it.
    pub(crate) fn remove_at(&mut self, mut hole: usize) {
        let capacity = self.slots.len();
        let mut index = hole;
        loop {
            index = self.next(index);
            let slot = self.slots[index];
            if slot.key == 0 {
                break;
            }
            // `slot` may fill the hole if the hole lies between its home and where it is now.
            let displacement = (index + capacity - self.home(slot.key)) % capacity;
            if displacement >= (index + capacity - hole) % capacity {
                self.slots[hole] = slot;
                hole = index;
            }
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
    }

    /// Visits up to `budget` slots from `from`, removing entries whose state is below
    /// `at_rest_before`. Returns where to continue and how many were removed.
    pub(crate) fn sweep(
        &mut self,
        at_rest_before: u64,
        from: usize,
        budget: usize,
    ) -> (usize, usize) {
        let mut index = from % self.slots.len();
        let (mut visited, mut removed) = (0, 0);
        while visited < budget.min(self.slots.len()) {
            let slot = self.slots[index];
            if slot.key != 0 && slot.state < at_rest_before {
                // The slot now holds the next entry of the run (or is empty): look again.
                self.remove_at(index);
                removed += 1;
            } else {
                index = self.next(index);
                visited += 1;
            }
        }
        (index, removed)
    }

    /// The smallest state held (`u64::MAX` when empty).
    pub(crate) fn min_state(&self) -> u64 {
        self.slots
            .iter()
            .filter(|slot| slot.key != 0)
            .map(|slot| slot.state)
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Among the entries in the `window` slots from `key`'s home, the one whose state is
    /// smallest: the closest to rest.
    pub(crate) fn nearest_rest(&self, key: u64, window: usize) -> Option<usize> {
        let mut index = self.home(key);
        let mut best: Option<usize> = None;
        for _ in 0..window.min(self.slots.len()) {
            if self.slots[index].key != 0
                && best.is_none_or(|b| self.slots[index].state < self.slots[b].state)
            {
                best = Some(index);
            }
            index = self.next(index);
        }
        best
    }

    /// Grows by a quarter.
    pub(crate) fn grow(&mut self) {
        self.rebuild(self.slots.len() + self.slots.len() / 4);
    }

    /// Shrinks to 70 % full when under a quarter full.
    pub(crate) fn shrink_if_sparse(&mut self) {
        if self.len * 4 < self.slots.len() && self.slots.len() > MIN_CAPACITY {
            self.rebuild(self.len * 10 / 7 + 1);
        }
    }

    fn rebuild(&mut self, capacity: usize) {
        let old = std::mem::replace(self, Self::with_capacity(capacity));
        for slot in old.slots.iter().filter(|slot| slot.key != 0) {
            let index = self.probe(slot.key).expect_err("keys are unique");
            self.insert_at(index, slot.key, slot.state);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn put(table: &mut Table, key: u64, state: u64) {
        match table.probe(key) {
            Ok(index) => table.set_state_at(index, state),
            Err(_) => {
                if table.is_crowded() {
                    table.grow();
                }
                let index = table.probe(key).unwrap_err();
                table.insert_at(index, key, state);
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(u64, u64),
        Remove(u64),
        Sweep(u64, usize, usize),
        Shrink,
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few distinct keys, some sharing a home, so that runs and wrap-around happen.
        let key = prop_oneof![
            1u64..40,
            (1u64..8).prop_map(|k| k << 61 | 1),
            Just(u64::MAX)
        ];
        prop_oneof![
            4 => (key.clone(), 0u64..100).prop_map(|(k, s)| Op::Put(k, s)),
            2 => key.prop_map(Op::Remove),
            1 => (0u64..100, 0usize..64, 0usize..64).prop_map(|(r, f, b)| Op::Sweep(r, f, b)),
            1 => Just(Op::Shrink),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_hash_map(ops in prop::collection::vec(op(), 1..300)) {
            let mut table = Table::new();
            let mut model = HashMap::new();
            for op in ops {
                match op {
                    Op::Put(key, state) => {
                        put(&mut table, key, state);
                        model.insert(key, state);
                    }
                    Op::Remove(key) => {
                        if let Ok(index) = table.probe(key) {
                            table.remove_at(index);
                        }
                        model.remove(&key);
                    }
                    Op::Sweep(rest, from, budget) => {
                        table.sweep(rest, from, budget);
                        // Whatever was removed was at rest; what is at rest may remain.
                        model.retain(|key, state| *state >= rest || table.probe(*key).is_ok());
                    }
                    Op::Shrink => table.shrink_if_sparse(),
                }
                prop_assert_eq!(table.len(), model.len());
                for (key, state) in &model {
                    prop_assert_eq!(table.get(*key), *state);
                }
            }
            let full_sweep = table.sweep(50, 0, usize::MAX);
            prop_assert_eq!(full_sweep.1, model.values().filter(|&&s| s < 50).count());
        }
    }

    #[test]
    fn grows_by_a_quarter_and_stays_under_seven_eighths() {
        let mut table = Table::new();
        for key in 1..=100_000u64 {
            put(&mut table, key.wrapping_mul(0x9E37_79B9_7F4A_7C15), key);
            assert!(table.len * 8 <= table.slots.len() * 7);
        }
        assert!(table.bytes() <= 100_000 * 24, "{} bytes", table.bytes());
    }

    #[test]
    fn nearest_rest_picks_the_smallest_state() {
        let mut table = Table::new();
        put(&mut table, 1, 30);
        put(&mut table, 2, 10);
        put(&mut table, 3, 20);
        let index = table.nearest_rest(1, 8).unwrap();
        assert_eq!(table.state_at(index), 10);
        assert_eq!(table.min_state(), 10);
    }
}
