// The kernel's rules for when two locks conflict (fs/locks.c posix_locks_conflict,
// flock_locks_conflict), a pure predicate on the image model: flock and byte-range locks (POSIX,
// OFD) never conflict with each other; within a family two locks of different owners conflict when
// at least one is a write lock and, for byte ranges, the ranges overlap. Leases conflict with
// opens, not with locks. Who holds a conflicting lock now is replay/outside_holders.h.
#pragma once

#include "image/model.h"

namespace lockcr {

bool rangesOverlap(const LockRange& a, const LockRange& b);

// Assumes different owners: the caller knows whether the two locks share an owner.
bool locksConflict(const Lock& a, const Lock& b);

}  // namespace lockcr
