// How doctest prints lock-image values in a failed assertion.
#pragma once

#include <ostream>

#include "image/model.h"

namespace lockcr {

inline std::ostream& operator<<(std::ostream& out, LockKind kind) { return out << nameOf(kind); }
inline std::ostream& operator<<(std::ostream& out, LockType type) { return out << nameOf(type); }
inline std::ostream& operator<<(std::ostream& out, LeaseState state) { return out << nameOf(state); }
inline std::ostream& operator<<(std::ostream& out, const Holder& holder) {
    return out << holder.containerPid << ":" << holder.fd;
}

}  // namespace lockcr
