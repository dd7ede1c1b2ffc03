// Work spread over the cores: the /proc reads of a collection (nearly all kernel time), the
// processes made from them, the pieces of a lock image's text.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace lockcr {

// Threads for work on the cores, the calling one included: one per core, at most 4. Asked once: a
// caller sizes per-worker state by it, and a CPU brought online meanwhile must not change it.
inline size_t workerCount() {
    static const size_t count = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
    return count;
}

// Runs WORK(worker, begin, end) over items [0, ITEMS), CHUNK at a time. Each worker takes the next
// chunk from a shared counter, so a worker that the scheduler delays leaves its share to the others
// instead of holding up the end. No thread is started for a single chunk, and a thread that cannot
// be started leaves its share to the others. The first failure stops
// the others at their next chunk and is rethrown here.
template <typename Work>
void runOnWorkers(size_t items, size_t chunk, Work work) {
    size_t workers = std::min(workerCount(), (items + chunk - 1) / chunk);
    std::atomic<size_t> next{0};
    std::exception_ptr failure;
    std::mutex failureLock;
    auto run = [&](size_t worker) {
        try {
            for (size_t begin; (begin = next.fetch_add(chunk)) < items;)
                work(worker, begin, std::min(items, begin + chunk));
        } catch (...) {
            std::lock_guard guard(failureLock);
            if (!failure) failure = std::current_exception();
            next = items;
        }
    };
    std::vector<std::thread> threads;
    threads.reserve(workers);
    for (size_t w = 1; w < workers; ++w) {
        try {
            threads.emplace_back(run, w);
        } catch (const std::system_error&) {
            break;  // no thread to be had (a pids limit): the started ones and this one take its share
        }
    }
    run(0);
    for (std::thread& thread : threads) thread.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace lockcr
