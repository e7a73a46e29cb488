// The ledger's writers take turns before they ask SQLite for its write lock. Internal to lib/
// (used by sqlite_db.cpp).
//
// Why: SQLite's write lock has no queue. A waiter sleeps and retries; whoever asks at the
// moment the lock is free gets it, so a process that has just committed and writes again
// wins over processes that have waited for milliseconds (measured: p99 50-85 ms at 16
// writers on 2 cores, the slowest writer doing half as many operations as the fastest).
//
// How: two process-shared, robust mutexes form a turnstile. A writer locks the turnstile,
// then the queue, then unlocks the turnstile, and unlocks the queue after COMMIT or ROLLBACK.
// Only one process at a time waits for the queue itself; everyone else waits at the
// turnstile, so a process that has just committed lines up behind them instead of barging
// in. The waits sleep in the kernel (futexes) in slices of 100 ms, so that a wake-up lost to a
// killed waiter costs one slice (write_queue.cpp says why that bounds every wait), and end at
// a deadline. A process that dies holding either mutex (kill -9) leaves it to the next one
// ("owner died"), which carries on: SQLite itself rolls back the dead process's transaction.
//
// Where: in shared memory, /dev/shm/gpuslots-queue-<euid>-<ledger dev>-<ledger inode>, so
// that a reboot clears it (a lock word must never outlive its holder's boot) and its pages
// are never written back to a disk. One object per user id: a process maps only an object
// that it owns itself, so root never maps memory another user can write (the mutexes hold
// pointers that unlock follows). Root and a non-root ledger owner therefore queue apart;
// both still take SQLite's lock, which is what keeps the ledger correct.
//
// The queue is an optimisation and never a reason to fail an operation: when it cannot be
// used (no tmpfs at /dev/shm, no room, an object that another user made first, one that is
// not ours, or one that shows damage while in use), writers use SQLite's lock alone, which is
// equally correct, only less fair; and a writer that has not had its turn by half its
// state.busy_timeout_ms takes SQLite's lock without one.
#pragma once

#include <pthread.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace gpuslots::sqlite {

class WriteQueue {
  public:
    // The queue of the ledger at `ledger_path` for this process's user, created if absent.
    // Null, with the reason in *why_not, when it cannot be used (see above).
    static std::unique_ptr<WriteQueue> open(const std::string& ledger_path, std::string* why_not);
    // Where the queue of that ledger for this process's user lives ("" if the ledger is absent).
    static std::string path_for(const std::string& ledger_path);
    ~WriteQueue();
    WriteQueue(const WriteQueue&) = delete;
    WriteQueue& operator=(const WriteQueue&) = delete;

    // Waits for this process's turn to write; false when `deadline` passes first, or when the
    // object turns out to be damaged (then usable() is false from now on). Never throws.
    bool enter(std::chrono::steady_clock::time_point deadline);
    // False once the object has shown damage: a lock word that no live process holds, a mutex
    // that glibc refuses. The writer then takes SQLite's lock alone.
    bool usable() const { return usable_; }
    // Ends the turn (after COMMIT or ROLLBACK). Only after a successful enter().
    void leave();
    const std::string& path() const { return path_; }
    // The mapped object (tests look at its lock words).
    const void* shared() const { return shared_; }

    // The object's layout (its header says which build made it). Public for the tests that
    // look at the lock words.
    struct Shared {
        char magic[16];
        // sizeof(Shared) of the process that made the file: a libc with other mutexes would
        // not fit, and must not use the file.
        std::uint32_t layout;
        std::uint32_t reserved;
        pthread_mutex_t turnstile;
        pthread_mutex_t queue;
    };

  private:
    WriteQueue(int fd, Shared* shared, std::string path)
        : fd_(fd), shared_(shared), path_(std::move(path)) {}
    enum class Lock { taken, timed_out, unusable };
    Lock lock(pthread_mutex_t* m, std::chrono::steady_clock::time_point deadline);
    int fd_;
    Shared* shared_;
    std::string path_;
    bool usable_ = true;
};

}  // namespace gpuslots::sqlite
