#include "write_queue.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

namespace gpuslots::sqlite {

namespace {

constexpr char kMagic[16] = "gpuslots-queue1";
constexpr const char* kShmDir = "/dev/shm";

// "" on success, else why not.
std::string init_mutex(pthread_mutex_t* m) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    const int rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc == 0 ? "" : fmt::format("pthread_mutex_init: {}", std::strerror(rc));
}

// Builds the object beside its final name and links it into place, so that nobody ever maps
// a half-initialised one; when another process links first, both use that one. "" on success.
std::string create(const std::string& path) {
    const std::string tmp =
        fmt::format("{}.new-{}-{}", path, ::getpid(), static_cast<long>(::gettid()));
    ::unlink(tmp.c_str());
    const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return fmt::format("cannot create {}: {}", tmp, std::strerror(errno));
    std::string problem;
    if (::fchmod(fd, 0600) != 0 || ::ftruncate(fd, sizeof(WriteQueue::Shared)) != 0) {
        problem = fmt::format("cannot size {}: {}", tmp, std::strerror(errno));
    } else {
        void* p =
            ::mmap(nullptr, sizeof(WriteQueue::Shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            problem = fmt::format("cannot map {}: {}", tmp, std::strerror(errno));
        } else {
            auto* s = static_cast<WriteQueue::Shared*>(p);
            problem = init_mutex(&s->turnstile);
            if (problem.empty()) problem = init_mutex(&s->queue);
            s->layout = sizeof(WriteQueue::Shared);
            std::memcpy(s->magic, kMagic, sizeof kMagic);
            ::munmap(p, sizeof(WriteQueue::Shared));
        }
    }
    ::close(fd);
    if (problem.empty() && ::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
        problem = fmt::format("cannot link {}: {}", path, std::strerror(errno));
    }
    ::unlink(tmp.c_str());
    return problem;
}

timespec monotonic(std::chrono::steady_clock::time_point t) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch());
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(ns.count() / 1000000000);
    ts.tv_nsec = static_cast<long>(ns.count() % 1000000000);
    if (ts.tv_nsec < 0) {  // a deadline before the clock's epoch: already past
        ts.tv_sec = 0;
        ts.tv_nsec = 0;
    }
    return ts;
}

}  // namespace

std::string WriteQueue::path_for(const std::string& ledger_path) {
    struct stat ledger {};
    if (::stat(ledger_path.c_str(), &ledger) != 0) return "";
    return fmt::format("{}/gpuslots-queue-{}-{}-{}", kShmDir, ::geteuid(),
                       static_cast<unsigned long long>(ledger.st_dev),
                       static_cast<unsigned long long>(ledger.st_ino));
}

std::unique_ptr<WriteQueue> WriteQueue::open(const std::string& ledger_path, std::string* why_not) {
    auto no = [&](std::string why) -> std::unique_ptr<WriteQueue> {
        if (why_not != nullptr) *why_not = std::move(why);
        return nullptr;
    };
    struct statfs fs {};
    if (::statfs(kShmDir, &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
        return no(fmt::format("{} is not a tmpfs", kShmDir));
    }
    const std::string path = path_for(ledger_path);
    if (path.empty()) return no(fmt::format("cannot stat {}", ledger_path));
    for (int attempt = 0;; ++attempt) {
        const int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT && attempt < 2) {
                if (std::string problem = create(path); !problem.empty()) return no(problem);
                continue;  // open what is in place now: ours, or a concurrent creator's
            }
            return no(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
        }
        struct stat st {};
        std::string problem;
        if (::fstat(fd, &st) != 0) {
            problem = fmt::format("fstat: {}", std::strerror(errno));
        } else if (!S_ISREG(st.st_mode)) {
            problem = "not a regular file";
        } else if (st.st_uid != ::geteuid()) {
            problem = fmt::format("it belongs to uid {}, not to this process (uid {})", st.st_uid,
                                  ::geteuid());
        } else if ((st.st_mode & 077) != 0) {
            problem = fmt::format("mode {:04o}, not 0600", st.st_mode & 07777);
        } else if (st.st_size != static_cast<off_t>(sizeof(Shared))) {
            problem = fmt::format("{} bytes, not {}", st.st_size, sizeof(Shared));
        }
        void* p = MAP_FAILED;
        if (problem.empty()) {
            p = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (p == MAP_FAILED) problem = fmt::format("mmap: {}", std::strerror(errno));
        }
        if (problem.empty()) {
            const auto* s = static_cast<const Shared*>(p);
            if (std::memcmp(s->magic, kMagic, sizeof kMagic) != 0 || s->layout != sizeof(Shared)) {
                problem = "not a gpuslots write queue of this build";
                ::munmap(p, sizeof(Shared));
            }
        }
        if (!problem.empty()) {
            ::close(fd);
            return no(fmt::format("{}: {}", path, problem));
        }
        return std::unique_ptr<WriteQueue>(new WriteQueue(fd, static_cast<Shared*>(p), path));
    }
}

WriteQueue::~WriteQueue() {
    ::munmap(shared_, sizeof(Shared));
    ::close(fd_);
}

// Why every wait here is bounded, and what a lost wake-up costs.
//
// glibc's robust mutexes sleep on the lock word (futex_wait) and an unlock wakes one sleeper
// when the word's "waiters" bit says there are any. A sleeper that is woken and killed before
// it retakes the word takes that wake-up with it when another process has meanwhile taken the
// free word without the bit (it arrived just then): the kernel passes a dead waiter's wake-up
// on only when the word is free at its death, and robust-list clean-up covers owners only.
// That holder's unlock then wakes nobody, and everyone still asleep sleeps on, on a free word,
// until their deadline (tests/unit/test_write_queue_kills.cpp makes exactly that interleaving;
// a busy CPU widens its window, which is how 8 writers, random kills and two CPU hogs hit it).
//
// So no sleep here is longer than kSlice. After each slice the waiter asks again, and
// pthread_mutex_clocklock's first step is an atomic compare-and-swap of a free word to its own
// tid: a word that is free while someone waits is taken within one slice. Every other way a
// wait can go on is bounded too:
//   - a live holder holds the turn for one SQLite transaction, itself bounded by its deadline;
//   - a holder that died is released by the kernel (robust list: "owner died", and one waiter
//     woken; if that one is killed too, the next slice of another waiter takes the word);
//   - a word that names a thread that does not exist without the kernel's help (damage, a
//     holder in another PID namespace, a holder whose robust list was lost) is seen at the end
//     of a slice: after kDeadSlices slices like that the queue is given up as unusable;
//   - and nobody waits past its deadline: enter() then returns false and the writer takes
//     SQLite's lock without a turn (Connection::begin_write). The queue delays a write by at
//     most its deadline; it never fails one.
namespace {

// Long enough that a waiter rarely outlasts it (a waiter whose slice ends lines up again at
// the back: with 20 ms, benchmark 2's fairness was 0.74 against 0.86 before slices, on this
// disk when its flushes took 4 ms), short enough that a lost wake-up costs little next to
// state.busy_timeout_ms.
constexpr auto kSlice = std::chrono::milliseconds(100);
constexpr int kDeadSlices = 2;
constexpr int kTidMask = 0x3fffffff;  // FUTEX_TID_MASK

bool thread_exists(int tid) {
    return ::kill(tid, 0) == 0 || errno == EPERM;
}

}  // namespace

WriteQueue::Lock WriteQueue::lock(pthread_mutex_t* m,
                                  std::chrono::steady_clock::time_point deadline) {
    int dead_holder_slices = 0;
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        const timespec until = monotonic(std::min(deadline, now + kSlice));
        const int rc = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &until);
        if (rc == 0) return Lock::taken;
        if (rc == EOWNERDEAD) {
            // Its holder died (its SQLite transaction, if any, rolled back): carry on.
            pthread_mutex_consistent(m);
            return Lock::taken;
        }
        if (rc != ETIMEDOUT) return Lock::unusable;  // EINVAL, ENOTRECOVERABLE: damage
        if (std::chrono::steady_clock::now() >= deadline) return Lock::timed_out;
        const int holder = __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) & kTidMask;
        dead_holder_slices = holder != 0 && !thread_exists(holder) ? dead_holder_slices + 1 : 0;
        if (dead_holder_slices >= kDeadSlices) return Lock::unusable;
    }
}

bool WriteQueue::enter(std::chrono::steady_clock::time_point deadline) {
    if (!usable_) return false;
    Lock turnstile = lock(&shared_->turnstile, deadline);
    Lock turn = turnstile;
    if (turnstile == Lock::taken) {
        turn = lock(&shared_->queue, deadline);
        pthread_mutex_unlock(&shared_->turnstile);
    }
    if (turn == Lock::unusable) usable_ = false;
    return turn == Lock::taken;
}

void WriteQueue::leave() {
    pthread_mutex_unlock(&shared_->queue);
}

}  // namespace gpuslots::sqlite
