// Slurm hostlist expressions: what expand to which names, in which order, and every way an
// expression can be wrong (each must fail with Errc::bad_input and a message naming the problem).
#define BOOST_TEST_MODULE hostlist
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "gpuslots/hostlist.hpp"
#include "support/bounded.hpp"

using gpuslots::Errc;
using gpuslots::expand_hostlist;
using gpuslots::is_valid_node_name;
using gpuslots::kMaxHostlistNames;
using Names = std::vector<std::string>;

namespace {

// "p" + [first, last], zero padded to `width` when width > 0.
Names numbered(const std::string& prefix, int first, int last, int width = 0) {
    Names out;
    for (int i = first; i <= last; ++i) {
        std::string digits = std::to_string(i);
        if (static_cast<int>(digits.size()) < width) {
            digits.insert(0, static_cast<std::size_t>(width) - digits.size(), '0');
        }
        out.push_back(prefix + digits);
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(expansion)

BOOST_AUTO_TEST_CASE(valid_expressions_expand_in_written_order) {
    struct Case {
        std::string expr;
        Names expected;
    };
    const std::vector<Case> cases = {
        {"gpu-server-0", {"gpu-server-0"}},
        {"node_a.example", {"node_a.example"}},
        {"n[1-3]", {"n1", "n2", "n3"}},
        {"n[3]", {"n3"}},
        {"n[0-2]", {"n0", "n1", "n2"}},  // a lone "0" is not padding
        {"gpu-[00-15]", numbered("gpu-", 0, 15, 2)},
        {"n[08-10]", {"n08", "n09", "n10"}},
        {"n[9-11]", {"n9", "n10", "n11"}},
        {"n[1-3,7]", {"n1", "n2", "n3", "n7"}},
        {"n[7,1-2]", {"n7", "n1", "n2"}},
        {"n[01-02,5]", {"n01", "n02", "n5"}},
        {"r[1-2]g[1-2]", {"r1g1", "r1g2", "r2g1", "r2g2"}},
        {"rack[1-2]-gpu[1-3]x",
         {"rack1-gpu1x", "rack1-gpu2x", "rack1-gpu3x", "rack2-gpu1x", "rack2-gpu2x",
          "rack2-gpu3x"}},
        {"a,b[1-2]", {"a", "b1", "b2"}},
        {"b[1-2],a", {"b1", "b2", "a"}},
        {"x[1,3],y[2-3],z", {"x1", "x3", "y2", "y3", "z"}},
        {"[1-2]", {"1", "2"}},
        {"n[5-5]", {"n5"}},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("expression '" << c.expr << "'") {
            auto names = expand_hostlist(c.expr);
            BOOST_TEST_REQUIRE(names.ok(), (names.ok() ? "" : names.error().message));
            BOOST_TEST(*names == c.expected, boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(every_expanded_name_is_a_valid_node_name) {
    for (const char* expr : {"gpu-[00-15]", "r[1-2]g[1-2]", "a,b[1-2]", "n[1-3,7]"}) {
        auto names = expand_hostlist(expr);
        BOOST_TEST_REQUIRE(names.ok());
        for (const auto& n : *names)
            BOOST_TEST(is_valid_node_name(n), n);
    }
}

BOOST_AUTO_TEST_CASE(exactly_the_limit_is_allowed) {
    const std::string expr = "n[1-" + std::to_string(kMaxHostlistNames) + "]";
    auto names = expand_hostlist(expr);
    BOOST_TEST_REQUIRE(names.ok(), (names.ok() ? "" : names.error().message));
    BOOST_TEST(names->size() == kMaxHostlistNames);
    BOOST_TEST(names->front() == "n1");
    BOOST_TEST(names->back() == "n" + std::to_string(kMaxHostlistNames));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(invalid_expressions_are_bad_input_naming_the_problem) {
    const std::string max = std::to_string(kMaxHostlistNames);
    struct Case {
        std::string expr;
        std::vector<std::string> message_contains;
    };
    const std::vector<Case> cases = {
        {"", {"empty"}},
        {"n[1-3", {"n[1-3", "'[' without ']'"}},
        {"n[1-2]x[3", {"'[' without ']'"}},
        {"n1-3]", {"n1-3]", "']' without '['"}},
        {"n]1[", {"']' without '['"}},
        {"n[[1-2]]", {"nested"}},
        {"n[1[2]]", {"nested"}},
        {"n[]", {"empty range"}},
        {"n[1,]", {"empty range"}},
        {"n[,1]", {"empty range"}},
        {"n[1,,2]", {"empty range"}},
        {"n[3-1]", {"'3-1'", "backwards"}},
        {"n[10-09]", {"'10-09'", "backwards"}},
        {"n[a-b]", {"'a-b'", "not a number"}},
        {"n[1-b]", {"'1-b'", "not a number"}},
        {"n[x]", {"'x'", "not a number"}},
        {"n[-1]", {"'-1'", "not a number"}},
        {"n[1-]", {"'1-'", "not a number"}},
        {"n[1-2-3]", {"'1-2-3'", "not a number"}},
        {"n[ 1-2]", {"character ' ' is not allowed"}},
        {"n[1234567890123456789]", {"more than 18 digits"}},
        {"gpu 1", {"' '", "not allowed"}},
        {"gpu\t1", {"not allowed"}},
        {" gpu1", {"not allowed"}},
        {"gpu1 ", {"not allowed"}},
        {"gpu/1", {"'/'", "not allowed"}},
        {"gpu*", {"'*'", "not allowed"}},
        {"gpu:1", {"':'", "not allowed"}},
        {"a,,b", {"empty name between commas"}},
        {"a,", {"empty name between commas"}},
        {",a", {"empty name between commas"}},
        {",", {"empty name between commas"}},
        {"n[0-" + max + "]", {"more than " + max + " names"}},
        {"a,n[1-" + max + "]", {"more than " + max + " names"}},
        {"n[1-" + max + "],a", {"more than " + max + " names"}},
        {"r[1-1000]g[1-1001]", {"more than " + max + " names"}},
        {"n[1-999999999999999999]", {"more than " + max + " names"}},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("expression '" << c.expr << "'") {
            auto names = expand_hostlist(c.expr);
            BOOST_TEST_REQUIRE(!names.ok());
            BOOST_TEST((names.error().code == Errc::bad_input));
            for (const auto& part : c.message_contains) {
                BOOST_TEST(names.error().message.find(part) != std::string::npos,
                           "message '" << names.error().message << "' lacks '" << part << "'");
            }
            // Every message past the empty case quotes the expression it refers to.
            if (!c.expr.empty()) {
                BOOST_TEST(names.error().message.find("hostlist " + gpuslots::in_quotes(c.expr)) !=
                           std::string::npos);
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(node_name_validity) {
    struct Case {
        std::string name;
        bool valid;
    };
    const std::vector<Case> cases = {
        {"gpu-server-0", true},
        {"a_b.c-1", true},
        {"N01", true},
        {"7", true},
        {"", false},
        {"a b", false},
        {"a[1]", false},
        {"a,b", false},
        {"a/b", false},
        {"a:b", false},
        {"a\nb", false},
        {"caf\xc3\xa9", false},  // "café": node names are ASCII
        {std::string("a\0b", 3), false},
        {std::string(255, 'n'), true},
        {std::string(256, 'n'), false},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("name '" << c.name << "'") {
            BOOST_TEST(is_valid_node_name(c.name) == c.valid);
        }
    }
}

BOOST_AUTO_TEST_CASE(compressing_names_reads_back_as_the_same_names) {
    struct Case {
        std::vector<std::string> names;
        std::string expression;
    };
    const std::vector<Case> cases = {
        {{"n1", "n2", "n3", "n7"}, "n[1-3,7]"},
        {{"n1"}, "n1"},
        {{"gpu-08", "gpu-09", "gpu-10"}, "gpu-[08-10]"},
        {{"n9", "n10", "n11"}, "n[9-11]"},
        {{"n1", "n01"}, "n1,n01"},  // unpadded and padded do not mix
        {{"login", "n1", "n2", "ws"}, "login,n[1-2],ws"},
        {{"n3", "n1"}, "n3,n1"},  // the order given is kept
        {{"r1g1", "r1g2", "r2g1"}, "r1g[1-2],r2g1"},
        {{"a-0", "a-1", "b-2"}, "a-[0-1],b-2"},
        {{}, ""},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.expression) {
            const std::string e = gpuslots::compress_hostlist(c.names);
            BOOST_TEST(e == c.expression);
            if (!c.names.empty()) {
                auto back = expand_hostlist(e);
                BOOST_TEST_REQUIRE(back.ok());
                BOOST_TEST(*back == c.names);
            }
        }
    }
    // A large padded fleet stays one range.
    auto fleet = expand_hostlist("gpu-[0000-9999]");
    BOOST_TEST_REQUIRE(fleet.ok());
    BOOST_TEST(gpuslots::compress_hostlist(*fleet) == "gpu-[0000-9999]");
}

// The zero padding comes from the lower bound, as in Slurm; bounds whose widths contradict each
// other are errors, because the names they were meant to give are a guess. Slurm itself reads
// n[01-1] as n01 (a truncated n[01-10]?), n[001-3] as n001..n003 and n[1-01] as n1.
BOOST_AUTO_TEST_SUITE(widths)

BOOST_AUTO_TEST_CASE(bounds_of_consistent_width) {
    struct Case {
        std::string expr;
        Names expected;
    };
    const std::vector<Case> cases = {
        {"n[01-10]", numbered("n", 1, 10, 2)},
        {"n[0-9]", numbered("n", 0, 9)},
        {"n[00-09]", numbered("n", 0, 9, 2)},
        {"n[098-101]", {"n098", "n099", "n100", "n101"}},
        {"n[98-101]", {"n98", "n99", "n100", "n101"}},
        {"n[08-100]", numbered("n", 8, 100, 2)},  // padded to two digits until 100 needs three
        {"n[007]", {"n007"}},
        {"n[0]", {"n0"}},
        {"n[00]", {"n00"}},
        {"n[0-0]", {"n0"}},
        {"n[00-00]", {"n00"}},
        {"n[000-001]", {"n000", "n001"}},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("expression '" << c.expr << "'") {
            auto names = expand_hostlist(c.expr);
            BOOST_TEST_REQUIRE(names.ok(), (names.ok() ? "" : names.error().message));
            BOOST_TEST(*names == c.expected, boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(bounds_whose_widths_contradict_each_other) {
    struct Case {
        std::string expr;
        std::vector<std::string> message_contains;
    };
    const std::vector<Case> cases = {
        {"n[01-1]",
         {"'01-1'", "upper bound '1' is shorter than the zero-padded lower bound '01'",
          "write it as '01-01' if that is what is meant"}},
        {"n[001-3]", {"'001-3'", "shorter", "'001-003'"}},
        {"n[09-9]", {"'09-9'", "shorter than the zero-padded lower bound"}},
        {"n[001-10]", {"'001-10'", "shorter than the zero-padded lower bound '001'"}},
        {"n[00-0]", {"'00-0'", "shorter"}},
        {"n[1-01]", {"'1-01'", "upper bound '01' is zero-padded but the lower bound '1' is not"}},
        {"n[0-05]", {"'0-05'", "zero-padded but the lower bound '0' is not"}},
        {"n[01-001]", {"'01-001'", "zero-padded to 3 digits but the lower bound '01' to 2"}},
        {"n[1-3,01-1]", {"'01-1'", "shorter"}},
        {"a,n[01-1]", {"'01-1'"}},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("expression '" << c.expr << "'") {
            auto names = expand_hostlist(c.expr);
            BOOST_TEST_REQUIRE(!names.ok(), "accepted as " << (names.ok() ? names->front() : ""));
            BOOST_TEST((names.error().code == Errc::bad_input));
            BOOST_TEST(names.error().message.find("hostlist " + gpuslots::in_quotes(c.expr)) == 0u,
                       names.error().message);
            for (const auto& part : c.message_contains) {
                BOOST_TEST(names.error().message.find(part) != std::string::npos,
                           "message '" << names.error().message << "' lacks '" << part << "'");
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

// What an expression may produce is bounded in count and in length, so that no expression in a
// config of bounded size can take more than a bounded amount of memory and time to expand.
BOOST_AUTO_TEST_SUITE(limits)

// The documented longest node name (README, Configuration; a DNS name has at most 253).
constexpr std::size_t kLongestName = 255;

BOOST_AUTO_TEST_CASE(names_up_to_the_longest_are_accepted) {
    const std::string longest(kLongestName, 'n');
    for (const std::string& expr : {longest, longest.substr(2) + "[10-99]",
                                    "[0-9]" + longest.substr(1), longest.substr(3) + "[1-2]x[3]"}) {
        BOOST_TEST_CONTEXT("expression of " << expr.size() << " characters") {
            auto names = expand_hostlist(expr);
            BOOST_TEST_REQUIRE(names.ok(), (names.ok() ? "" : names.error().message));
            for (const auto& name : *names)
                BOOST_TEST(name.size() <= kLongestName);
            BOOST_TEST(names->front().size() == kLongestName);
        }
    }
}

// "[0-999999]" followed by 100,000 letters stood for a million names of 100,000 characters
// each: 10^11 characters built one at a time. Each case runs in a bounded child process.
BOOST_AUTO_TEST_CASE(longer_names_are_refused_before_they_are_built) {
    const std::string longer(kLongestName + 1, 'n');
    struct Case {
        std::string expr;
        std::string says;
    };
    const std::vector<Case> cases = {
        {longer, "'" + longer.substr(0, 20)},
        {longer.substr(3) + "[100-999]", "(262 bytes)"},
        {"[0-9]" + longer.substr(1), "[0-9]"},
        {"a,b," + longer, "a,b,"},
        {"n[0-999999]" + std::string(100'000, 'x'), "n[0-999999]"},
        {std::string(100'000, 'x') + "[0-999999]", "xxxx"},
        {"r[0-999]" + std::string(300, 'y') + "[0-999]", "r[0-999]"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("expression " << c.expr.substr(0, 40) << "... of " << c.expr.size()
                                         << " characters") {
            const auto r = gpuslots::test::run_bounded([&] {
                auto names = expand_hostlist(c.expr);
                if (names.ok()) return std::string("ok");
                return (names.error().code == Errc::bad_input ? "error: " : "wrong class: ") +
                       names.error().message;
            });
            BOOST_TEST_REQUIRE(r.status == 0, "child ended with " << r.status << " (142: timed "
                                                                  << "out): " << r.output);
            BOOST_TEST(r.output.rfind("error: hostlist ", 0) == 0u, r.output.substr(0, 200));
            BOOST_TEST(r.output.find("a name longer than 255 characters") != std::string::npos,
                       r.output.substr(0, 300));
            BOOST_TEST(r.output.find(c.says) != std::string::npos, r.output.substr(0, 300));
            // The message quotes a long expression shortened, so that it stays readable.
            BOOST_TEST(r.output.size() < 400u, r.output.substr(0, 300));
        }
    }
}

BOOST_AUTO_TEST_CASE(numbers_of_more_than_18_digits_say_so) {
    for (const std::string expr : {"n[1234567890123456789]", "n[1-0000000000000000001]"}) {
        BOOST_TEST_CONTEXT(expr) {
            auto names = expand_hostlist(expr);
            BOOST_TEST_REQUIRE(!names.ok());
            BOOST_TEST(names.error().message.find("more than 18 digits") != std::string::npos,
                       names.error().message);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
