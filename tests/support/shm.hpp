// The precondition of the writers' queue tests (lib/write_queue.hpp): the queue lives in
// /dev/shm and is used only where that is a tmpfs.
#pragma once

#include <linux/magic.h>
#include <sys/statfs.h>

#include <boost/test/unit_test.hpp>

namespace gpuslots::test {

inline boost::test_tools::assertion_result shm_is_tmpfs(boost::unit_test::test_unit_id) {
    struct statfs fs {};
    boost::test_tools::assertion_result ok(::statfs("/dev/shm", &fs) == 0 &&
                                           fs.f_type == TMPFS_MAGIC);
    ok.message() << "SKIPPED: /dev/shm is not a tmpfs here, so the write queue is never used";
    return ok;
}

}  // namespace gpuslots::test
