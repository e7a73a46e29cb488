// main() of a Boost.Test program that runs against one store (`--store=NAME`, default sqlite;
// tests/support/stores.hpp): it exits 77 (ctest: skipped) with the reason when that store
// cannot be had here. Include after <boost/test/unit_test.hpp> with BOOST_TEST_NO_MAIN.
#pragma once

#include <cstdio>
#include <vector>

#include "support/stores.hpp"

namespace gpuslots::test {

// Sets `store` and runs the program's test cases (`what` names them in the messages).
inline int store_test_main(int argc, char** argv, const char* what, const StoreUnderTest*& store) {
    std::vector<char*> args;
    store = store_from_args(args, argc, argv);
    if (store == nullptr) return 2;
    if (auto why = store->unavailable()) {
        std::printf("SKIP: %s on store %s cannot run here: %s\n", what, store->name, why->c_str());
        return 77;
    }
    std::printf("%s on store %s\n", what, store->name);
    return boost::unit_test::unit_test_main(&init_unit_test, static_cast<int>(args.size()),
                                            args.data());
}

}  // namespace gpuslots::test
