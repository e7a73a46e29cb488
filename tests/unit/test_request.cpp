// What a requester types: slot counts ("4", never "4x" or "-1") and task ids. Errors are
// Errc::bad_input with a one-line message that names the value, the problem and the range.
#define BOOST_TEST_MODULE request
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <vector>

#include "gpuslots/request.hpp"

using gpuslots::Errc;
using gpuslots::kMaxTaskIdLength;
using gpuslots::parse_count;
using gpuslots::Range;
using gpuslots::validate_task_id;

BOOST_AUTO_TEST_SUITE(counts)

BOOST_AUTO_TEST_CASE(parse_count_cases) {
    enum Outcome { ok, not_a_number, out_of_range };
    struct Case {
        std::string text;
        Range allowed;
        Outcome outcome;
        int value;  // when ok
    };
    const std::vector<Case> cases = {
        {"4", {1, 8}, ok, 4},
        {"1", {1, 8}, ok, 1},
        {"8", {1, 8}, ok, 8},
        {"0", {0, 32}, ok, 0},
        {"007", {1, 8}, ok, 7},
        {"0", {1, 8}, out_of_range, 0},
        {"9", {1, 8}, out_of_range, 0},
        {"2147483647", {1, 8}, out_of_range, 0},
        {"2147483648", {1, 8}, out_of_range, 0},
        {"99999999999999999999999999999999999999", {1, 8}, out_of_range, 0},
        {"abc", {1, 8}, not_a_number, 0},
        {"", {1, 8}, not_a_number, 0},
        {"-1", {0, 8}, not_a_number, 0},
        {"-0", {0, 8}, not_a_number, 0},
        {"+1", {1, 8}, not_a_number, 0},
        {"4x", {1, 8}, not_a_number, 0},
        {"x4", {1, 8}, not_a_number, 0},
        {" 4", {1, 8}, not_a_number, 0},
        {"4 ", {1, 8}, not_a_number, 0},
        {"4.0", {1, 8}, not_a_number, 0},
        {"1e2", {1, 8}, not_a_number, 0},
        {"0x4", {1, 8}, not_a_number, 0},
        {"٤", {1, 8}, not_a_number, 0},  // an Arabic-Indic digit four
        {std::string("4\0", 2), {1, 8}, not_a_number, 0},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("text '" << c.text << "', allowed " << c.allowed.min << ".."
                                    << c.allowed.max) {
            auto r = parse_count(c.text, "GPUS", c.allowed);
            if (c.outcome == ok) {
                BOOST_TEST_REQUIRE(r.ok(), (r.ok() ? "" : r.error().message));
                BOOST_TEST(*r == c.value);
                continue;
            }
            BOOST_TEST_REQUIRE(!r.ok(), "accepted as " << (r.ok() ? *r : 0));
            BOOST_TEST((r.error().code == Errc::bad_input));
            const std::string& m = r.error().message;
            BOOST_TEST(m.rfind("GPUS: ", 0) == 0, m);
            const std::string range =
                "allowed: " + std::to_string(c.allowed.min) + ".." + std::to_string(c.allowed.max);
            BOOST_TEST(m.find(range) != std::string::npos, m);
            BOOST_TEST(m.find(c.outcome == out_of_range ? "out of range" : "not a whole number") !=
                           std::string::npos,
                       m);
        }
    }
}

BOOST_AUTO_TEST_CASE(message_uses_the_given_name) {
    auto r = parse_count("abc", "--gpu-slots", Range{1, 8});
    BOOST_TEST_REQUIRE(!r.ok());
    BOOST_TEST(r.error().message == "--gpu-slots: 'abc' is not a whole number; allowed: 1..8");
}

// A message is printed as one line (stderr, syslog): what the user typed must not break it.
BOOST_AUTO_TEST_CASE(messages_stay_on_one_line) {
    for (const std::string text : {"4\n", "\n4", "4\r\n", "a\nb"}) {
        BOOST_TEST_CONTEXT("text with a line break") {
            auto r = parse_count(text, "GPUS", Range{1, 8});
            BOOST_TEST_REQUIRE(!r.ok());
            BOOST_TEST(r.error().message.find('\n') == std::string::npos, r.error().message);
            BOOST_TEST(r.error().message.find('\r') == std::string::npos, r.error().message);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(task_ids)

BOOST_AUTO_TEST_CASE(validate_task_id_cases) {
    struct Case {
        std::string name;
        std::string id;
        std::optional<std::string> problem;  // nullopt: valid; else a part of the message
    };
    const std::vector<Case> cases = {
        {"typical", "test_001", std::nullopt},
        {"every allowed punctuation", "a.b_c:d@e+f-g", std::nullopt},
        {"digits only", "12345", std::nullopt},
        {"one character", "x", std::nullopt},
        {"dash inside and at the end", "x-", std::nullopt},
        {"leading dot", ".x", std::nullopt},
        {"longest allowed", std::string(kMaxTaskIdLength, 'a'), std::nullopt},
        {"empty", "", "1..128 characters"},
        {"one too long", std::string(kMaxTaskIdLength + 1, 'a'), "1..128 characters"},
        {"far too long", std::string(10000, 'a'), "1..128 characters"},
        {"leading dash", "-x", "must not start with '-'"},
        {"only a dash", "-", "must not start with '-'"},
        {"space", "a b", "' ' is not allowed"},
        {"leading space", " a", "' ' is not allowed"},
        {"slash", "a/b", "'/' is not allowed"},
        {"path traversal", "../x", "'/' is not allowed"},
        {"comma", "a,b", "',' is not allowed"},
        {"quote", "a\"b", "is not allowed"},
        {"backslash", "a\\b", "is not allowed"},
        {"semicolon", "a;rm", "';' is not allowed"},
        {"unicode", "caf\xc3\xa9", "is not allowed"},
        {"nul byte", std::string("a\0b", 3), "is not allowed"},
        {"tab", "a\tb", "is not allowed"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            auto r = validate_task_id(c.id);
            if (!c.problem) {
                BOOST_TEST(r.ok(), (r.ok() ? "" : r.error().message));
                continue;
            }
            BOOST_TEST_REQUIRE(!r.ok());
            BOOST_TEST((r.error().code == Errc::bad_input));
            BOOST_TEST(r.error().message.find(*c.problem) != std::string::npos, r.error().message);
        }
    }
}

BOOST_AUTO_TEST_CASE(too_long_message_gives_the_length) {
    auto r = validate_task_id(std::string(200, 'a'));
    BOOST_TEST_REQUIRE(!r.ok());
    BOOST_TEST(r.error().message.find("got 200") != std::string::npos, r.error().message);
}

// The message quotes the id; a line break in the id must not split the message.
BOOST_AUTO_TEST_CASE(messages_stay_on_one_line) {
    for (const std::string id : {"a\nb", "a\rb", "job\n"}) {
        BOOST_TEST_CONTEXT("id with a line break") {
            auto r = validate_task_id(id);
            BOOST_TEST_REQUIRE(!r.ok());
            BOOST_TEST(r.error().message.find('\n') == std::string::npos, r.error().message);
            BOOST_TEST(r.error().message.find('\r') == std::string::npos, r.error().message);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(durations)

BOOST_AUTO_TEST_CASE(parse_duration_cases) {
    using gpuslots::parse_duration;
    struct Case {
        std::string text;
        long long seconds;    // 0: refused
        const char* message;  // a phrase of the refusal
    };
    const std::vector<Case> cases = {
        {"2s", 2, ""},
        {"30m", 1800, ""},
        {"2h", 7200, ""},
        {"1d", 86400, ""},
        {"1h30m", 5400, ""},
        {"1d2h3m4s", 93784, ""},
        {"90s", 90, ""},
        {"366d", 366 * 86400, ""},
        {"", 0, "is not a duration; write it as 30s, 45m, 2h, 1d or 1h30m"},
        {"30", 0, "is not a duration"},  // no unit
        {"2x", 0, "is not a duration"},
        {"-1s", 0, "is not a duration"},
        {"+1s", 0, "is not a duration"},
        {" 1s", 0, "is not a duration"},
        {"1s ", 0, "is not a duration"},
        {"1 s", 0, "is not a duration"},
        {"1.5h", 0, "is not a duration"},
        {"1H", 0, "is not a duration"},
        {"30m1h", 0, "is not a duration"},  // largest unit first
        {"1h1h", 0, "is not a duration"},   // each unit once
        {"h", 0, "is not a duration"},
        {"0s", 0, "is no time at all; at least 1s"},
        {"0h0m", 0, "is no time at all"},
        {"367d", 0, "is too long; at most 366d"},
        {"99999999999999999999s", 0, "is too long"},
        {"9223372036854775807d", 0, "is too long"},
        {"365d24h1s", 0, "is too long"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("'" << c.text << "'") {
            auto d = parse_duration(c.text, "--for");
            if (c.seconds > 0) {
                BOOST_TEST_REQUIRE(d.ok(), (d.ok() ? "" : d.error().message));
                BOOST_TEST(d->count() == c.seconds);
                BOOST_TEST(gpuslots::parse_duration(gpuslots::duration_text(*d), "x")->count() ==
                           c.seconds);
            } else {
                BOOST_TEST_REQUIRE(!d.ok());
                BOOST_TEST((d.error().code == Errc::bad_input));
                BOOST_TEST(d.error().message.rfind("--for: ", 0) == 0U, d.error().message);
                BOOST_TEST(d.error().message.find(c.message) != std::string::npos,
                           d.error().message);
                BOOST_TEST(d.error().message.find('\n') == std::string::npos);
            }
        }
    }
    BOOST_TEST(gpuslots::duration_text(std::chrono::seconds(5400)) == "1h30m");
    BOOST_TEST(gpuslots::duration_text(std::chrono::seconds(2)) == "2s");
}

BOOST_AUTO_TEST_SUITE_END()
