//! What the memory store does with a new partition once it holds its capacity.

/// What the memory store does with a new partition when it holds its capacity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WhenFull {
    /// Fail the decision with [`StoreError::Full`] (transient): exact for every partition
    /// already held; the caller's failure policy decides the request.
    ///
    /// [`StoreError::Full`]: crate::StoreError::Full
    #[default]
    RefuseNewKeys,
    /// Drop the state closest to rest among those near the new key's slot (the 16 slots from
    /// it, or further when those hold none): never fails, but the dropped partition starts
    /// again as if new (it may admit more than its limit).
    EvictNearestRest,
}
