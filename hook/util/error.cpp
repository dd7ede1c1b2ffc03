#include "util/error.h"

#include <cstring>

namespace lockcr {

void throwErrno(const std::string& what, int errnoValue) {
    throw Error(what + ": " + std::strerror(errnoValue), errnoValue);
}

void throwFailure(const std::string& what) { throw Error(what); }

void throwBadInput(const std::string& what) { throw Error(what, 0, ExitStatus::badInput); }

}  // namespace lockcr
