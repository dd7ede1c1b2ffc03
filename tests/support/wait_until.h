// Polling for a condition the kernel reaches asynchronously (a waiter blocking, a process dying).
#pragma once

#include <time.h>

#include <chrono>

namespace lockcr::test {

// Calls condition() every 10 ms until it returns true (-> true) or timeoutMs pass (-> false).
template <typename Condition>
bool waitUntil(Condition condition, int timeoutMs = 10000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    for (;;) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        timespec pauseTime{0, 10 * 1000 * 1000};
        nanosleep(&pauseTime, nullptr);
    }
}

}  // namespace lockcr::test
