// The kernel's conflict rules (fs/locks.c posix_locks_conflict, flock_locks_conflict) as
// locksConflict and rangesOverlap apply them: one table, each row both ways round.
#include <doctest/doctest.h>

#include "image/conflict_rules.h"

using namespace lockcr;

namespace {

Lock lock(LockKind kind, LockType type, uint64_t start = 0, std::optional<uint64_t> end = std::nullopt) {
    LeaseState state = kind == LockKind::lease ? LeaseState::active : LeaseState::none;
    return Lock{kind, type, state, {start, end}};
}

constexpr auto posix = LockKind::posix;
constexpr auto ofd = LockKind::ofd;
constexpr auto flock = LockKind::flock;
constexpr auto lease = LockKind::lease;
constexpr auto read = LockType::read;
constexpr auto write = LockType::write;

struct Row {
    const char* name;
    Lock a;
    Lock b;
    bool conflict;
};

}  // namespace

TEST_CASE("locksConflict: the kernel's rules, both ways round") {
    const Row rows[] = {
        {"POSIX write over a POSIX read", lock(posix, write, 0, 9), lock(posix, read, 5, 20), true},
        {"two POSIX reads", lock(posix, read, 0, 9), lock(posix, read, 5, 20), false},
        {"POSIX writes side by side", lock(posix, write, 0, 9), lock(posix, write, 10), false},
        {"POSIX write and a range to EOF", lock(posix, write, 100, 200), lock(posix, read, 50), true},
        {"POSIX and OFD share the byte-range family", lock(posix, write, 0, 9), lock(ofd, read, 9, 9), true},
        {"two OFD reads", lock(ofd, read), lock(ofd, read), false},
        {"flock write and flock read", lock(flock, write), lock(flock, read), true},
        {"two flock reads", lock(flock, read), lock(flock, read), false},
        {"flock and POSIX never meet", lock(flock, write), lock(posix, write), false},
        {"flock and OFD never meet", lock(flock, write), lock(ofd, write), false},
        {"a lease conflicts with opens, not locks", lock(lease, write), lock(posix, write), false},
        {"two leases", lock(lease, write), lock(lease, read), false},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        CHECK(locksConflict(row.a, row.b) == row.conflict);
        CHECK(locksConflict(row.b, row.a) == row.conflict);
    }
}

TEST_CASE("rangesOverlap: both ends inclusive, no end = EOF") {
    CHECK(rangesOverlap({0, 9}, {9, 9}));
    CHECK_FALSE(rangesOverlap({0, 9}, {10, 19}));
    CHECK(rangesOverlap({0, std::nullopt}, {1000000, 1000001}));
    CHECK(rangesOverlap({5, std::nullopt}, {0, std::nullopt}));
    CHECK_FALSE(rangesOverlap({10, std::nullopt}, {0, 9}));
}
