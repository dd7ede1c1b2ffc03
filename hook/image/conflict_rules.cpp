#include "image/conflict_rules.h"

namespace lockcr {

namespace {

bool isByteRange(LockKind kind) { return kind == LockKind::posix || kind == LockKind::ofd; }

}  // namespace

bool rangesOverlap(const LockRange& a, const LockRange& b) {
    bool aEndsBeforeB = a.end && *a.end < b.start;
    bool bEndsBeforeA = b.end && *b.end < a.start;
    return !aEndsBeforeB && !bEndsBeforeA;
}

bool locksConflict(const Lock& a, const Lock& b) {
    if (a.kind == LockKind::lease || b.kind == LockKind::lease) return false;
    bool eitherWrites = a.type == LockType::write || b.type == LockType::write;
    if (!eitherWrites) return false;
    if (a.kind == LockKind::flock || b.kind == LockKind::flock) return a.kind == b.kind;
    return isByteRange(a.kind) && isByteRange(b.kind) && rangesOverlap(a.range, b.range);
}

}  // namespace lockcr
